"""/allocations (several consumers at once), /allocations/{consumer_uuid} and
/resource_providers/{uuid}/allocations.
"""
from __future__ import annotations

import uuid as uuidlib

from compute_core.apispec import keyed, operation
from compute_core.placement.exception import BadRequest, NotFound
from compute_core.placement.handlers.base import (
    body_uuid, check_policy, json_body, json_response, no_content, path_uuid, reworded_not_found,
    since, takes_json, UUID_RE)
from compute_core.placement.objects import allocation as alloc_obj
from compute_core.placement.schemas.allocation import post_alloc_schema, put_alloc_schema

_INCOMPLETE = "00000000-0000-0000-0000-000000000000"


def claim_from(data, consumer_uuid, version):
    if isinstance(data["allocations"], list):
        allocs = {}
        for a in data["allocations"]:
            rp = body_uuid(a["resource_provider"]["uuid"], "resource provider uuid")
            allocs.setdefault(rp, {}).update(a["resources"])
    else:
        allocs = {body_uuid(rp, "resource provider uuid"): v["resources"]
                  for rp, v in data["allocations"].items()}
    claim = {"consumer_uuid": consumer_uuid, "allocations": allocs,
             "project_id": data.get("project_id") or _INCOMPLETE,
             "user_id": data.get("user_id") or _INCOMPLETE,
             "consumer_type": data.get("consumer_type")}
    if version >= (1, 28):
        claim["consumer_generation"] = data.get("consumer_generation")
    return claim


_CONSUMER_LINKS = {
    "GetAllocations": ("showAllocations", {"consumer_uuid": "$request.path.consumer_uuid"}),
    "DeleteAllocations": ("deleteAllocations",
                          {"consumer_uuid": "$request.path.consumer_uuid"})}


@operation("showAllocations", "A consumer's allocations", ok={200: keyed("allocations")},
           admin=True)
def get_allocations(req, state, version, consumer_uuid):
    check_policy(req, state, "placement:allocations:list")
    # Placement looks any consumer id up as it is: a malformed one has no
    # allocations (an empty answer), not a 400.
    consumer = (str(uuidlib.UUID(consumer_uuid)) if UUID_RE.match(consumer_uuid)
                else consumer_uuid)
    data = alloc_obj.get_allocations(state.db, consumer, state.rc_cache)
    if version < (1, 12):
        data = {"allocations": data["allocations"]}
    elif version < (1, 28):
        data.pop("consumer_generation", None)
    if version < (1, 38):
        data.pop("consumer_type", None)
    return json_response(data)


@operation("putAllocations", "Replace a consumer's allocations", ok={204: None},
           errors=(409,), body=put_alloc_schema, admin=True, links=_CONSUMER_LINKS)
@takes_json
def put_allocations(req, state, version, consumer_uuid):
    check_policy(req, state, "placement:allocations:update")
    if not UUID_RE.match(consumer_uuid):
        raise BadRequest(f"Malformed consumer_uuid: {consumer_uuid}")
    consumer = body_uuid(consumer_uuid, "consumer uuid")
    data = json_body(req, put_alloc_schema(version))
    claim = claim_from(data, consumer, version)
    alloc_obj.replace_allocations(state.db, [claim], state.rc_cache)
    return no_content()


@since((1, 13))
@operation("postAllocations", "Replace the allocations of several consumers at once",
           ok={204: None}, errors=(409,), body=post_alloc_schema, admin=True)
@takes_json
def post_allocations(req, state, version):
    check_policy(req, state, "placement:allocations:manage")
    data = json_body(req, post_alloc_schema(version))
    claims = [claim_from(v, body_uuid(c, "consumer uuid"), version) for c, v in data.items()]
    alloc_obj.replace_allocations(state.db, claims, state.rc_cache)
    return no_content()


@operation("deleteAllocations", "Delete a consumer's allocations", ok={204: None},
           errors=(404, 409), admin=True)
def delete_allocations(req, state, version, consumer_uuid):
    check_policy(req, state, "placement:allocations:delete")
    if not UUID_RE.match(consumer_uuid):
        raise NotFound(f"No allocations for consumer '{consumer_uuid}'")
    consumer = str(uuidlib.UUID(consumer_uuid))
    if not alloc_obj.has_allocations(state.db, consumer):
        raise NotFound(f"No allocations for consumer '{consumer}'")
    alloc_obj.replace_allocations(state.db, [{"consumer_uuid": consumer, "allocations": {}}],
                                  state.rc_cache)
    return no_content()


@operation("listProviderAllocations", "The allocations against a resource provider",
           ok={200: keyed("resource_provider_generation", "allocations")}, errors=(404,),
           admin=True)
@reworded_not_found("Resource provider '{uuid}' not found: {detail}")
def provider_allocations(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:allocations:list")
    gen, allocs = alloc_obj.provider_allocations(state.db, path_uuid(uuid), state.rc_cache)
    if version < (1, 28):
        for entry in allocs.values():
            entry.pop("consumer_generation", None)
    return json_response({"resource_provider_generation": gen, "allocations": allocs})
