"""Usages: a provider's, by class; a project's (and user's), by consumer type
from 1.38.
"""
from __future__ import annotations

import sqlalchemy as sa

from compute_core.placement import tables as s
from compute_core.placement.objects.base import lookup_provider, usage_by_class


def get_usages(db, rp_uuid: str, rc_cache) -> tuple[int, dict]:
    inv = s.inventories
    with db.connect() as conn:
        rp_id, gen = lookup_provider(conn, rp_uuid)
        used = usage_by_class(conn, rp_id)
        classes = conn.execute(sa.select(inv.c.resource_class_id)
                               .where(inv.c.resource_provider_id == rp_id)).scalars().all()
    return gen, {rc_cache.name_of(c): used.get(c, 0) for c in set(classes) | set(used)}


def project_usages(db, project_id: str, user_id=None, rc_cache=None,
                   consumer_type=None, by_type=False) -> dict:
    """Usages of a project (and user). With *by_type* (1.38), grouped by
    consumer type with a consumer_count each; *consumer_type* filters, "all"
    folds every type into one group, "unknown" means consumers without one."""
    a, c = s.allocations, s.consumers
    ctype = sa.func.coalesce(c.c.consumer_type, "unknown")
    q = (sa.select(ctype.label("ctype"), a.c.resource_class_id, sa.func.sum(a.c.used),
                   sa.func.count(sa.distinct(c.c.id)))
         .select_from(a.join(c, a.c.consumer_id == c.c.uuid)
                      .join(s.projects, s.projects.c.id == c.c.project_id))
         .where(s.projects.c.external_id == project_id))
    count_q = (sa.select(ctype.label("ctype"), sa.func.count(sa.distinct(c.c.id)))
               .select_from(c.join(s.projects, s.projects.c.id == c.c.project_id))
               .where(s.projects.c.external_id == project_id)
               # consumers holding something (one may hold nothing, at generation 0)
               .where(sa.exists().where(a.c.consumer_id == c.c.uuid)))
    if user_id:
        q = q.join(s.users, s.users.c.id == c.c.user_id).where(s.users.c.external_id == user_id)
        count_q = (count_q.join(s.users, s.users.c.id == c.c.user_id)
                   .where(s.users.c.external_id == user_id))
    if consumer_type not in (None, "all"):
        # On the column itself, never on the coalesced label: "UNKNOWN" (a
        # type named so) must not match the consumers without a type under
        # MariaDB's case-insensitive collation. Stored types are [A-Z0-9_]+.
        cond = (c.c.consumer_type.is_(None) if consumer_type == "unknown"
                else c.c.consumer_type == consumer_type)
        q = q.where(cond)
        count_q = count_q.where(cond)
    fold = consumer_type == "all"
    key = (lambda t: "all") if fold else (lambda t: t)
    with db.connect() as conn:
        if not by_type:
            out: dict = {}
            for _t, rc, n, _count in conn.execute(q.group_by(ctype, a.c.resource_class_id)):
                name = rc_cache.name_of(rc)
                out[name] = out.get(name, 0) + int(n)
            return out
        out = {}
        for t, rc, n, _count in conn.execute(q.group_by(ctype, a.c.resource_class_id)):
            group = out.setdefault(key(t), {})
            name = rc_cache.name_of(rc)
            group[name] = group.get(name, 0) + int(n)
        counts: dict = {}
        for t, n in conn.execute(count_q.group_by(ctype)):
            counts[key(t)] = counts.get(key(t), 0) + int(n)
        for t, group in out.items():
            group["consumer_count"] = counts.get(t, 0)
        return out
