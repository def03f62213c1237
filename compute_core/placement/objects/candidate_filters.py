"""What an allocation-candidates request asks (:class:`RequestGroup`,
:class:`RequestWide`) and the SQL pieces that filter providers by it
(capacity, traits, aggregates), shared by both search paths and by
``GET /resource_providers``.
"""
from __future__ import annotations

import collections
import dataclasses

import sqlalchemy as sa

from compute_core.placement import tables as s

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


def root_id_of(conn, rp_uuid):
    rp = s.resource_providers
    return conn.execute(sa.select(rp.c.root_provider_id).where(rp.c.uuid == rp_uuid)).scalar()


def has_trees(conn) -> bool:
    rp = s.resource_providers
    return conn.execute(sa.select(rp.c.id).where(rp.c.parent_provider_id.is_not(None))
                        .limit(1)).first() is not None


def sharing_ids(conn) -> set:
    t, rpt = s.traits, s.resource_provider_traits
    return set(conn.execute(
        sa.select(rpt.c.resource_provider_id).join(t, t.c.id == rpt.c.trait_id)
        .where(t.c.name == SHARES_TRAIT)).scalars())


def free_expr(inv, amount):
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


def trait_filters(rp_id_col, required_ids, forbidden_ids):
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


def agg_filters(rp_id_col, member_of_ids, forbidden_ids):
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


def resolve_names(conn, group):
    """Trait and aggregate ids of *group*; None when it can match nothing."""
    tids = _trait_ids(conn, set().union(*group.required, group.forbidden))
    aids = _agg_ids(conn, set().union(*group.member_of, group.forbidden_aggs))
    required = _any_of_ids(group.required, tids)
    member_of = _any_of_ids(group.member_of, aids)
    if required is None or member_of is None:
        return None
    return (required, {tids[n] for n in group.forbidden if n in tids}, member_of,
            {aids[u] for u in group.forbidden_aggs if u in aids})


def summary_rows(conn, rp_filter):
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


def traits_of(conn, rp_filter_col_clause) -> dict:
    rpt, t = s.resource_provider_traits, s.traits
    out = collections.defaultdict(set)
    for rp_id, name in conn.execute(
            sa.select(rpt.c.resource_provider_id, t.c.name)
            .join(t, t.c.id == rpt.c.trait_id).where(rp_filter_col_clause)):
        out[rp_id].add(name)
    return out
