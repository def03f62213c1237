"""/resource_providers/{uuid}/aggregates."""
from __future__ import annotations

from compute_core.apispec import keyed, operation
from compute_core.placement.handlers.base import (
    body_uuid, cached, check_policy, existing_provider, json_body, json_response, path_uuid,
    since, takes_json)
from compute_core.placement.objects import aggregate as agg_obj
from compute_core.placement.schemas.aggregate import aggregates_schema


@since((1, 1))
@operation("listProviderAggregates", "A resource provider's aggregates",
           ok={200: keyed("aggregates")}, errors=(404,), admin=True)
def get_provider_aggregates(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:aggregates:list")
    gen, aggs = agg_obj.get_provider_aggregates(state.db, path_uuid(uuid))
    out = {"aggregates": aggs}
    if version >= (1, 19):
        out["resource_provider_generation"] = gen
    return json_response(out)


@since((1, 1))
@operation("replaceProviderAggregates", "Replace a resource provider's aggregates",
           ok={200: keyed("aggregates")}, errors=(404, 409), body=aggregates_schema,
           admin=True)
@takes_json
def set_provider_aggregates(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:aggregates:update")
    rp = existing_provider(state, uuid)
    data = json_body(req, aggregates_schema(version))
    if version >= (1, 19):
        aggs, gen = data["aggregates"], data["resource_provider_generation"]
    else:
        aggs, gen = data, None
    aggs = [body_uuid(a, "aggregate") for a in aggs]
    # before 1.19 the generation is neither checked nor moved, as in Placement
    new_gen = agg_obj.set_provider_aggregates(state.db, rp, gen, aggs, bump=version >= (1, 19))
    out = {"aggregates": sorted(aggs)}
    if version >= (1, 19):
        out["resource_provider_generation"] = new_gen
    return cached(json_response(out), version)
