"""/os-aggregates: host aggregates (admin): create, list, show, update,
delete; the actions add_host, remove_host and set_metadata.

An aggregate's ``availability_zone`` (a metadata key) puts its hosts in that
zone; the scheduler's aggregate and zone filters read the aggregates of each
host (compute_core.db.aggregates). ``uuid`` is shown from 2.41.
"""
from __future__ import annotations

from compute_core import exception
from compute_core.api import hosts, policy, schemas, views
from compute_core.api.faults import APIError
from compute_core.api.views import ViewFields
from compute_core.api.microversion import versioned
from compute_core.apispec import keyed, operation
from compute_core.db import aggregates as aggregates_db

_ROOT = "os_compute_api:os-aggregates:"
RULES = tuple(
    policy.rule(_ROOT + name, policy.ADMIN, summary, ops)
    for name, summary, ops in (
        ("index", "List host aggregates", [("GET", "/os-aggregates")]),
        ("create", "Create a host aggregate", [("POST", "/os-aggregates")]),
        ("show", "Show a host aggregate", [("GET", "/os-aggregates/{aggregate_id}")]),
        ("update", "Update a host aggregate", [("PUT", "/os-aggregates/{aggregate_id}")]),
        ("delete", "Delete a host aggregate", [("DELETE", "/os-aggregates/{aggregate_id}")]),
        ("add_host", "Add a host to an aggregate",
         [("POST", "/os-aggregates/{aggregate_id}/action (add_host)")]),
        ("remove_host", "Remove a host from an aggregate",
         [("POST", "/os-aggregates/{aggregate_id}/action (remove_host)")]),
        ("set_metadata", "Set an aggregate's metadata",
         [("POST", "/os-aggregates/{aggregate_id}/action (set_metadata)")]),
    )) + (
    policy.rule("compute:aggregates:images", policy.ADMIN,
                "Cache images on an aggregate's hosts (from 2.81)",
                [("POST", "/os-aggregates/{aggregate_id}/images")]),
)

# ----------------------------------------------------------------- schemas

# A zone name: no colon (it separates the zone from a forced host).
AZ_NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[^:]*$"}
_AZ = {"oneOf": [AZ_NAME, {"type": "null"}]}
CREATE = {
    "type": "object",
    "properties": {"aggregate": {
        "type": "object",
        "properties": {"name": schemas.NAME, "availability_zone": _AZ},
        "required": ["name"], "additionalProperties": False}},
    "required": ["aggregate"], "additionalProperties": False,
}
UPDATE = {
    "type": "object",
    "properties": {"aggregate": {
        "type": "object",
        "properties": {"name": schemas.NAME, "availability_zone": _AZ},
        "additionalProperties": False,
        "anyOf": [{"required": ["name"]}, {"required": ["availability_zone"]}]}},
    "required": ["aggregate"], "additionalProperties": False,
}
_HOST = {"type": "string", "minLength": 1, "maxLength": 255,
         "pattern": r"^[a-zA-Z0-9-._]*$"}


def _host_action(key):
    return {"type": "object",
            "properties": {key: {"type": "object", "properties": {"host": _HOST},
                                 "required": ["host"], "additionalProperties": False}},
            "required": [key], "additionalProperties": False}


_METADATA_WITH_NULL = {
    "type": "object",
    "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {
        "type": ["string", "null"], "maxLength": 255}},
    "additionalProperties": False,
}
ACTIONS = {
    "add_host": _host_action("add_host"),
    "remove_host": _host_action("remove_host"),
    "set_metadata": {
        "type": "object",
        "properties": {"set_metadata": {
            "type": "object", "properties": {"metadata": _METADATA_WITH_NULL},
            "required": ["metadata"], "additionalProperties": False}},
        "required": ["set_metadata"], "additionalProperties": False},
}
ACTION_BODY = {"oneOf": list(ACTIONS.values())}

# ------------------------------------------------------------------- views

FIELDS = ViewFields(("uuid", "2.41", None, lambda agg: agg["uuid"]))


def aggregate_view(version, agg, full=True) -> dict:
    out = {"id": agg["id"], "name": agg["name"],
           "availability_zone": agg.get("availability_zone"),
           "created_at": views.iso_usec(agg["created_at"]),
           "updated_at": views.iso_usec(agg.get("updated_at")),
           "deleted": False, "deleted_at": None}
    if full:
        out.update(hosts=list(agg["hosts"]), metadata=dict(agg["metadata"]))
    return FIELDS.add(out, version, agg)


# ---------------------------------------------------------------- handlers

def _id(aggregate_id) -> int:
    try:
        return int(aggregate_id)
    except ValueError:
        raise APIError(400, f"Invalid aggregate id: id must be an integer, not "
                            f"{aggregate_id!r}") from None


def _check_zone(call, zone):
    if zone is not None and zone == call.services.conf.internal_service_availability_zone:
        raise APIError(400, "Cannot create an aggregate with the internal availability zone "
                            f"{zone!r}: it is reserved for internal services.")


@operation("listAggregates", "List host aggregates", ok={200: keyed("aggregates")},
           errors=(403,), admin=True)
def index(call):
    call.authorize(_ROOT + "index", {})
    return 200, {"aggregates": [aggregate_view(call.version, a) for a in
                                aggregates_db.list_all(call.services.api_db)]}


@operation("createAggregate", "Create a host aggregate", ok={200: keyed("aggregate")},
           errors=(400, 403, 409), admin=True, body=CREATE,
           links={"GetAggregate": ("showAggregate",
                                   {"aggregate_id": "$response.body#/aggregate/id"})})
def create(call):
    call.authorize(_ROOT + "create", {})
    body = call.json()
    schemas.validate(body, CREATE)
    fields = body["aggregate"]
    zone = fields.get("availability_zone")
    _check_zone(call, zone)
    try:
        agg = aggregates_db.create(call.services.api_db, fields["name"].strip(),
                                   zone.strip() if zone else None)
    except aggregates_db.AggregateNameExists as exc:
        raise APIError(409, exc.message) from None
    return 200, {"aggregate": aggregate_view(call.version, agg, full=False)}


def _errors(call, fn, *args, **kwargs):
    """Run an aggregate write, mapping its refusals as Nova does
    (*conflict*: the refusals that are a 409 for this call)."""
    try:
        return fn(call.services.api_db, *args, **kwargs)
    except (aggregates_db.AggregateNotFound, aggregates_db.AggregateHostNotFound,
            exception.ComputeHostNotFound) as exc:
        raise APIError(404, exc.message) from None
    except (aggregates_db.AggregateNameExists, aggregates_db.AggregateHostExists) as exc:
        raise APIError(409, exc.message) from None


@operation("showAggregate", "Show a host aggregate", ok={200: keyed("aggregate")},
           errors=(400, 403, 404), admin=True)
def show(call, aggregate_id):
    call.authorize(_ROOT + "show", {})
    agg = _errors(call, aggregates_db.get, _id(aggregate_id))
    return 200, {"aggregate": aggregate_view(call.version, agg)}


@operation("updateAggregate", "Rename a host aggregate or change its zone",
           ok={200: keyed("aggregate")}, errors=(400, 403, 404, 409), admin=True, body=UPDATE)
def update(call, aggregate_id):
    call.authorize(_ROOT + "update", {})
    agg_id = _id(aggregate_id)
    body = call.json()
    schemas.validate(body, UPDATE)
    fields = body["aggregate"]
    zone = fields["availability_zone"] if "availability_zone" in fields else ...
    if zone is not ...:
        _check_zone(call, zone)
        zone = zone.strip() if zone else zone
    try:
        agg = _errors(call, aggregates_db.update, agg_id,
                      name=fields["name"].strip() if fields.get("name") else None,
                      availability_zone=zone)
    except aggregates_db.AggregateZoneConflict as exc:
        raise APIError(400, exc.message) from None
    return 200, {"aggregate": aggregate_view(call.version, agg)}


@operation("deleteAggregate", "Delete an empty host aggregate", ok={200: None},
           errors=(400, 403, 404), admin=True)
def delete(call, aggregate_id):
    call.authorize(_ROOT + "delete", {})
    try:
        _errors(call, aggregates_db.delete, _id(aggregate_id))
    except aggregates_db.InvalidAggregateAction as exc:
        raise APIError(400, exc.message) from None
    return 200, None


def _known_host(call, host):
    if not hosts.services(call.services, host=host, binary=hosts.COMPUTE_BINARY):
        raise APIError(404, f"Compute host {host} could not be found.")


@operation("aggregateAction", "Add or remove a host, or set metadata, of an aggregate",
           ok={200: keyed("aggregate")}, errors=(400, 403, 404, 409), admin=True,
           body=ACTION_BODY)
def action(call, aggregate_id):
    body = call.json()
    key = next((k for k in body if k in ACTIONS), None)
    if key is None:
        raise APIError(400, f"There is no such action: {next(iter(body), '')}")
    call.authorize(_ROOT + key, {})
    agg_id = _id(aggregate_id)
    schemas.validate(body, ACTIONS[key])
    if key == "set_metadata":
        metadata = body[key]["metadata"]
        if "availability_zone" in metadata:
            _check_zone(call, metadata["availability_zone"])
        try:
            agg = _errors(call, aggregates_db.set_metadata, agg_id, metadata)
        except aggregates_db.AggregateZoneConflict as exc:
            raise APIError(400, exc.message) from None
        return 200, {"aggregate": aggregate_view(call.version, agg)}
    host = body[key]["host"]
    if key == "add_host":
        _known_host(call, host)
        try:
            agg = _errors(call, aggregates_db.add_host, agg_id, host)
        except aggregates_db.AggregateZoneConflict as exc:
            raise APIError(409, exc.message) from None
    else:
        try:
            agg = aggregates_db.remove_host(call.services.api_db, agg_id, host)
        except (aggregates_db.AggregateNotFound, aggregates_db.AggregateHostNotFound):
            raise APIError(404, f"Cannot remove host {host} in aggregate {agg_id}") from None
    return 200, {"aggregate": aggregate_view(call.version, agg)}


IMAGES = {"type": "object",
          "properties": {"cache": {"type": "array", "minItems": 1, "items": {
              "type": "object", "properties": {"id": {"type": "string", "format": "uuid"}},
              "required": ["id"], "additionalProperties": False}}},
          "required": ["cache"], "additionalProperties": False}


@versioned("2.81")
@operation("cacheAggregateImages", "Cache images on the hosts of an aggregate (from 2.81)",
           ok={202: None}, errors=(400, 403, 404), admin=True, body=IMAGES)
def images(call, aggregate_id):
    call.authorize("compute:aggregates:images", {})
    agg_id = _id(aggregate_id)
    body = call.json()
    schemas.validate(body, IMAGES)
    ids = [entry["id"] for entry in body["cache"]]
    if len(set(ids)) != len(ids):
        raise APIError(400, "Duplicate images in request")
    agg = _errors(call, aggregates_db.get, agg_id)
    found = []
    for image_id in ids:
        try:
            image = call.services.images.get(image_id)
        except exception.ImageNotFound:
            raise APIError(400, f"Image {image_id} could not be found.") from None
        found.append({k: image.get(k) for k in ("id", "name", "checksum", "size",
                                                 "disk_format", "container_format")})
    computes = {s["host"] for s in hosts.services(call.services, binary=hosts.COMPUTE_BINARY)
                if s["up"]}
    for host in agg["hosts"]:
        if host in computes:  # a host that is down would never answer
            call.services.compute_rpc.cache_images(call.ctx, host, found)
    return 202, None


ROUTES = {
    "/os-aggregates": {"GET": index, "POST": create},
    "/os-aggregates/{aggregate_id}/images": {"POST": images},
    "/os-aggregates/{aggregate_id}": {"GET": show, "PUT": update, "DELETE": delete},
    "/os-aggregates/{aggregate_id}/action": {"POST": action},
}
