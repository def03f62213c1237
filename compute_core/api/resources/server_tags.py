"""/servers/{server_id}/tags (from 2.26): a server's tags, all of them or
one. Writes need the server active, paused, suspended or stopped (409
otherwise); at most 50 tags of at most 60 characters, without ``/`` or ``,``."""
from __future__ import annotations

from compute_core.api import policy, schemas, views
from compute_core.api.faults import APIError
from compute_core.api.microversion import versioned
from compute_core.api.resources.server_metadata import server
from compute_core.apispec import keyed, operation
from compute_core.db import server_metadata as metadata_db

MAX_TAGS = 50
MAX_TAG_LENGTH = 60
_ROOT = "os_compute_api:os-server-tags:"
_ALL = "/servers/{server_id}/tags"
_ONE = _ALL + "/{tag}"
RULES = (
    policy.rule(_ROOT + "index", policy.PROJECT_READER_OR_ADMIN, "List a server's tags", [("GET", _ALL)]),
    policy.rule(_ROOT + "show", policy.PROJECT_READER_OR_ADMIN, "Check a server has a tag", [("GET", _ONE)]),
    policy.rule(_ROOT + "update_all", policy.PROJECT_MEMBER_OR_ADMIN, "Replace a server's tags", [("PUT", _ALL)]),
    policy.rule(_ROOT + "delete_all", policy.PROJECT_MEMBER_OR_ADMIN, "Delete a server's tags", [("DELETE", _ALL)]),
    policy.rule(_ROOT + "update", policy.PROJECT_MEMBER_OR_ADMIN, "Add a tag to a server", [("PUT", _ONE)]),
    policy.rule(_ROOT + "delete", policy.PROJECT_MEMBER_OR_ADMIN, "Delete a tag of a server", [("DELETE", _ONE)]),
)

TAG = {"type": "string", "pattern": "^[^,/]*$", "minLength": 1,
       "maxLength": MAX_TAG_LENGTH}
ALL_BODY = {"type": "object",
            "properties": {"tags": {"type": "array", "items": TAG, "maxItems": MAX_TAGS}},
            "required": ["tags"], "additionalProperties": False}
_SINCE = "2.26"


def _db(call, inst):
    return call.services.cells.get(inst["cell_uuid"])


def _check_tag(tag):
    try:
        schemas.validate(tag, TAG)
    except APIError as exc:
        raise APIError(400, exc.message.replace("field/attribute body", "tag")) from None


@versioned(_SINCE)
@operation("listServerTags", "List a server's tags", ok={200: keyed("tags")}, errors=(404,))
def index(call, server_id):
    inst = server(call, server_id, _ROOT + "index")
    return 200, {"tags": list(inst.get("tags") or [])}


@versioned(_SINCE)
@operation("replaceServerTags", "Replace a server's tags", ok={200: keyed("tags")},
           errors=(400, 404, 409), body=ALL_BODY)
def update_all(call, server_id):
    body = call.json()
    schemas.validate(body, ALL_BODY)
    inst = server(call, server_id, _ROOT + "update_all", "update tags")
    return 200, {"tags": metadata_db.set_tags(_db(call, inst), inst["uuid"], body["tags"])}


@versioned(_SINCE)
@operation("deleteServerTags", "Delete a server's tags", ok={204: None}, errors=(404, 409))
def delete_all(call, server_id):
    inst = server(call, server_id, _ROOT + "delete_all", "delete tags")
    metadata_db.set_tags(_db(call, inst), inst["uuid"], [])
    return 204, None


@versioned(_SINCE)
@operation("checkServerTag", "Check a server has a tag", ok={204: None}, errors=(404,))
def show(call, server_id, tag):
    inst = server(call, server_id, _ROOT + "show")
    if tag not in (inst.get("tags") or []):
        raise APIError(404, f"Tag {tag} could not be found for instance {server_id}.")
    return 204, None


@versioned(_SINCE)
@operation("addServerTag", "Add a tag to a server", ok={201: None, 204: None},
           errors=(400, 404, 409))
def update(call, server_id, tag):
    _check_tag(tag)
    inst = server(call, server_id, _ROOT + "update", "update tag")
    try:
        added = metadata_db.add_tag(_db(call, inst), inst["uuid"], tag, MAX_TAGS)
    except metadata_db.TooManyTags as exc:
        raise APIError(400, exc.message) from None
    if not added:
        return 204, None
    location = views.links(call.req, "servers", server_id)[0]["href"] + f"/tags/{tag}"
    return 201, None, {"Location": location}


@versioned(_SINCE)
@operation("deleteServerTag", "Delete a tag of a server", ok={204: None}, errors=(404, 409))
def delete(call, server_id, tag):
    inst = server(call, server_id, _ROOT + "delete", "delete tag")
    try:
        metadata_db.delete_tag(_db(call, inst), inst["uuid"], tag)
    except metadata_db.TagNotFound as exc:
        raise APIError(404, exc.message) from None
    return 204, None


ROUTES = {
    _ALL: {"GET": index, "PUT": update_all, "DELETE": delete_all},
    _ONE: {"GET": show, "PUT": update, "DELETE": delete},
}
