"""/resource_providers/{uuid}/usages and /usages (a project's, a user's)."""
from __future__ import annotations


from compute_core.apispec import keyed, operation
from compute_core.placement import query
from compute_core.placement.handlers.base import (
    check_policy, json_response, path_uuid, reworded_not_found, since)
from compute_core.placement.objects import usage as usage_obj
from compute_core.placement.schemas.usage import usages_query, usages_query_schema


@operation("showProviderUsages", "A resource provider's usages",
           ok={200: keyed("resource_provider_generation", "usages")}, errors=(404,), admin=True)
@reworded_not_found("{detail}: {detail}")
def provider_usages(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:usages")
    gen, usages = usage_obj.get_usages(state.db, path_uuid(uuid), state.rc_cache)
    return json_response({"resource_provider_generation": gen, "usages": usages})


@since((1, 9))
@operation("listUsages", "A project's (and user's) usages", ok={200: keyed("usages")},
           query=usages_query, required_query=("project_id",), admin=True)
def project_usages(req, state, version):
    # a project's reader may see its own project's usages
    check_policy(req, state, "placement:usages", {"project_id": query.single(req, "project_id")})
    query.validate(req, usages_query_schema(version))
    project = query.single(req, "project_id")
    ctype = query.single(req, "consumer_type")
    usages = usage_obj.project_usages(state.db, project, query.single(req, "user_id"),
                                      state.rc_cache, consumer_type=ctype,
                                      by_type=version >= (1, 38))
    return json_response({"usages": usages})
