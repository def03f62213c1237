"""/flavors: list, detail, show; admin create and delete."""
from __future__ import annotations

from compute_core import exception, regex_filter
from compute_core.api import policy, query, schemas, views
from compute_core.api.faults import APIError
from compute_core.api.microversion import SchemaField, VersionedSchemas, VersionRange, versioned
from compute_core.apispec import keyed, operation
from compute_core.db import api_db, flavor_extras

RULES = (
    policy.rule("os_compute_api:os-flavor-manage:create", policy.ADMIN, "Create a flavor",
                [("POST", "/flavors")]),
    policy.rule("os_compute_api:os-flavor-manage:delete", policy.ADMIN, "Delete a flavor",
                [("DELETE", "/flavors/{flavor_id}")]),
    policy.rule("os_compute_api:os-flavor-manage:update", policy.ADMIN,
                "Change a flavor's description", [("PUT", "/flavors/{flavor_id}")]),
)

# ----------------------------------------------------------------- schemas

# Flavor sizes: an integer or a string of digits. "minimum" and "maximum"
# do not apply to the string form: the handler checks the range of both.
FLAVOR_POSITIVE = {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1,
                   "maximum": schemas.SQL_INT_MAX}
FLAVOR_NON_NEGATIVE = dict(FLAVOR_POSITIVE, minimum=0)

_CREATE_BASE = {
    "type": "object",
    "properties": {
        "flavor": {
            "type": "object",
            "properties": {
                "name": schemas.NAME,
                # a string or a number (Nova keeps its text form)
                "id": {"type": ["string", "number", "null"], "minLength": 1, "maxLength": 255,
                       "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
                "ram": FLAVOR_POSITIVE,
                "vcpus": FLAVOR_POSITIVE,
                "disk": FLAVOR_NON_NEGATIVE,
                "OS-FLV-EXT-DATA:ephemeral": FLAVOR_NON_NEGATIVE,
                "swap": FLAVOR_NON_NEGATIVE,
                "os-flavor-access:is_public": {"type": ["boolean", "string"]},
            },
            "required": ["name", "ram", "vcpus", "disk"],
            "additionalProperties": False,
        },
    },
    "required": ["flavor"],
    "additionalProperties": False,
}
# The body of POST /flavors by version
CREATE = VersionedSchemas.of_fields(_CREATE_BASE, "flavor", (
    # a positive float a single-precision SQL column can hold; gone at 2.102
    SchemaField("rxtx_factor", {"type": ["number", "string"],
                                "pattern": r"^[0-9]+(\.[0-9]+)?$",
                                "exclusiveMinimum": 0, "maximum": schemas.SQL_FLOAT_MAX},
                until="2.101"),
    SchemaField("description", schemas.DESCRIPTION, since="2.55"),
))

# ------------------------------------------------------------------- views

# The fields of a flavor by version: in both views, and in the detailed one
FIELDS = views.ViewFields(
    ("description", "2.55", None, lambda flavor: flavor.get("description")),
)
DETAIL_FIELDS = views.ViewFields(
    # 0 MB of swap shows as "" until 2.74
    ("swap", None, "2.74", lambda flavor: flavor["swap"] or ""),
    ("swap", "2.75", None, lambda flavor: flavor["swap"]),
    ("extra_specs", "2.61", None, lambda flavor: dict(flavor.get("extra_specs") or {})),
    # gone at 2.102
    ("OS-FLV-DISABLED:disabled", None, "2.101", lambda flavor: bool(flavor.get("disabled"))),
    ("rxtx_factor", None, "2.101",
     lambda flavor: views.finite(flavor.get("rxtx_factor", 1.0), 1.0)),
)


def flavor_view(req, version, flavor, detail=True):
    out = FIELDS.add({"id": flavor["flavorid"], "name": flavor["name"],
                      "links": views.links(req, "flavors", flavor["flavorid"])},
                     version, flavor)
    if not detail:
        return out
    out.update({
        "ram": flavor["memory_mb"], "disk": flavor["root_gb"], "vcpus": flavor["vcpus"],
        "OS-FLV-EXT-DATA:ephemeral": flavor["ephemeral_gb"],
        "os-flavor-access:is_public": bool(flavor["is_public"]),
    })
    return DETAIL_FIELDS.add(out, version, flavor)


# ---------------------------------------------------------------- handlers

SORT_KEYS = ("flavorid", "name", "memory_mb", "vcpus", "root_gb", "ephemeral_gb", "swap",
             "rxtx_factor", "id", "created_at", "description", "is_public")
SORT_KEYS_2102 = tuple(k for k in SORT_KEYS if k != "rxtx_factor")
# From 2.75 a parameter the listing does not know is a 400; from 2.102 it
# takes ``name`` (a regular expression) and no longer sorts by rxtx_factor.
CLOSED_QUERY = VersionRange("2.75")
NAME_FILTER = VersionRange("2.102")


def list_query(version):
    keys = SORT_KEYS_2102 if version in NAME_FILTER else SORT_KEYS
    params = {"minRam": {"type": "integer"}, "minDisk": {"type": "integer"},
              "is_public": {"type": "string"},
              "sort_key": {"type": "string", "enum": list(keys)},
              "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
              "limit": {"type": "integer", "minimum": 0}, "marker": {"type": "string"}}
    if version in NAME_FILTER or version not in CLOSED_QUERY:
        # below 2.75 the listing takes any parameter and filters by name
        params["name"] = {"type": "string"}
    return params


def _list_args(call):
    q = call.req.GET
    # Below 2.75 any parameter is taken and ``name`` filters as at 2.102.
    query.refuse_unknown(call, list_query(call.version), CLOSED_QUERY)
    kwargs = {"project_id": call.ctx.project_id, "is_admin": call.is_admin}
    for name, key in (("minRam", "min_ram"), ("minDisk", "min_disk")):
        if name in q:
            try:
                value = int(q[name])
            except ValueError:
                raise APIError(400, f"Invalid {name} filter [{q[name]}]") from None
            # Sizes are INT columns: a bound beyond them (which the database
            # driver cannot even send) means the same as the column's edge.
            kwargs[key] = max(min(value, schemas.SQL_INT_MAX + 1), -schemas.SQL_INT_MAX - 1)
    if "is_public" in q:
        v = q["is_public"].lower()
        if v == "none":
            kwargs["is_public"] = None if call.is_admin else True
        elif v in ("true", "t", "1", "yes", "y", "on"):
            kwargs["is_public"] = True
        elif v in ("false", "f", "0", "no", "n", "off"):
            kwargs["is_public"] = False
        else:
            raise APIError(400, f"Invalid is_public filter [{q['is_public']}]")
    sort_key = q.get("sort_key", "flavorid")
    sort_dir = q.get("sort_dir", "asc")
    if sort_key not in (SORT_KEYS_2102 if call.version in NAME_FILTER else SORT_KEYS):
        raise APIError(400, f"Invalid input for query parameters sort_key. Value: {sort_key}.")
    if sort_dir not in ("asc", "desc"):
        raise APIError(400, f"Invalid input for query parameters sort_dir. Value: {sort_dir}.")
    return kwargs, sort_key, sort_dir


def _list(call, detail):
    kwargs, sort_key, sort_dir = _list_args(call)
    flavors = api_db.list_flavors(call.services.api_db, **kwargs)
    if "name" in call.req.GET:
        pattern = call.req.GET["name"]
        try:
            flavors = [f for f in flavors if regex_filter.matches(pattern, f["name"])]
        except exception.Invalid as exc:
            raise APIError(400, exc.message) from None
    flavors.sort(key=lambda f: (f[sort_key] is None, f[sort_key], f["flavorid"]),
                 reverse=sort_dir == "desc")
    marker = call.req.GET.get("marker")
    if marker:
        idx = next((i for i, f in enumerate(flavors) if f["flavorid"] == marker), None)
        if idx is None:
            raise APIError(400, f"marker [{marker}] not found")
        flavors = flavors[idx + 1:]
    limit = call.req.GET.get("limit")
    max_limit = call.services.conf.api.max_limit
    try:
        limit = min(int(limit), max_limit) if limit is not None else max_limit
        if limit < 0:
            raise ValueError
    except ValueError:
        raise APIError(400, f"Invalid input for query parameters limit. Value: {limit}.") from None
    page = flavors[:limit]
    body = {"flavors": [flavor_view(call.req, call.version, f, detail) for f in page]}
    if page and len(page) == limit and len(flavors) > limit:
        body["flavors_links"] = [{"rel": "next", "href":
                                  f"{call.req.application_url}/flavors{'/detail' if detail else ''}"
                                  f"?limit={limit}&marker={page[-1]['flavorid']}"}]
    return 200, body


@operation("listFlavors", "List flavors", ok={200: keyed("flavors")}, query=list_query)
def index(call):
    return _list(call, False)


@operation("listFlavorsDetailed", "List flavors with details", ok={200: keyed("flavors")},
           query=list_query)
def detail(call):
    return _list(call, True)


@operation("showFlavor", "Show a flavor", ok={200: keyed("flavor")}, errors=(404,))
def show(call, flavor_id):
    try:
        flavor = call.services.flavor(call.ctx, flavor_id)
    except exception.FlavorNotFound:
        raise APIError(404, f"Flavor {flavor_id} could not be found.") from None
    return 200, {"flavor": flavor_view(call.req, call.version, flavor)}


@operation("createFlavor", "Create a flavor", ok={200: keyed("flavor")}, errors=(403, 409),
           body=CREATE, admin=True,
           links={"GetFlavor": ("showFlavor", {"flavor_id": "$response.body#/flavor/id"}),
                  "DeleteFlavor": ("deleteFlavor", {"flavor_id": "$response.body#/flavor/id"})})
def create(call):
    call.authorize("os_compute_api:os-flavor-manage:create")
    body = call.json()
    schemas.validate(body, CREATE.at(call.version))
    f = body["flavor"]
    is_public = f.get("os-flavor-access:is_public", True)
    if isinstance(is_public, str):
        if is_public.lower() not in ("true", "false", "1", "0"):
            raise APIError(400, f"Invalid input for field/attribute os-flavor-access:is_public. "
                                f"Value: {is_public}.")
        is_public = is_public.lower() in ("true", "1")
    sizes = {column: _size(f, field, minimum) for column, field, minimum in _SIZES}
    rxtx_factor = float(f.get("rxtx_factor", 1.0))
    if not 0 < rxtx_factor <= schemas.SQL_FLOAT_MAX:  # a string of 40 digits gets here
        raise APIError(400, f"Invalid input received: 'rxtx_factor' argument must be a "
                            f"float between 0 and {schemas.SQL_FLOAT_MAX:g}")
    try:
        flavor = api_db.create_flavor(
            call.services.api_db, name=f["name"].strip(), flavorid=_flavor_id(f.get("id")),
            rxtx_factor=rxtx_factor, is_public=is_public, description=f.get("description"),
            **sizes)
    except exception.Conflict as exc:
        raise APIError(409, exc.message) from None
    return 200, {"flavor": flavor_view(call.req, call.version, flavor)}


def _flavor_id(value):
    """The id given at creation (None: a generated UUID) as text; a number
    keeps its text form (5 is "5")."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


# (column, request field, minimum) of a flavor's sizes
_SIZES = (("memory_mb", "ram", 1), ("vcpus", "vcpus", 1), ("root_gb", "disk", 0),
          ("ephemeral_gb", "OS-FLV-EXT-DATA:ephemeral", 0), ("swap", "swap", 0))


def _size(flavor, field, minimum):
    """The integer *field* (absent: 0) within [minimum, SQL_INT_MAX], as Nova
    checks it after its schema (whose bounds miss the string form)."""
    value = int(flavor.get(field, 0))
    if value < minimum:
        raise APIError(400, f"Invalid input received: {field} must be >= {minimum}")
    if value > schemas.SQL_INT_MAX:
        raise APIError(400, f"Invalid input received: {field} must be <= "
                            f"{schemas.SQL_INT_MAX}")
    return value


UPDATE = {
    "type": "object",
    "properties": {"flavor": {"type": "object",
                              "properties": {"description": schemas.DESCRIPTION},
                              "required": ["description"], "additionalProperties": False}},
    "required": ["flavor"], "additionalProperties": False,
}


@versioned("2.55")
@operation("updateFlavor", "Change a flavor's description (from 2.55)",
           ok={200: keyed("flavor")}, errors=(400, 403, 404), body=UPDATE, admin=True)
def update(call, flavor_id):
    call.authorize("os_compute_api:os-flavor-manage:update")
    body = call.json()
    schemas.validate(body, UPDATE)
    try:
        flavor = flavor_extras.set_description(call.services.api_db, flavor_id,
                                               body["flavor"]["description"])
    except exception.FlavorNotFound:
        raise APIError(404, f"Flavor {flavor_id} could not be found.") from None
    return 200, {"flavor": flavor_view(call.req, call.version, flavor)}


@operation("deleteFlavor", "Delete a flavor", ok={202: None}, errors=(403, 404), admin=True)
def delete(call, flavor_id):
    call.authorize("os_compute_api:os-flavor-manage:delete")
    try:
        api_db.delete_flavor(call.services.api_db, flavor_id)
    except exception.FlavorNotFound:
        raise APIError(404, f"Flavor {flavor_id} could not be found.") from None
    return 202, None


ROUTES = {
    "/flavors": {"GET": index, "POST": create},
    "/flavors/detail": {"GET": detail},
    "/flavors/{flavor_id}": {"GET": show, "PUT": update, "DELETE": delete},
}
