"""Allocation candidates: the SQL and the combination logic behind
GET /allocation_candidates.

A request is a list of :class:`RequestGroup` (the unnumbered group has the
suffix ``""``; suffixed groups must each be satisfied by one provider) plus
request-wide options (:class:`RequestWide`). Two paths answer it:

* **flat**: when no provider tree and no sharing provider exists and the
  request is a single group, every candidate is one provider, and one SQL
  query (capacity, traits, aggregates, order, LIMIT) finds them.
* **general**: load once the provider trees that hold any requested capacity
  (and the trees sharing providers are anchored to), then build each group's
  candidates and combine them per tree in Python.

Capacity is ``(total - reserved) * allocation_ratio``; a request of N units
also has to respect min_unit, max_unit and step_size.
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import json

import sqlalchemy as sa

from compute_core.placement import schema as s

SHARES_TRAIT = "MISC_SHARES_VIA_AGGREGATE"


@dataclasses.dataclass
class RequestGroup:
    suffix: str = ""
    resources: dict = dataclasses.field(default_factory=dict)  # class name -> amount
    required: list = dataclasses.field(default_factory=list)  # [frozenset any-of names]
    forbidden: set = dataclasses.field(default_factory=set)
    member_of: list = dataclasses.field(default_factory=list)  # [set any-of agg uuids]
    forbidden_aggs: set = dataclasses.field(default_factory=set)
    in_tree: str | None = None

    @property
    def same_provider(self) -> bool:
        return self.suffix != ""


@dataclasses.dataclass
class RequestWide:
    limit: int | None = None
    group_policy: str | None = None
    root_required: list = dataclasses.field(default_factory=list)
    root_forbidden: set = dataclasses.field(default_factory=set)
    same_subtree: list = dataclasses.field(default_factory=list)  # [[suffix, ...]]
    nested_aware: bool = True


EMPTY = {"allocation_requests": [], "provider_summaries": {}}


# ------------------------------------------------------------ SQL pieces

def _trait_ids(conn, names) -> dict:
    t = s.traits
    if not names:
        return {}
    return dict(conn.execute(sa.select(t.c.name, t.c.id).where(t.c.name.in_(set(names)))).all())


def _agg_ids(conn, uuids) -> dict:
    agg = s.placement_aggregates
    if not uuids:
        return {}
    return dict(conn.execute(sa.select(agg.c.uuid, agg.c.id)
                             .where(agg.c.uuid.in_(set(uuids)))).all())


def _root_id_of(conn, rp_uuid):
    rp = s.resource_providers
    return conn.execute(sa.select(rp.c.root_provider_id).where(rp.c.uuid == rp_uuid)).scalar()


def has_trees(conn) -> bool:
    rp = s.resource_providers
    return conn.execute(sa.select(rp.c.id).where(rp.c.parent_provider_id.is_not(None))
                        .limit(1)).first() is not None


def _sharing_ids(conn) -> set:
    t, rpt = s.traits, s.resource_provider_traits
    return set(conn.execute(
        sa.select(rpt.c.resource_provider_id).join(t, t.c.id == rpt.c.trait_id)
        .where(t.c.name == SHARES_TRAIT)).scalars())


def _free_expr(inv, amount):
    """Clause: one more allocation of *amount* fits this inventory row."""
    a = s.allocations
    used = (sa.select(sa.func.coalesce(sa.func.sum(a.c.used), 0))
            .where(a.c.resource_provider_id == inv.c.resource_provider_id)
            .where(a.c.resource_class_id == inv.c.resource_class_id)
            .scalar_subquery())
    return sa.and_(
        inv.c.min_unit <= amount, inv.c.max_unit >= amount,
        (sa.literal(amount) % inv.c.step_size) == 0,
        (inv.c.total - inv.c.reserved) * inv.c.allocation_ratio >= used + amount)


def _some(ids) -> bool:
    """A non-empty collection of ids, or a bound parameter standing for one."""
    return isinstance(ids, sa.BindParameter) or bool(ids)


def _trait_filters(rp_id_col, required_ids, forbidden_ids):
    """Clauses for [set of any-of trait ids] required and forbidden ids
    (collections of ids, or expanding bound parameters)."""
    rpt = s.resource_provider_traits
    out = []
    for any_of in required_ids:
        out.append(rp_id_col.in_(sa.select(rpt.c.resource_provider_id)
                                 .where(rpt.c.trait_id.in_(any_of))))
    if _some(forbidden_ids):
        out.append(rp_id_col.not_in(sa.select(rpt.c.resource_provider_id)
                                    .where(rpt.c.trait_id.in_(forbidden_ids))))
    return out


def _agg_filters(rp_id_col, member_of_ids, forbidden_ids):
    rpa = s.resource_provider_aggregates
    out = []
    for any_of in member_of_ids:
        out.append(rp_id_col.in_(sa.select(rpa.c.resource_provider_id)
                                 .where(rpa.c.aggregate_id.in_(any_of))))
    if _some(forbidden_ids):
        out.append(rp_id_col.not_in(sa.select(rpa.c.resource_provider_id)
                                    .where(rpa.c.aggregate_id.in_(forbidden_ids))))
    return out


def _any_of_ids(sets_of_names, ids):
    """[{name, ...}] -> [{id, ...}]; None when a set names nothing known."""
    out = []
    for any_of in sets_of_names:
        found = {ids[n] for n in any_of if n in ids}
        if not found:
            return None
        out.append(found)
    return out


def _resolve_names(conn, group):
    """Trait and aggregate ids of *group*; None when it can match nothing."""
    tids = _trait_ids(conn, set().union(*group.required, group.forbidden))
    aids = _agg_ids(conn, set().union(*group.member_of, group.forbidden_aggs))
    required = _any_of_ids(group.required, tids)
    member_of = _any_of_ids(group.member_of, aids)
    if required is None or member_of is None:
        return None
    return (required, {tids[n] for n in group.forbidden if n in tids}, member_of,
            {aids[u] for u in group.forbidden_aggs if u in aids})


def _summary_rows(conn, rp_filter):
    """(rp_id, class id, capacity, used, max_unit) of every inventory whose
    provider id matches *rp_filter* (a clause on inventories)."""
    inv, a = s.inventories, s.allocations
    used = (sa.select(sa.func.coalesce(sa.func.sum(a.c.used), 0))
            .where(a.c.resource_provider_id == inv.c.resource_provider_id)
            .where(a.c.resource_class_id == inv.c.resource_class_id)
            .scalar_subquery())
    q = sa.select(inv.c.resource_provider_id, inv.c.resource_class_id, inv.c.total,
                  inv.c.reserved, inv.c.allocation_ratio, used).where(rp_filter)
    return conn.execute(q).all()


def _traits_of(conn, rp_filter_col_clause) -> dict:
    rpt, t = s.resource_provider_traits, s.traits
    out = collections.defaultdict(set)
    for rp_id, name in conn.execute(
            sa.select(rpt.c.resource_provider_id, t.c.name)
            .join(t, t.c.id == rpt.c.trait_id).where(rp_filter_col_clause)):
        out[rp_id].add(name)
    return out


# ------------------------------------------------------------- the entry

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
            trees, sharing = conn.execute(_TREES_OR_SHARING).one()
            flat = not trees and not sharing
        if flat:
            return _find_flat(conn, groups[0], wide, rc_cache)
        return _General(conn, groups, wide, rc_cache).run()


# ------------------------------------------------------------- flat path

_b = sa.bindparam

# Whether any provider has a parent, whether any shares: either rules the
# flat path out. One round trip, built once.
_TREES_OR_SHARING = sa.select(
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
    conds += (_trait_filters(rp.c.id, [_expanding(f"req{j}") for j in range(n_required)],
                             _expanding("forbidden") if forbidden else None)
              + _trait_filters(rp.c.id,
                               [_expanding(f"root_req{j}") for j in range(n_root_required)],
                               _expanding("root_forbidden") if root_forbidden else None)
              + _agg_filters(rp.c.id, [_expanding(f"member{j}") for j in range(n_member_of)],
                             _expanding("forbidden_aggs") if forbidden_aggs else None))
    if in_tree:
        conds.append(rp.c.root_provider_id == _b("root"))
    q = sa.select(*columns).select_from(joined).where(*conds).order_by(rp.c.id)
    if limit:
        q = q.limit(_b("limit", type_=sa.Integer))
    return q


def _find_flat(conn, group: RequestGroup, wide: RequestWide, rc_cache):
    """One row per matching provider: its id, uuid and, for each requested
    class, capacity and usage; the capacity test, the filters, the order and
    the LIMIT all run in the database."""
    resolved = _resolve_names(conn, group)
    root_resolved = _resolve_names(conn, RequestGroup(required=wide.root_required,
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
        root = _root_id_of(conn, group.in_tree)
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


# ---------------------------------------------------------- general path

_Cand = collections.namedtuple("_Cand", "anchor alloc providers suffix same")


class _General:
    """Trees, traits, aggregates and capacities loaded once; candidates
    combined per anchor tree."""

    def __init__(self, conn, groups, wide, rc_cache):
        self.conn = conn
        self.groups = groups
        self.wide = wide
        self.rc_cache = rc_cache

    # -- loading
    def _load(self) -> bool:
        conn = self.conn
        rp, inv, a = s.resource_providers, s.inventories, s.allocations
        rpa, agg = s.resource_provider_aggregates, s.placement_aggregates
        wanted: dict[int, int] = {}
        for g in self.groups:
            for name, amount in g.resources.items():
                rc_id = self.rc_cache.id_of(name)
                wanted[rc_id] = min(amount, wanted.get(rc_id, amount))
        usage = (sa.select(a.c.resource_provider_id.label("rp"),
                           a.c.resource_class_id.label("rc"),
                           sa.func.sum(a.c.used).label("used"))
                 .where(a.c.resource_class_id.in_(list(wanted) or [-1]))
                 .group_by(a.c.resource_provider_id, a.c.resource_class_id).subquery())
        used = sa.func.coalesce(usage.c.used, 0)
        q = (sa.select(inv.c.resource_provider_id, inv.c.resource_class_id, inv.c.total,
                       inv.c.reserved, inv.c.allocation_ratio, inv.c.min_unit,
                       inv.c.max_unit, inv.c.step_size, used)
             .select_from(inv.outerjoin(usage, sa.and_(
                 usage.c.rp == inv.c.resource_provider_id,
                 usage.c.rc == inv.c.resource_class_id)))
             .where(sa.or_(sa.false(), *[
                 sa.and_(inv.c.resource_class_id == rc_id,
                         (inv.c.total - inv.c.reserved) * inv.c.allocation_ratio
                         >= used + amount)
                 for rc_id, amount in wanted.items()])))
        # (rp, rc) -> (capacity float, used, min, max, step)
        self.inv = {}
        for row in conn.execute(q):
            self.inv[(row[0], row[1])] = ((row[2] - row[3]) * row[4], int(row[8]),
                                          row[5], row[6], row[7])
        holders = {k[0] for k in self.inv}
        self.sharing = _sharing_ids(conn)
        roots = set()
        if holders:
            roots = set(conn.execute(sa.select(rp.c.root_provider_id)
                                     .where(rp.c.id.in_(holders))).scalars())
        # Sharing providers holding capacity are anchored to every tree that
        # has a provider in one of their aggregates.
        self.anchors_of: dict[int, set] = {}
        sharing_holders = holders & self.sharing
        if sharing_holders:
            rpa2 = rpa.alias("other")
            for sh, root in conn.execute(
                    sa.select(rpa.c.resource_provider_id, rp.c.root_provider_id)
                    .select_from(rpa.join(rpa2, rpa2.c.aggregate_id == rpa.c.aggregate_id)
                                 .join(rp, rp.c.id == rpa2.c.resource_provider_id))
                    .where(rpa.c.resource_provider_id.in_(sharing_holders))):
                self.anchors_of.setdefault(sh, set()).add(root)
                roots.add(root)
        # Resourceless groups may match anywhere in the trees already found.
        if not roots:
            return False
        self.prov = {}  # id -> (uuid, parent id, root id)
        for row in conn.execute(sa.select(rp.c.id, rp.c.uuid, rp.c.parent_provider_id,
                                          rp.c.root_provider_id)
                                .where(rp.c.root_provider_id.in_(roots))):
            self.prov[row[0]] = (row[1], row[2], row[3])
        for sh in sharing_holders:
            self.anchors_of.setdefault(sh, set()).add(self.prov[sh][2])
        ids = list(self.prov)
        self.traits = _traits_of(conn, s.resource_provider_traits.c.resource_provider_id.in_(ids))
        self.aggs = collections.defaultdict(set)
        for rp_id, agg_uuid in conn.execute(
                sa.select(rpa.c.resource_provider_id, agg.c.uuid)
                .join(agg, agg.c.id == rpa.c.aggregate_id)
                .where(rpa.c.resource_provider_id.in_(ids))):
            self.aggs[rp_id].add(agg_uuid)
        self.by_root = collections.defaultdict(list)
        for rp_id, (_, _, root) in sorted(self.prov.items()):
            self.by_root[root].append(rp_id)
        return True

    # -- predicates
    def _fits(self, rp_id, rc_id, amount):
        row = self.inv.get((rp_id, rc_id))
        if row is None:
            return False
        cap, used, lo, hi, step = row
        return lo <= amount <= hi and amount % step == 0 and cap >= used + amount

    @staticmethod
    def _traits_ok(have, required, forbidden):
        return all(any_of & have for any_of in required) and not (forbidden & have)

    def _aggs_ok(self, rp_id, g, with_root):
        have = self.aggs.get(rp_id, set())
        if with_root:
            have = have | self.aggs.get(self.prov[rp_id][2], set())
        return all(any_of & have for any_of in g.member_of) and not (g.forbidden_aggs & have)

    # -- per group
    def _tree_root(self, uuid):
        for rp_id, (u, _, root) in self.prov.items():
            if u == uuid:
                return root
        return _root_id_of(self.conn, uuid) or -1

    def _same_provider_cands(self, g):
        rc = {self.rc_cache.id_of(n): amt for n, amt in g.resources.items()}
        tree = self._tree_root(g.in_tree) if g.in_tree else None
        alloc = tuple(sorted(rc.items()))
        out = []
        for rp_id, (_, _, root) in self.prov.items():
            if tree is not None and root != tree:
                continue
            if not all(self._fits(rp_id, c, amt) for c, amt in rc.items()):
                continue
            if not self._traits_ok(self.traits.get(rp_id, set()), g.required, g.forbidden):
                continue
            if not self._aggs_ok(rp_id, g, with_root=False):
                continue
            anchors = {root}
            # A sharing provider serves the trees it shares with, also when
            # in_tree{N} names it (as in openstack-placement).
            if rc and rp_id in self.sharing:
                anchors |= self.anchors_of.get(rp_id, set())
            cells = tuple((rp_id, c, amt) for c, amt in alloc)
            for anchor in anchors:
                out.append(_Cand(anchor, cells, frozenset([rp_id]), g.suffix, True))
        return out

    def _spread_cands(self, g):
        rc = {self.rc_cache.id_of(n): amt for n, amt in g.resources.items()}
        tree = self._tree_root(g.in_tree) if g.in_tree else None
        shared_by_anchor = collections.defaultdict(set)
        if tree is None:
            for sh, anchors in self.anchors_of.items():
                for anchor in anchors:
                    shared_by_anchor[anchor].add(sh)
        out = []
        for anchor in sorted(self.by_root):
            if tree is not None and anchor != tree:
                continue
            members = list(self.by_root[anchor])
            members += sorted(shared_by_anchor.get(anchor, set()) - set(members))
            options = []
            for c, amt in sorted(rc.items()):
                opts = [p for p in members
                        if self._fits(p, c, amt) and self._aggs_ok(p, g, with_root=True)]
                if not opts:
                    break
                options.append([(p, c, amt) for p in opts])
            else:
                for combo in itertools.product(*options):
                    provs = frozenset(p for p, _, _ in combo)
                    have = set()
                    bad = False
                    for p in provs:
                        t = self.traits.get(p, set())
                        if g.forbidden & t:
                            bad = True
                            break
                        have |= t
                    if bad or not all(any_of & have for any_of in g.required):
                        continue
                    out.append(_Cand(anchor, combo, provs, g.suffix, False))
        return out

    # -- combination
    def _ancestors(self, rp_id):
        out = set()
        while rp_id is not None:
            out.add(rp_id)
            rp_id = self.prov[rp_id][1] if rp_id in self.prov else None
        return out

    def _same_subtree_ok(self, combo):
        for suffixes in self.wide.same_subtree:
            provs = set().union(*(c.providers for c in combo if c.suffix in suffixes))
            if len(provs) <= 1:
                continue
            common = set.intersection(*(self._ancestors(p) for p in provs))
            if not common & provs:
                return False
        return True

    def run(self) -> dict:
        if not self._load():
            return EMPTY
        wide = self.wide
        by_group = []
        for g in self.groups:
            cands = (self._same_provider_cands(g) if g.same_provider
                     else self._spread_cands(g))
            if not cands:
                return EMPTY
            per_anchor = collections.defaultdict(list)
            for c in cands:
                per_anchor[c.anchor].append(c)
            by_group.append(per_anchor)
        numbered = sum(1 for g in self.groups if g.same_provider)
        results: dict = {}
        anchors = set.intersection(*(set(pa) for pa in by_group))
        for anchor in sorted(anchors):
            if not self._traits_ok(self.traits.get(anchor, set()), wide.root_required,
                                   wide.root_forbidden):
                continue
            isolate = wide.group_policy == "isolate" and numbered > 1
            for combo, amounts in self._combinations([pa[anchor] for pa in by_group],
                                                     isolate):
                if not self._same_subtree_ok(combo):
                    continue
                mappings = collections.defaultdict(set)
                for c in combo:
                    mappings[c.suffix] |= c.providers
                if not wide.nested_aware:
                    provs = {p for p, _ in amounts}
                    if len({self.prov[p][2] for p in provs}) != len(provs):
                        continue
                key = (frozenset(amounts.items()),
                       frozenset((k, frozenset(v)) for k, v in mappings.items()))
                if key not in results:
                    results[key] = (amounts, mappings)
                if wide.limit is not None and len(results) >= wide.limit:
                    break
            if wide.limit is not None and len(results) >= wide.limit:
                break
        if not results:
            return EMPTY
        return self._render(list(results.values()))

    def _combinations(self, lists, isolate):
        """(combo, {(provider, class): amount}) for each combination of one
        candidate per list that keeps within every inventory and, when
        *isolate*, puts the same-provider groups on distinct providers: in
        itertools.product's order, but found by a depth-first search that
        drops a partial combination as soon as it breaks either rule (both
        only get worse as candidates are added), and under isolation as
        soon as the groups still to place cannot all get distinct
        providers. Its cost is then bounded by what it yields, instead of
        the product of the lists' lengths."""
        depth = len(lists)
        # Per list, the providers its same-provider candidates offer (for
        # the look-ahead of isolation).
        offers = [{p for c in cands if c.same for p in c.providers} if isolate else set()
                  for cands in lists]
        amounts: dict = collections.defaultdict(int)
        taken: set = set()  # providers of same-provider candidates chosen
        chosen: list = []
        position = [-1] * depth
        level = 0
        while level >= 0:
            if len(chosen) > level:  # undo this level's previous choice
                self._take(chosen.pop(), amounts, taken, isolate, -1)
            position[level] += 1
            if position[level] == len(lists[level]):
                position[level] = -1
                level -= 1
                continue
            cand = lists[level][position[level]]
            if isolate and cand.same and cand.providers & taken:
                continue
            if any(not self._fits_total((p, rc_id), amounts[(p, rc_id)] + amt)
                   for p, rc_id, amt in cand.alloc):
                continue
            self._take(cand, amounts, taken, isolate, 1)
            chosen.append(cand)
            if isolate and not _distinct_providers_left(offers[level + 1:], taken):
                continue  # undone at the top of the loop
            if level == depth - 1:
                yield tuple(chosen), {k: v for k, v in amounts.items() if v}
            else:
                level += 1

    @staticmethod
    def _take(cand, amounts, taken, isolate, sign):
        for p, rc_id, amt in cand.alloc:
            amounts[(p, rc_id)] += sign * amt
        if isolate and cand.same:
            if sign > 0:
                taken |= cand.providers
            else:
                taken -= cand.providers

    def _fits_total(self, key, amount):
        cap, used, _lo, hi, _step = self.inv[key]
        return amount <= hi and cap >= used + amount

    def _render(self, results) -> dict:
        uuid = {p: v[0] for p, v in self.prov.items()}
        requests = []
        in_requests = set()
        for amounts, mappings in results:
            allocs: dict = {}
            for (p, rc_id), amt in sorted(amounts.items()):
                allocs.setdefault(uuid[p], {"resources": {}})["resources"][
                    self.rc_cache.name_of(rc_id)] = amt
                in_requests.add(p)
            requests.append({"allocations": allocs, "mappings": {
                sfx: sorted(uuid[p] for p in provs) for sfx, provs in mappings.items()}})
        if self.wide.nested_aware:
            roots = {self.prov[p][2] for p in in_requests}
            shown = [p for p in self.prov if self.prov[p][2] in roots]
        else:
            shown = sorted(in_requests)
        summaries = {}
        for p in shown:
            u, parent, root = self.prov[p]
            summaries[u] = {"resources": {}, "traits": sorted(self.traits.get(p, ())),
                            "parent_provider_uuid": uuid.get(parent),
                            "root_provider_uuid": uuid[root]}
        for rp_id, rc_id, total, reserved, ratio, used in _summary_rows(
                self.conn, s.inventories.c.resource_provider_id.in_(shown)):
            summaries[uuid[rp_id]]["resources"][self.rc_cache.name_of(rc_id)] = {
                "capacity": int((total - reserved) * ratio), "used": int(used)}
        return {"allocation_requests": requests, "provider_summaries": summaries}


def _distinct_providers_left(offers, taken) -> bool:
    """Whether every set of *offers* that is not empty (the providers a
    same-provider group still to place may use) can get a provider of its
    own outside *taken*: a bipartite matching grown by one augmenting path
    (breadth-first, no recursion) per group."""
    owner: dict = {}  # provider -> group matched to it
    owned: dict = {}  # group -> its provider
    for start, offer in enumerate(offers):
        if not offer:
            continue
        reached_from = {}  # provider -> group the search reached it from
        queue, seen, free = collections.deque([start]), {start}, None
        while queue and free is None:
            group = queue.popleft()
            for p in offers[group]:
                if p in taken or p in reached_from:
                    continue
                reached_from[p] = group
                if p not in owner:
                    free = p
                    break
                if owner[p] not in seen:
                    seen.add(owner[p])
                    queue.append(owner[p])
        if free is None:
            return False
        p = free
        while True:  # each group on the path moves to the provider it reached
            group = reached_from[p]
            previous = owned.get(group)
            owner[p], owned[group] = group, p
            if group == start:
                break
            p = previous
    return True
