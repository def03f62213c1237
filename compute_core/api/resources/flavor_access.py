"""Private flavors: /flavors/{flavor_id}/os-flavor-access (the projects a
flavor is shared with) and the flavor actions addTenantAccess and
removeTenantAccess (admin)."""
from __future__ import annotations

from compute_core import exception
from compute_core.api import policy, schemas
from compute_core.api.faults import APIError
from compute_core.apispec import keyed, operation
from compute_core.db import flavor_extras

_ROOT = "os_compute_api:os-flavor-access"
RULES = (
    policy.rule(_ROOT, policy.ADMIN, "List the projects a private flavor is shared with",
                [("GET", "/flavors/{flavor_id}/os-flavor-access")]),
    policy.rule(_ROOT + ":add_tenant_access", policy.ADMIN, "Share a private flavor",
                [("POST", "/flavors/{flavor_id}/action (addTenantAccess)")]),
    policy.rule(_ROOT + ":remove_tenant_access", policy.ADMIN,
                "Stop sharing a private flavor",
                [("POST", "/flavors/{flavor_id}/action (removeTenantAccess)")]),
)

_TENANT = {"type": "object",
           "properties": {"tenant": {"type": "string", "minLength": 1, "maxLength": 255,
                                     "pattern": r"^[a-zA-Z0-9-_]*$"}},
           "required": ["tenant"], "additionalProperties": False}
ACTIONS = {key: {"type": "object", "properties": {key: _TENANT}, "required": [key],
                 "additionalProperties": False}
           for key in ("addTenantAccess", "removeTenantAccess")}


def _view(flavor_id, projects):
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}


def _db_call(call, flavor_id, fn, *args):
    try:
        return fn(call.services.api_db, flavor_id, *args)
    except exception.FlavorNotFound:
        raise APIError(404, f"Flavor {flavor_id} could not be found.") from None
    except (flavor_extras.PublicFlavorAccessList, flavor_extras.FlavorAccessNotFound) as exc:
        raise APIError(404, exc.message) from None
    except (flavor_extras.FlavorAccessExists, flavor_extras.PublicFlavorAccess) as exc:
        raise APIError(409, exc.message) from None


@operation("listFlavorAccess", "List the projects a private flavor is shared with",
           ok={200: keyed("flavor_access")}, errors=(403, 404), admin=True)
def index(call, flavor_id):
    call.authorize(_ROOT)
    return 200, _view(flavor_id, _db_call(call, flavor_id, flavor_extras.access_list))


@operation("flavorAction", "Share or stop sharing a private flavor with a project",
           ok={200: keyed("flavor_access")}, errors=(400, 403, 404, 409), admin=True,
           body={"oneOf": list(ACTIONS.values())})
def action(call, flavor_id):
    body = call.json()
    key = next((k for k in body if k in ACTIONS), None)
    if key is None:
        raise APIError(400, f"There is no such action: {next(iter(body), '')}")
    rule = "add_tenant_access" if key == "addTenantAccess" else "remove_tenant_access"
    call.authorize(f"{_ROOT}:{rule}")
    schemas.validate(body, ACTIONS[key])
    fn = flavor_extras.add_access if key == "addTenantAccess" else flavor_extras.remove_access
    return 200, _view(flavor_id, _db_call(call, flavor_id, fn, body[key]["tenant"]))


ROUTES = {
    "/flavors/{flavor_id}/os-flavor-access": {"GET": index},
    "/flavors/{flavor_id}/action": {"POST": action},
}
