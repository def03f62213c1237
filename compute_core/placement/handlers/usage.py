"""/resource_providers/{uuid}/usages and /usages (a project's, a user's)."""
from __future__ import annotations

import re

from compute_core.apispec import keyed, operation
from compute_core.placement import query
from compute_core.placement.handlers.base import (
    check_policy, json_response, path_uuid, reworded_not_found, since)
from compute_core.placement.objects import usage as usage_obj
from compute_core.placement.schemas.usage import usages_query


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
    query.check_allowed(req, set(usages_query(version)))
    project = query.single(req, "project_id")
    if not project:
        raise query.bad("'project_id' is a required property" if project is None
                        else "'' should be non-empty")
    for key in ("project_id", "user_id"):
        value = query.single(req, key)
        if value is not None and not 1 <= len(value) <= 255:
            raise query.bad(f"'{value}' is too long" if value else "'' is too short")
    ctype = query.single(req, "consumer_type")
    if ctype is not None and not re.match(r"^([A-Z0-9_]+|all|unknown)$", ctype):
        raise query.bad(f"Invalid consumer_type {ctype!r}: it must match [A-Z0-9_]+, or be "
                        "'all' or 'unknown'.")
    usages = usage_obj.project_usages(state.db, project, query.single(req, "user_id"),
                                      state.rc_cache, consumer_type=ctype,
                                      by_type=version >= (1, 38))
    return json_response({"usages": usages})
