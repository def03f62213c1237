"""/servers/{server_id}/metadata: a server's metadata (all of it, or one
key). Writes need the server active, paused, suspended or stopped with no
task under way (409 otherwise), within the ``metadata_items`` quota."""
from __future__ import annotations

from compute_core import exception
from compute_core.api import policy, schemas
from compute_core.api.faults import APIError
from compute_core.api.quota import Quota
from compute_core.apispec import keyed, operation
from compute_core.compute import states
from compute_core.db import server_metadata as metadata_db

_ROOT = "os_compute_api:server-metadata:"
_ALL = "/servers/{server_id}/metadata"
_ONE = _ALL + "/{key}"
RULES = (
    policy.rule(_ROOT + "index", policy.PROJECT_READER_OR_ADMIN, "List a server's metadata", [("GET", _ALL)]),
    policy.rule(_ROOT + "show", policy.PROJECT_READER_OR_ADMIN, "Show one metadata item", [("GET", _ONE)]),
    policy.rule(_ROOT + "create", policy.PROJECT_MEMBER_OR_ADMIN, "Add or change metadata items", [("POST", _ALL)]),
    policy.rule(_ROOT + "update_all", policy.PROJECT_MEMBER_OR_ADMIN, "Replace a server's metadata",
                [("PUT", _ALL)]),
    policy.rule(_ROOT + "update", policy.PROJECT_MEMBER_OR_ADMIN, "Set one metadata item", [("PUT", _ONE)]),
    policy.rule(_ROOT + "delete", policy.PROJECT_MEMBER_OR_ADMIN, "Delete one metadata item", [("DELETE", _ONE)]),
)

ALL_BODY = {"type": "object", "properties": {"metadata": schemas.METADATA},
            "required": ["metadata"], "additionalProperties": False}
ONE_BODY = {"type": "object",
            "properties": {"meta": dict(schemas.METADATA, minProperties=1, maxProperties=1)},
            "required": ["meta"], "additionalProperties": False}

WRITABLE = (states.ACTIVE, states.PAUSED, states.SUSPENDED, states.STOPPED)


def server(call, server_id, rule, action=None):
    """The server as the caller may see it under *rule* (404 otherwise);
    with *action*, also writable now (409 naming its state otherwise)."""
    try:
        inst = call.server_service.get(call.ctx, server_id)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    call.authorize(rule, {"project_id": inst["project_id"], "user_id": inst.get("user_id")})
    if action is not None:
        if inst["vm_state"] not in WRITABLE or inst.get("cell_uuid") is None:
            raise APIError(409, f"Cannot '{action}' instance {server_id} while it is in "
                                f"vm_state {inst['vm_state']}")
        if inst.get("task_state") is not None:
            raise APIError(409, f"Cannot '{action}' instance {server_id} while it is in "
                                f"task_state {inst['task_state']}")
    return inst


def _db(call, inst):
    return call.services.cells.get(inst["cell_uuid"])


def _check_quota(call, inst, count):
    allowed = Quota(call.services).limits(inst["project_id"])["metadata_items"]
    if 0 <= allowed < count:
        raise APIError(403, "Quota exceeded for metadata_items: Requested "
                            f"{count}, but already used 0 of {allowed} metadata_items")


def _write(call, inst, metadata, replace=False):
    current = {} if replace else metadata_db.get_metadata(_db(call, inst), inst["uuid"])
    _check_quota(call, inst, len({**current, **metadata}))
    try:
        return metadata_db.update_metadata(_db(call, inst), inst["uuid"], metadata,
                                           replace=replace)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {inst['uuid']} could not be found.") from None


@operation("listServerMetadata", "List a server's metadata", ok={200: keyed("metadata")},
           errors=(404,))
def index(call, server_id):
    inst = server(call, server_id, _ROOT + "index")
    return 200, {"metadata": dict(inst.get("metadata") or {})}


@operation("createServerMetadata", "Add or change metadata items",
           ok={200: keyed("metadata")}, errors=(400, 403, 404, 409), body=ALL_BODY)
def create(call, server_id):
    body = call.json()
    schemas.validate(body, ALL_BODY)
    inst = server(call, server_id, _ROOT + "create", "update metadata")
    return 200, {"metadata": _write(call, inst, body["metadata"])}


@operation("replaceServerMetadata", "Replace a server's metadata",
           ok={200: keyed("metadata")}, errors=(400, 403, 404, 409), body=ALL_BODY)
def update_all(call, server_id):
    body = call.json()
    schemas.validate(body, ALL_BODY)
    inst = server(call, server_id, _ROOT + "update_all", "update metadata")
    return 200, {"metadata": _write(call, inst, body["metadata"], replace=True)}


@operation("showServerMetadataItem", "Show one metadata item", ok={200: keyed("meta")},
           errors=(404,))
def show(call, server_id, key):
    inst = server(call, server_id, _ROOT + "show")
    metadata = inst.get("metadata") or {}
    if key not in metadata:
        raise APIError(404, "Metadata item was not found")
    return 200, {"meta": {key: metadata[key]}}


@operation("updateServerMetadataItem", "Set one metadata item", ok={200: keyed("meta")},
           errors=(400, 403, 404, 409), body=ONE_BODY)
def update(call, server_id, key):
    body = call.json()
    schemas.validate(body, ONE_BODY)
    if key not in body["meta"]:
        raise APIError(400, "Request body and URI mismatch")
    inst = server(call, server_id, _ROOT + "update", "update metadata")
    _write(call, inst, body["meta"])
    return 200, {"meta": body["meta"]}


@operation("deleteServerMetadataItem", "Delete one metadata item", ok={204: None},
           errors=(404, 409))
def delete(call, server_id, key):
    inst = server(call, server_id, _ROOT + "delete", "delete metadata")
    try:
        metadata_db.delete_metadata_item(_db(call, inst), inst["uuid"], key)
    except metadata_db.MetadataItemNotFound as exc:
        raise APIError(404, exc.message) from None
    return 204, None


ROUTES = {
    _ALL: {"GET": index, "POST": create, "PUT": update_all},
    _ONE: {"GET": show, "PUT": update, "DELETE": delete},
}
