"""GET /allocation_candidates: the query parsed (:mod:`..query`), the search
run (:mod:`..objects.allocation_candidate`), the answer trimmed to the
microversion.
"""
from __future__ import annotations

import webob

from compute_core.apispec import keyed, operation
from compute_core.placement import query
from compute_core.placement.handlers.base import check_policy, json_response, since
from compute_core.placement.objects import allocation_candidate, candidates_flat


@since((1, 10))
@operation("listAllocationCandidates", "Allocation candidates for a request",
           ok={200: keyed("allocation_requests", "provider_summaries")},
           query=query.candidate_query, admin=True)
def allocation_candidates(req, state, version):
    check_policy(req, state, "placement:allocation_candidates:list")
    groups, wide = query.candidate_request(req, version, state)
    result = allocation_candidate.find(state.db, groups, wide, state.rc_cache)
    if isinstance(result, candidates_flat.FlatCandidates):
        resp = webob.Response(status=200, content_type="application/json", charset="utf-8")
        resp.body = result.json(version).encode()
        return resp
    return json_response(candidates_at_version(result, version,
                                               set().union(*(g.resources for g in groups))))


def candidates_at_version(result: dict, version, requested: set) -> dict:
    """:func:`allocation_candidate.find`'s document (latest microversion) trimmed to
    what *version* shows (the flat path's :class:`candidates_flat.FlatCandidates`
    renders the same trimming itself)."""
    requests = result["allocation_requests"]
    if version < (1, 12):
        requests = [{"allocations": [{"resource_provider": {"uuid": rp},
                                      "resources": v["resources"]}
                                     for rp, v in ar["allocations"].items()]}
                    for ar in requests]
    elif version < (1, 34):
        requests = [{"allocations": ar["allocations"]} for ar in requests]
    for summary in result["provider_summaries"].values():
        if version < (1, 27):
            summary["resources"] = {k: v for k, v in summary["resources"].items()
                                    if k in requested}
        if version < (1, 17):
            summary.pop("traits")
        if version < (1, 29):
            summary.pop("parent_provider_uuid")
            summary.pop("root_provider_uuid")
    return {"allocation_requests": requests,
            "provider_summaries": result["provider_summaries"]}
