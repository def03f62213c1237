"""/resource_providers and /resource_providers/{uuid}: list, create, show,
rename or re-parent, delete.
"""
from __future__ import annotations

import uuid as uuidlib

import webob

from compute_core.apispec import keyed, operation
from compute_core.placement import query
from compute_core.placement.exception import (
    BadRequest, NotFound, ObjectActionError, ProviderNotFound, ResourceClassNotFound,
    TraitNotFound)
from compute_core.placement.handlers.base import (
    body_uuid, cached, check_policy, existing_provider, json_body, json_response, link,
    no_content, path_uuid, takes_json)
from compute_core.placement.objects import resource_provider as rp_obj
from compute_core.placement.schemas.resource_provider import (
    provider_query, provider_query_schema, provider_schema, provider_update_schema)


def _provider_view(req, version, p):
    out = {"uuid": p["uuid"], "name": p["name"], "generation": p["generation"]}
    if version >= (1, 14):
        out["parent_provider_uuid"] = p["parent_provider_uuid"]
        out["root_provider_uuid"] = p["root_provider_uuid"]
    base = f"/resource_providers/{p['uuid']}"
    links = [{"rel": "self", "href": link(req, base)},
             {"rel": "inventories", "href": link(req, base + "/inventories")},
             {"rel": "usages", "href": link(req, base + "/usages")}]
    if version >= (1, 1):
        links.append({"rel": "aggregates", "href": link(req, base + "/aggregates")})
    if version >= (1, 6):
        links.append({"rel": "traits", "href": link(req, base + "/traits")})
    if version >= (1, 11):
        links.append({"rel": "allocations", "href": link(req, base + "/allocations")})
    out["links"] = links
    return out


_PROVIDER = keyed("uuid", "name", "generation", "links")

_RP_LINKS = {"GetProvider": ("showResourceProvider", {"uuid": "$response.body#/uuid"}),
             "DeleteProvider": ("deleteResourceProvider", {"uuid": "$response.body#/uuid"}),
             "SetInventories": ("replaceInventories", {"uuid": "$response.body#/uuid"}),
             "AddInventory": ("createInventory", {"uuid": "$response.body#/uuid"}),
             "SetTraits": ("replaceProviderTraits", {"uuid": "$response.body#/uuid"}),
             "GetUsages": ("showProviderUsages", {"uuid": "$response.body#/uuid"})}


@operation("listResourceProviders", "List resource providers",
           ok={200: keyed("resource_providers")}, query=provider_query, admin=True)
def list_providers(req, state, version):
    check_policy(req, state, "placement:resource_providers:list")
    query.validate(req, provider_query_schema(version))
    kwargs = {"rc_cache": state.rc_cache}
    # openstack-placement's order: member_of, required, the rest; then the
    # names are looked up (classes, traits)
    if "member_of" in req.GET:
        kwargs["member_of"], kwargs["forbidden_aggs"] = query.member_of(
            req.GET.getall("member_of"), version)
    if "required" in req.GET:
        kwargs["required"], kwargs["forbidden"] = query.traits(
            req.GET.getall("required"), version)
    name = query.single(req, "name")
    if name is not None:
        kwargs["name"] = name
    for key in ("uuid", "in_tree"):
        value = query.single(req, key)
        if value is not None:
            kwargs[key] = query.uuid_value(value, key)
    value = query.single(req, "resources")
    if value is not None:
        kwargs["resources"] = query.resources(value, None)
    # The names are looked up as openstack-placement does: none for an
    # unknown tree; the traits; the classes last, and only when the traits
    # and aggregates leave some provider (rp_obj.list_providers).
    providers = []
    if "in_tree" not in kwargs or rp_obj.provider_exists(state.db, kwargs["in_tree"]):
        try:
            query.check_traits(state.db, kwargs.get("required", []),
                               kwargs.get("forbidden", ()))
        except TraitNotFound as exc:
            raise BadRequest(f'Invalid trait(s) in "required" parameter: {exc.detail}') \
                from None
        try:
            providers = rp_obj.list_providers(state.db, **kwargs)
        except ResourceClassNotFound as exc:
            raise BadRequest(f"Invalid resource class in resources parameter: "
                             f"{exc.detail}") from None
    return json_response({"resource_providers": [_provider_view(req, version, p)
                                                 for p in providers]})


def _created_provider(version):
    return {201: None} if version < (1, 20) else {200: _PROVIDER}


@operation("createResourceProvider", "Create a resource provider", ok=_created_provider,
           errors=(409,), body=provider_schema, admin=True, links=_RP_LINKS)
@takes_json
def create_provider(req, state, version):
    check_policy(req, state, "placement:resource_providers:create")
    data = json_body(req, provider_schema(version))
    rp_uuid = body_uuid(data["uuid"], "uuid") if "uuid" in data else str(uuidlib.uuid4())
    parent = data.get("parent_provider_uuid")
    if parent is not None:
        parent = body_uuid(parent, "parent_provider_uuid")
    try:
        p = rp_obj.create_provider(state.db, data["name"], rp_uuid, parent)
    except ObjectActionError as exc:
        raise BadRequest(f'Unable to create resource provider "{data["name"]}", {rp_uuid}: '
                         f"{exc.detail}") from None
    location = link(req, f"/resource_providers/{p['uuid']}")
    if version >= (1, 20):
        return cached(json_response(_provider_view(req, version, p),
                                    headers={"Location": location}), version)
    resp = webob.Response(status=201)
    resp.headers["Location"] = location
    resp.content_type = None
    return resp


@operation("showResourceProvider", "Show a resource provider", ok={200: _PROVIDER},
           errors=(404,), admin=True)
def get_provider(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:show")
    provider = rp_obj.get_provider(state.db, path_uuid(uuid))
    return json_response(_provider_view(req, version, provider))


@operation("updateResourceProvider", "Rename or re-parent a resource provider",
           ok={200: _PROVIDER}, errors=(404, 409), body=provider_update_schema, admin=True)
@takes_json
def update_provider(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:update")
    rp = existing_provider(state, uuid)
    data = json_body(req, provider_update_schema(version))
    kwargs = {}
    if "parent_provider_uuid" in data:
        parent = data["parent_provider_uuid"]
        kwargs["parent_uuid"] = (None if parent is None
                                 else body_uuid(parent, "parent_provider_uuid"))
    try:
        p = rp_obj.update_provider(state.db, rp, data["name"],
                                   allow_reparent=version >= (1, 37), **kwargs)
    except ObjectActionError as exc:
        raise BadRequest(f"Unable to save resource provider {rp}: {exc.detail}") from None
    # (openstack-placement sends no Last-Modified when it sets a parent: its
    # object's update time is not refreshed on that path)
    return cached(json_response(_provider_view(req, version, p)), version,
                  last_modified=data.get("parent_provider_uuid") is None)


@operation("deleteResourceProvider", "Delete a resource provider", ok={204: None},
           errors=(404, 409), admin=True)
def delete_provider(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:delete")
    try:
        rp_obj.delete_provider(state.db, path_uuid(uuid))
    except ProviderNotFound:
        raise NotFound(f"No resource provider with uuid {uuid} found for delete") from None
    return no_content()
