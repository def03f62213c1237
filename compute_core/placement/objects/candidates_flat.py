"""The flat path of allocation candidates: no trees, no sharing providers, one
group. One query per request shape finds the providers; the answer is
rendered straight to JSON (:class:`FlatCandidates`).
"""
from __future__ import annotations

import collections
import json

import sqlalchemy as sa

from compute_core.placement import tables as s
from compute_core.placement.objects.candidate_filters import (
    agg_filters, EMPTY, RequestGroup, RequestWide, resolve_names, root_id_of, SHARES_TRAIT,
    trait_filters)

_b = sa.bindparam

# Whether any provider has a parent, whether any shares: either rules the
# flat path out. One round trip, built once.
TREES_OR_SHARING = sa.select(
    sa.exists().where(s.resource_providers.c.parent_provider_id.is_not(None)),
    sa.exists().where(s.resource_provider_traits.c.trait_id == s.traits.c.id)
    .where(s.traits.c.name == SHARES_TRAIT))

# The rest of the summaries of the providers chosen, read by id range: the
# inventories of the classes not asked for (class, total, reserved, ratio,
# used); then their traits.
_FLAT_OTHER_INVENTORIES = (
    sa.select(s.inventories.c.resource_provider_id, s.inventories.c.resource_class_id,
              s.inventories.c.total, s.inventories.c.reserved,
              s.inventories.c.allocation_ratio,
              sa.select(sa.func.coalesce(sa.func.sum(s.allocations.c.used), 0))
              .where(s.allocations.c.resource_provider_id
                     == s.inventories.c.resource_provider_id)
              .where(s.allocations.c.resource_class_id == s.inventories.c.resource_class_id)
              .scalar_subquery().label("used"))
    .where(s.inventories.c.resource_provider_id.between(_b("lo"), _b("hi")))
    .where(s.inventories.c.resource_class_id.not_in(_b("asked", expanding=True))))

# Traits by trait: (name, how many providers, their ids in one string), a
# row per trait name rather than per provider and trait. A database may cap
# an aggregated string (MariaDB's group_concat_max_len): when the ids read
# fall short of the count, the per-provider form below answers instead.
_RPT = s.resource_provider_traits

_FLAT_TRAIT_MEMBERS = (
    sa.select(s.traits.c.name, sa.func.count(),
              sa.func.aggregate_strings(sa.cast(_RPT.c.resource_provider_id, sa.String), ","))
    .join(s.traits, s.traits.c.id == _RPT.c.trait_id)
    .where(_RPT.c.resource_provider_id.between(_b("lo"), _b("hi")))
    .group_by(s.traits.c.name))

_FLAT_TRAITS = (
    sa.select(_RPT.c.resource_provider_id, s.traits.c.name)
    .join(s.traits, s.traits.c.id == _RPT.c.trait_id)
    .where(_RPT.c.resource_provider_id.between(_b("lo"), _b("hi"))))


def _flat_traits(conn, lo, hi) -> dict:
    """{provider id: [trait name, ...]} of the providers with ids lo..hi."""
    traits: dict = {}
    for name, count, ids in conn.execute(_FLAT_TRAIT_MEMBERS, {"lo": lo, "hi": hi}):
        members = ids.split(",") if ids else []
        if len(members) != count:  # the database cut the string short
            traits = {}
            for rp_id, trait in conn.execute(_FLAT_TRAITS, {"lo": lo, "hi": hi}):
                traits.setdefault(rp_id, []).append(trait)
            return traits
        for rp_id in members:
            traits.setdefault(int(rp_id), []).append(name)
    return traits


# Flat queries by shape (see _flat_shape); every value is a bound parameter,
# so one statement serves every request of its shape.
_FLAT_QUERIES: dict = {}

_FLAT_QUERIES_MAX = 256


def _flat_shape(group, resolved, root_resolved, wide):
    required, forbidden, member_of, forbidden_aggs = resolved
    return (len(group.resources), len(required), bool(forbidden), len(root_resolved[0]),
            bool(root_resolved[1]), len(member_of), bool(forbidden_aggs),
            group.in_tree is not None, wide.limit is not None)


def _flat_query(shape):
    q = _FLAT_QUERIES.get(shape)
    if q is None:
        q = _build_flat_query(*shape)
        if len(_FLAT_QUERIES) < _FLAT_QUERIES_MAX:
            _FLAT_QUERIES[shape] = q
    return q


def _expanding(name):
    return _b(name, expanding=True)


def _build_flat_query(n_resources, n_required, forbidden, n_root_required, root_forbidden,
                      n_member_of, forbidden_aggs, in_tree, limit):
    """Parameters: rc{i}, amount{i} per class; req{j}, forbidden, root_req{j},
    root_forbidden, member{j}, forbidden_aggs (lists of ids); root; limit."""
    rp, inv, a = s.resource_providers, s.inventories, s.allocations
    joined = rp
    columns = [rp.c.id, rp.c.uuid]
    conds = []
    for i in range(n_resources):
        rc_id, amount = _b(f"rc{i}", type_=sa.Integer), _b(f"amount{i}", type_=sa.Integer)
        inv_i = inv.alias(f"inv{i}")
        use_i = (sa.select(a.c.resource_provider_id.label("rp"),
                           sa.func.sum(a.c.used).label("used"))
                 .where(a.c.resource_class_id == rc_id)
                 .group_by(a.c.resource_provider_id).subquery(f"use{i}"))
        joined = (joined.join(inv_i, sa.and_(inv_i.c.resource_provider_id == rp.c.id,
                                             inv_i.c.resource_class_id == rc_id))
                  .outerjoin(use_i, use_i.c.rp == rp.c.id))
        capacity = (inv_i.c.total - inv_i.c.reserved) * inv_i.c.allocation_ratio
        used = sa.func.coalesce(use_i.c.used, 0)
        columns += [capacity, used]
        conds += [inv_i.c.min_unit <= amount, inv_i.c.max_unit >= amount,
                  (amount % inv_i.c.step_size) == 0, capacity >= used + amount]
    conds += (trait_filters(rp.c.id, [_expanding(f"req{j}") for j in range(n_required)],
                            _expanding("forbidden") if forbidden else None)
              + trait_filters(rp.c.id,
                              [_expanding(f"root_req{j}") for j in range(n_root_required)],
                              _expanding("root_forbidden") if root_forbidden else None)
              + agg_filters(rp.c.id, [_expanding(f"member{j}") for j in range(n_member_of)],
                            _expanding("forbidden_aggs") if forbidden_aggs else None))
    if in_tree:
        conds.append(rp.c.root_provider_id == _b("root"))
    q = sa.select(*columns).select_from(joined).where(*conds).order_by(rp.c.id)
    if limit:
        q = q.limit(_b("limit", type_=sa.Integer))
    return q


def find_flat(conn, group: RequestGroup, wide: RequestWide, rc_cache):
    """One row per matching provider: its id, uuid and, for each requested
    class, capacity and usage; the capacity test, the filters, the order and
    the LIMIT all run in the database."""
    resolved = resolve_names(conn, group)
    root_resolved = resolve_names(conn, RequestGroup(required=wide.root_required,
                                                     forbidden=wide.root_forbidden))
    if resolved is None or root_resolved is None:
        return EMPTY
    required, forbidden, member_of, forbidden_aggs = resolved
    params = {}
    requested = []
    for i, (rc_name, amount) in enumerate(group.resources.items()):
        rc_id = rc_cache.id_of(rc_name)
        requested.append((rc_id, rc_name))
        params[f"rc{i}"], params[f"amount{i}"] = rc_id, amount
    for prefix, sets in (("req", required), ("root_req", root_resolved[0]),
                         ("member", member_of)):
        for j, ids in enumerate(sets):
            params[f"{prefix}{j}"] = sorted(ids)
    for name, ids in (("forbidden", forbidden), ("root_forbidden", root_resolved[1]),
                      ("forbidden_aggs", forbidden_aggs)):
        if ids:
            params[name] = sorted(ids)
    if group.in_tree:
        root = root_id_of(conn, group.in_tree)
        if root is None:
            return EMPTY
        params["root"] = root
    if wide.limit is not None:
        params["limit"] = wide.limit
    q = _flat_query(_flat_shape(group, resolved, root_resolved, wide))
    rows = conn.execute(q, params).all()
    if not rows:
        return EMPTY
    lo, hi = rows[0][0], rows[-1][0]
    asked = [rc_id for rc_id, _ in requested]
    # The rest of each summary, read by id range (cheap, index-ordered) and
    # kept for the providers chosen: inventories of the classes not asked
    # for, and the traits, one row per provider.
    other = collections.defaultdict(list)
    for rp_id, rc_id, total, reserved, ratio, used in conn.execute(
            _FLAT_OTHER_INVENTORIES, {"lo": lo, "hi": hi, "asked": asked}):
        other[rp_id].append((rc_cache.name_of(rc_id), int((total - reserved) * ratio),
                             int(used)))
    traits = _flat_traits(conn, lo, hi)
    return FlatCandidates(rows, [name for _, name in requested], dict(group.resources),
                          group.suffix, other, traits)


class FlatCandidates:
    """The answer of the flat path, kept as the database rows: one candidate
    per provider. Rendered straight to JSON text (:meth:`json`) at the
    asked microversion; a response of 10,000 candidates would otherwise
    build some 100,000 dicts only to serialise them."""

    def __init__(self, rows, requested, resources, suffix, other, traits):
        self.rows = rows  # (id, uuid, capacity, used per requested class ...)
        self.requested = requested  # class names, in the rows' order
        self.resources = resources  # class name -> amount asked
        self.suffix = suffix
        self.other = other  # rp id -> [(class name, capacity, used)] not asked for
        self.traits = traits  # rp id -> [trait name] (providers with traits)

    def as_dict(self) -> dict:
        """The shape :func:`find` documents (latest microversion)."""
        return json.loads(self.json((1, 99)))

    def json(self, version) -> str:
        """The response body at *version* (a (major, minor) tuple)."""
        resources = json.dumps(self.resources)
        if version < (1, 12):
            request = ('{"allocations": [{"resource_provider": {"uuid": "%s"}, '
                       '"resources": ' + resources.replace("%", "%%") + '}]}')
        elif version < (1, 34):
            request = '{"allocations": {"%s": {"resources": ' + \
                resources.replace("%", "%%") + '}}}'
        else:
            request = ('{"allocations": {"%s": {"resources": ' + resources.replace("%", "%%")
                       + '}}, "mappings": {' + json.dumps(self.suffix).replace("%", "%%")
                       + ': ["%s"]}}')
        twice = version >= (1, 34)
        requests = ", ".join([request % (row[1], row[1]) for row in self.rows] if twice
                             else [request % row[1] for row in self.rows])
        with_other = version >= (1, 27)
        with_traits = version >= (1, 17)
        with_tree = version >= (1, 29)
        names = self.requested
        other, traits = self.other, self.traits
        summaries = []
        for row in self.rows:
            parts = [f'"{name}": {{"capacity": {int(row[2 + 2 * k])}, '
                     f'"used": {int(row[3 + 2 * k])}}}' for k, name in enumerate(names)]
            if with_other and row[0] in other:
                parts += [f'"{name}": {{"capacity": {cap}, "used": {used}}}'
                          for name, cap, used in other[row[0]]]
            summary = '"%s": {"resources": {%s}' % (row[1], ", ".join(parts))
            if with_traits:
                names_of = traits.get(row[0])
                summary += ', "traits": [%s]' % (
                    ", ".join(f'"{t}"' for t in sorted(names_of))
                    if names_of else "")
            if with_tree:
                summary += ', "parent_provider_uuid": null, "root_provider_uuid": "%s"' % row[1]
            summaries.append(summary + "}")
        return ('{"allocation_requests": [' + requests + '], "provider_summaries": {'
                + ", ".join(summaries) + "}}")
