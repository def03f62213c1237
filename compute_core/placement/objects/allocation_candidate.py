"""Allocation candidates: the SQL and the combination logic behind
GET /allocation_candidates.

A request is a list of :class:`RequestGroup` (the unnumbered group has the
suffix ``""``; suffixed groups must each be satisfied by one provider) plus
request-wide options (:class:`RequestWide`). Two paths answer it:

* **flat** (:mod:`.candidates_flat`): when no provider tree and no sharing
  provider exists and the request is a single group, every candidate is one
  provider, and one SQL query (capacity, traits, aggregates, order, LIMIT)
  finds them.
* **general** (:mod:`.candidates_general`): load once the provider trees that
  hold any requested capacity (and the trees sharing providers are anchored
  to), then build each group's candidates and combine them per tree in
  Python.

Capacity is ``(total - reserved) * allocation_ratio``; a request of N units
also has to respect min_unit, max_unit and step_size.
"""
from __future__ import annotations

from compute_core.placement.objects.candidate_filters import RequestGroup, RequestWide
from compute_core.placement.objects.candidates_flat import find_flat, TREES_OR_SHARING
from compute_core.placement.objects.candidates_general import GeneralPath


def find(db, groups: list[RequestGroup], wide: RequestWide, rc_cache):
    """Allocation candidates in the shape of the latest microversion:
    {"allocation_requests": [{"allocations": {rp: {"resources": {...}}},
    "mappings": {suffix: [rp, ...]}}], "provider_summaries": {rp: {
    "resources": {rc: {"capacity", "used"}}, "traits", "parent_provider_uuid",
    "root_provider_uuid"}}}. The handler trims it for older microversions.
    The flat path answers a :class:`FlatCandidates` instead, which renders
    that document (at any microversion) itself."""
    with db.connect() as conn:
        flat = len(groups) == 1 and groups[0].resources and not wide.same_subtree
        if flat:
            trees, sharing = conn.execute(TREES_OR_SHARING).one()
            flat = not trees and not sharing
        if flat:
            return find_flat(conn, groups[0], wide, rc_cache)
        return GeneralPath(conn, groups, wide, rc_cache).run()
