"""Traits (the standard ones from os-traits, custom ones) and a provider's
traits.
"""
from __future__ import annotations

import os_traits
import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core.placement import tables as s
from compute_core.placement.exception import BadRequest, Conflict, GenerationConflict, NotFound
from compute_core.placement.objects.base import bump_generation, lookup_provider, now


def ensure_standard_traits(db) -> None:
    t = s.traits
    with db.begin() as conn:
        have = set(conn.execute(sa.select(t.c.name)).scalars())
        missing = [n for n in os_traits.get_traits() if n not in have]
        if missing:
            conn.execute(t.insert(), [{"name": n, "created_at": now()} for n in missing])


def list_traits(db, name_filter=None, associated=None) -> list[str]:
    t = s.traits
    q = sa.select(t.c.name)
    if name_filter:
        kind, _, value = name_filter.partition(":")
        if kind == "in":
            q = q.where(t.c.name.in_(value.split(",")))
        elif kind == "startswith":
            q = q.where(t.c.name.like(value + "%"))
    if associated is not None:
        sub = sa.select(s.resource_provider_traits.c.trait_id)
        q = q.where(t.c.id.in_(sub) if associated else t.c.id.not_in(sub))
    with db.connect() as conn:
        return sorted(conn.execute(q).scalars())


def create_trait(db, name: str) -> bool:
    """Create a CUSTOM_ trait; return False when it already existed."""
    if not name.startswith(os_traits.CUSTOM_NAMESPACE):
        raise BadRequest(f"The trait {name} is not a custom trait: it must start with CUSTOM_")
    try:
        with db.begin() as conn:
            conn.execute(s.traits.insert().values(name=name, created_at=now()))
        return True
    except db_exc.DBDuplicateEntry:
        return False


def delete_trait(db, name: str) -> None:
    t, rpt = s.traits, s.resource_provider_traits
    with db.begin() as conn:
        # looked up first: an unknown name is a 404 whatever its prefix
        trait_id = conn.execute(sa.select(t.c.id).where(t.c.name == name)).scalar()
        if trait_id is None:
            raise NotFound(f"No such trait(s): {name}.")
        if not name.startswith(os_traits.CUSTOM_NAMESPACE):
            raise BadRequest(f"Cannot delete standard trait {name}.")
        if conn.execute(sa.select(rpt.c.trait_id).where(rpt.c.trait_id == trait_id)
                        .limit(1)).first():
            raise Conflict(f"The trait {name} is in use by a resource provider.")
        conn.execute(t.delete().where(t.c.id == trait_id))


def get_provider_traits(db, rp_uuid: str) -> tuple[int, list[str]]:
    rpt, t = s.resource_provider_traits, s.traits
    with db.connect() as conn:
        rp_id, gen = lookup_provider(conn, rp_uuid)
        names = conn.execute(sa.select(t.c.name).join(rpt, rpt.c.trait_id == t.c.id)
                             .where(rpt.c.resource_provider_id == rp_id)).scalars().all()
    return gen, sorted(names)


def set_provider_traits(db, rp_uuid: str, generation: int, names: list[str]) -> int:
    rpt, t = s.resource_provider_traits, s.traits
    with db.begin() as conn:
        rp_id, gen = lookup_provider(conn, rp_uuid)
        if gen != generation:
            raise GenerationConflict("Resource provider's generation already changed. Please "
                                     "update the generation and try again.")
        rows = dict(conn.execute(sa.select(t.c.name, t.c.id).where(t.c.name.in_(names))).all())
        unknown = sorted(set(names) - set(rows))
        if unknown:
            raise BadRequest(f"No such trait {', '.join(unknown)}",
                             code="placement.undefined_code")
        have = set(conn.execute(sa.select(rpt.c.trait_id)
                                .where(rpt.c.resource_provider_id == rp_id)).scalars())
        if have == set(rows.values()):
            return gen  # nothing changes: nor does the generation (as in Placement)
        conn.execute(rpt.delete().where(rpt.c.resource_provider_id == rp_id))
        if rows:
            conn.execute(rpt.insert(), [{"trait_id": i, "resource_provider_id": rp_id,
                                         "created_at": now()} for i in rows.values()])
        return bump_generation(conn, rp_id, gen)
