"""/traits[/{name}] and /resource_providers/{uuid}/traits."""
from __future__ import annotations

import webob

from compute_core.apispec import keyed, operation
from compute_core.placement import query
from compute_core.placement.exception import BadRequest, NotFound, ProviderNotFound
from compute_core.placement.handlers.base import (
    cached, check_policy, json_body, json_response, link, no_content, path_uuid, RC_RE, since,
    takes_json)
from compute_core.placement.objects import trait as trait_obj
from compute_core.placement.schemas.resource_class import CUSTOM_NAME, CUSTOM_RE
from compute_core.placement.schemas.trait import (
    PROVIDER_TRAITS_SCHEMA, TRAITS_QUERY, TRAITS_QUERY_SCHEMA)

_TRAIT_INVALID = ("The trait is invalid. A valid trait must be no longer than 255 characters, "
                  "start with the prefix \"CUSTOM_\" and use following characters: "
                  "\"A\"-\"Z\", \"0\"-\"9\" and \"_\"")

_TRAIT_LINKS = {"GetTrait": ("showTrait", {"name": "$request.path.name"}),
                "DeleteTrait": ("deleteTrait", {"name": "$request.path.name"})}


@since((1, 6))
@operation("listTraits", "List traits", ok={200: keyed("traits")}, query=TRAITS_QUERY,
           admin=True)
def list_traits(req, state, version):
    check_policy(req, state, "placement:traits:list")
    query.validate(req, TRAITS_QUERY_SCHEMA)
    name = query.single(req, "name")
    if name is not None and not name.startswith(("in:", "startswith:")):
        raise BadRequest(f"Badly formatted name parameter. Expected name query string "
                         f"parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. "
                         f"Got: \"{name}\"")
    assoc = query.single(req, "associated")
    if assoc is not None and assoc.lower() not in ("true", "false"):
        raise BadRequest('The query parameter "associated" only accepts "true" or "false"')
    return json_response({"traits": trait_obj.list_traits(
        state.db, name, None if assoc is None else assoc.lower() == "true")})


@since((1, 6))
@operation("showTrait", "Whether a trait exists", ok={204: None}, errors=(404,), admin=True)
def get_trait(req, state, version, name):
    check_policy(req, state, "placement:traits:show")
    if not RC_RE.match(name) or not trait_obj.list_traits(state.db, "in:" + name):
        raise NotFound(f"No such trait(s): {name}.")
    return cached(no_content(), version)


get_trait.checks_accept = False  # a 204: no body to negotiate


@since((1, 6))
@operation("putTrait", "Create a custom trait", ok={201: None, 204: None}, admin=True,
           links=_TRAIT_LINKS, path={"name": CUSTOM_NAME})
def put_trait(req, state, version, name):
    check_policy(req, state, "placement:traits:update")
    if not CUSTOM_RE.match(name) or len(name) > 255:
        raise BadRequest(_TRAIT_INVALID)
    created = trait_obj.create_trait(state.db, name)
    resp = webob.Response(status=201 if created else 204)
    resp.headers["Location"] = link(req, f"/traits/{name}")
    resp.content_type = None
    return cached(resp, version)


@since((1, 6))
@operation("deleteTrait", "Delete a custom trait", ok={204: None}, errors=(404, 409),
           admin=True)
def delete_trait(req, state, version, name):
    check_policy(req, state, "placement:traits:delete")
    trait_obj.delete_trait(state.db, name)
    return no_content()


_PROVIDER_TRAITS = keyed("traits", "resource_provider_generation")


@since((1, 6))
@operation("listProviderTraits", "A resource provider's traits", ok={200: _PROVIDER_TRAITS},
           errors=(404,), admin=True)
def get_provider_traits(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:traits:list")
    try:
        gen, names = trait_obj.get_provider_traits(state.db, path_uuid(uuid))
    except ProviderNotFound as exc:  # the handler's own 404 in Placement
        raise NotFound(f"{exc.detail}: {exc.detail}") from None
    return json_response({"traits": names, "resource_provider_generation": gen})


@since((1, 6))
@operation("replaceProviderTraits", "Replace a resource provider's traits",
           ok={200: _PROVIDER_TRAITS}, errors=(404, 409), body=PROVIDER_TRAITS_SCHEMA,
           admin=True,
           links={"GetTraits": ("listProviderTraits", {"uuid": "$request.path.uuid"}),
                  "DeleteTraits": ("deleteProviderTraits", {"uuid": "$request.path.uuid"})})
@takes_json
def set_provider_traits(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:traits:update")
    rp = path_uuid(uuid)
    data = json_body(req, PROVIDER_TRAITS_SCHEMA)
    names = sorted(set(data["traits"]))  # a repeated trait counts once, as in Placement
    gen = trait_obj.set_provider_traits(state.db, rp, data["resource_provider_generation"], names)
    return cached(json_response({"traits": names, "resource_provider_generation": gen}),
                  version)


@since((1, 6))
@operation("deleteProviderTraits", "Remove every trait of a resource provider",
           ok={204: None}, errors=(404, 409), admin=True)
def delete_provider_traits(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:traits:delete")
    rp = path_uuid(uuid)
    gen, _ = trait_obj.get_provider_traits(state.db, rp)
    trait_obj.set_provider_traits(state.db, rp, gen, [])
    return no_content()
