"""/resource_classes[/{name}]: the standard classes and the custom ones."""
from __future__ import annotations

import webob

from compute_core.apispec import keyed, operation
from compute_core.placement.exception import BadRequest, Conflict, NotFound
from compute_core.placement.handlers.base import (
    check_policy, json_body, json_response, link, no_content, since, takes_json)
from compute_core.placement.schemas import validator
from compute_core.placement.schemas.resource_class import (
    CUSTOM_NAME, RC_NAME_SCHEMA, rc_put_body)


def _rc_view(req, name):
    return {"name": name, "links": [{"rel": "self",
                                     "href": link(req, f"/resource_classes/{name}")}]}


@since((1, 2))
@operation("listResourceClasses", "List resource classes",
           ok={200: keyed("resource_classes")}, admin=True)
def list_resource_classes(req, state, version):
    check_policy(req, state, "placement:resource_classes:list")
    return json_response({"resource_classes": [_rc_view(req, n) for n in state.rc_cache.all()]})


_RC_LINKS = {"GetClass": ("showResourceClass", {"name": "$request.path.name"}),
             "DeleteClass": ("deleteResourceClass", {"name": "$request.path.name"})}


@since((1, 2))
@operation("createResourceClass", "Create a custom resource class", ok={201: None},
           errors=(409,), body=RC_NAME_SCHEMA, admin=True)
@takes_json
def create_resource_class(req, state, version):
    check_policy(req, state, "placement:resource_classes:create")
    data = json_body(req, RC_NAME_SCHEMA)
    state.rc_cache.create_custom(data["name"])
    resp = webob.Response(status=201)
    resp.headers["Location"] = link(req, f"/resource_classes/{data['name']}")
    resp.content_type = None
    return resp


@since((1, 2))
@operation("showResourceClass", "Show a resource class", ok={200: keyed("name", "links")},
           errors=(404,), admin=True)
def get_resource_class(req, state, version, name):
    check_policy(req, state, "placement:resource_classes:show")
    state.rc_cache.id_of(name)
    return json_response(_rc_view(req, name))


def _rc_put_ok(version):
    return {200: keyed("name", "links")} if version < (1, 7) else {201: None, 204: None}


@since((1, 2))
@operation("putResourceClass", "Rename (before 1.7) or ensure a custom resource class",
           ok=_rc_put_ok, errors=(404, 409), body=rc_put_body, admin=True, links=_RC_LINKS,
           path={"name": CUSTOM_NAME})
@takes_json(until=(1, 7))
def put_resource_class(req, state, version, name):
    check_policy(req, state, "placement:resource_classes:update")
    if version < (1, 7):
        data = json_body(req, RC_NAME_SCHEMA)
        state.rc_cache.rename_custom(name, data["name"])
        return json_response(_rc_view(req, data["name"]))
    # the name is checked as a body {"name": name} would be, as Placement does
    error = validator.first_error({"name": name}, RC_NAME_SCHEMA, validator.BODY_FORMATS)
    if error is not None:
        raise BadRequest(f"JSON does not validate: {error}")
    status = 204
    try:
        state.rc_cache.id_of(name)
    except NotFound:
        try:
            state.rc_cache.create_custom(name)
            status = 201
        except Conflict:
            pass
    resp = webob.Response(status=status)  # Location on both, as Placement
    resp.headers["Location"] = link(req, f"/resource_classes/{name}")
    resp.content_type = None
    return resp


@since((1, 2))
@operation("deleteResourceClass", "Delete a custom resource class", ok={204: None},
           errors=(404, 409), admin=True)
def delete_resource_class(req, state, version, name):
    check_policy(req, state, "placement:resource_classes:delete")
    state.rc_cache.delete_custom(name)
    return no_content()
