"""POST /reshaper: inventories and allocations of several providers moved in
one transaction.
"""
from __future__ import annotations

from compute_core.apispec import operation
from compute_core.placement.exception import (
    BadRequest, GenerationConflict, NotFound, ProviderNotFound)
from compute_core.placement.handlers.allocation import claim_from
from compute_core.placement.handlers.base import (
    body_uuid, check_policy, json_body, no_content, since, takes_json)
from compute_core.placement.objects import reshaper as reshaper_obj
from compute_core.placement.objects import resource_provider as rp_obj
from compute_core.placement.schemas.reshaper import reshape_schema


@since((1, 30))
@operation("reshape", "Move inventories and allocations between providers atomically",
           ok={204: None}, errors=(409,), body=reshape_schema, admin=True)
@takes_json
def reshape(req, state, version):
    check_policy(req, state, "placement:reshaper:reshape")
    data = json_body(req, reshape_schema(version))
    inventories = {}
    for rp, body in data["inventories"].items():
        # Placement's checks, in its order: the provider, its generation
        try:
            current = rp_obj.get_provider(state.db, rp)
        except ProviderNotFound as exc:
            raise BadRequest(f"Resource provider {rp} in inventories not found: {exc.detail}",
                             code="placement.resource_provider.not_found") from None
        given = body["resource_provider_generation"]
        if given != current["generation"]:
            raise GenerationConflict(
                f"resource provider generation conflict for provider {rp}: actual: "
                f"{current['generation']}, given: {given}")
        for name in body["inventories"]:
            try:
                state.rc_cache.id_of(name)
            except NotFound as exc:
                raise BadRequest(f"malformed reshaper data: {exc.detail}") from None
        inventories[rp] = (given, body["inventories"])
    claims = [claim_from(v, body_uuid(c, "consumer uuid"), max(version, (1, 28)))
              for c, v in data["allocations"].items()]
    reshaper_obj.reshape(state.db, inventories, claims, state.rc_cache)
    return no_content()
