"""/flavors/{flavor_id}/os-extra_specs: the extra specs of a flavor (read
by anyone who sees the flavor; written by admins). The scheduler's
capability and aggregate filters and the drivers read them."""
from __future__ import annotations

from compute_core import exception
from compute_core.api import policy, schemas
from compute_core.api.faults import APIError
from compute_core.apispec import keyed, operation
from compute_core.db import flavor_extras

_ROOT = "os_compute_api:os-flavor-extra-specs:"
_SPECS = "/flavors/{flavor_id}/os-extra_specs"
_SPEC = _SPECS + "/{key}"
RULES = (
    policy.rule(_ROOT + "index", policy.PROJECT_READER_OR_ADMIN, "List a flavor's extra specs",
                [("GET", _SPECS)]),
    policy.rule(_ROOT + "show", policy.PROJECT_READER_OR_ADMIN, "Show one extra spec of a flavor",
                [("GET", _SPEC)]),
    policy.rule(_ROOT + "create", policy.ADMIN, "Create or update extra specs of a flavor",
                [("POST", _SPECS)]),
    policy.rule(_ROOT + "update", policy.ADMIN, "Update one extra spec of a flavor",
                [("PUT", _SPEC)]),
    policy.rule(_ROOT + "delete", policy.ADMIN, "Delete one extra spec of a flavor",
                [("DELETE", _SPEC)]),
)

# Keys as metadata keys; values strings (255 at most) or numbers (kept as text).
SPECS = {"type": "object",
         "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {
             "type": ["string", "number"], "maxLength": 255}},
         "additionalProperties": False}
CREATE = {"type": "object", "properties": {"extra_specs": SPECS},
          "required": ["extra_specs"], "additionalProperties": False}
UPDATE = dict(SPECS, minProperties=1, maxProperties=1)


def _text(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _flavor(call, flavor_id):
    """The flavor as the caller may see it (404 otherwise)."""
    try:
        return call.services.flavor(call.ctx, flavor_id)
    except exception.FlavorNotFound:
        raise APIError(404, f"Flavor {flavor_id} could not be found.") from None


@operation("listFlavorExtraSpecs", "List a flavor's extra specs",
           ok={200: keyed("extra_specs")}, errors=(404,))
def index(call, flavor_id):
    call.authorize(_ROOT + "index")
    return 200, {"extra_specs": dict(_flavor(call, flavor_id)["extra_specs"])}


@operation("createFlavorExtraSpecs", "Create or update extra specs of a flavor",
           ok={200: keyed("extra_specs")}, errors=(400, 403, 404), body=CREATE, admin=True)
def create(call, flavor_id):
    call.authorize(_ROOT + "create")
    body = call.json()
    schemas.validate(body, CREATE)
    specs = {k: _text(v) for k, v in body["extra_specs"].items()}
    try:
        flavor_extras.set_extra_specs(call.services.api_db, flavor_id, specs)
    except exception.FlavorNotFound:
        raise APIError(404, f"Flavor {flavor_id} could not be found.") from None
    return 200, {"extra_specs": specs}


@operation("showFlavorExtraSpec", "Show one extra spec of a flavor", ok={200: {}},
           errors=(404,))
def show(call, flavor_id, key):
    call.authorize(_ROOT + "show")
    specs = _flavor(call, flavor_id)["extra_specs"]
    if key not in specs:
        raise APIError(404, f"Flavor {flavor_id} has no extra specs with key {key}.")
    return 200, {key: specs[key]}


@operation("updateFlavorExtraSpec", "Update one extra spec of a flavor", ok={200: {}},
           errors=(400, 403, 404), body=UPDATE, admin=True)
def update(call, flavor_id, key):
    call.authorize(_ROOT + "update")
    body = call.json()
    schemas.validate(body, UPDATE)
    if key not in body:
        raise APIError(400, "Request body and URI mismatch")
    value = _text(body[key])
    try:
        flavor_extras.set_extra_specs(call.services.api_db, flavor_id, {key: value})
    except exception.FlavorNotFound:
        raise APIError(404, f"Flavor {flavor_id} could not be found.") from None
    return 200, {key: value}


@operation("deleteFlavorExtraSpec", "Delete one extra spec of a flavor", ok={200: None},
           errors=(403, 404), admin=True)
def delete(call, flavor_id, key):
    call.authorize(_ROOT + "delete")
    try:
        flavor_extras.delete_extra_spec(call.services.api_db, flavor_id, key)
    except exception.FlavorNotFound:
        raise APIError(404, f"Flavor {flavor_id} could not be found.") from None
    except flavor_extras.FlavorExtraSpecNotFound as exc:
        raise APIError(404, exc.message) from None
    return 200, None


ROUTES = {
    _SPECS: {"GET": index, "POST": create},
    _SPEC: {"GET": show, "PUT": update, "DELETE": delete},
}
