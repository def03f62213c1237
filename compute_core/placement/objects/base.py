"""What the object modules share: the clock, a provider looked up by uuid, the
compare-and-swap of a provider's generation, usage by class, and the rows of
projects, users and aggregates (created on first use).
"""
from __future__ import annotations

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core import clock
from compute_core.placement import tables as s
from compute_core.placement.exception import ProviderNotFound, ProviderRaced


def now():
    return clock.current().utcnow()


# Statements of the hot paths (every claim, every lookup of a provider) are
# built once, with bound parameters: building a SQLAlchemy construct costs
# more CPU than running it, and a statement built once hits SQLAlchemy's
# compiled cache without even computing its cache key anew.
_b = sa.bindparam

_rp, _inv, _alloc, _cons = s.resource_providers, s.inventories, s.allocations, s.consumers
_PROVIDER_BY_UUID = sa.select(_rp.c.id, _rp.c.generation).where(_rp.c.uuid == _b("uuid"))
_BUMP = (_rp.update().where(_rp.c.id == _b("rp_id")).where(_rp.c.generation == _b("expected"))
         .values(generation=_b("new_gen"), updated_at=_b("now")))

_USAGE_BY_CLASS = (sa.select(_alloc.c.resource_class_id, sa.func.sum(_alloc.c.used))
                   .where(_alloc.c.resource_provider_id == _b("rp_id"))
                   .group_by(_alloc.c.resource_class_id))


def uuid_map(conn, ids):
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    rp = s.resource_providers
    return dict(conn.execute(sa.select(rp.c.id, rp.c.uuid).where(rp.c.id.in_(ids))).all())


def lookup_provider(conn, rp_uuid: str) -> tuple[int, int]:
    row = conn.execute(_PROVIDER_BY_UUID, {"uuid": rp_uuid}).first()
    if row is None:
        raise ProviderNotFound(f"No resource provider with uuid {rp_uuid} found")
    return row.id, row.generation


def bump_generation(conn, rp_id: int, expected: int) -> int:
    res = conn.execute(_BUMP, {"rp_id": rp_id, "expected": expected,
                               "new_gen": expected + 1, "now": now()})
    if res.rowcount != 1:
        raise ProviderRaced(
            "resource provider generation conflict: another process changed the "
            "provider concurrently; refresh and retry")
    return expected + 1


def usage_by_class(conn, rp_id: int) -> dict:
    return {rc: int(n) for rc, n in conn.execute(_USAGE_BY_CLASS, {"rp_id": rp_id})}


def external_row_id(db, table, external: str, column: str = "external_id") -> int:
    """Id of the row of *table* whose *column* is *external* (a project, a
    user, an aggregate), created in its own short transaction so that a
    concurrent creator never leaves the caller's transaction without it."""
    col = table.c[column]
    with db.connect() as conn:
        row = conn.execute(sa.select(table.c.id).where(col == external)).first()
    if row:
        return row.id
    try:
        with db.begin() as conn:
            return conn.execute(table.insert().values({column: external, "created_at": now()})
                                ).inserted_primary_key[0]
    except db_exc.DBDuplicateEntry:
        with db.connect() as conn:
            return conn.execute(sa.select(table.c.id).where(col == external)).scalar()


def is_write_race(exc) -> bool:
    """A database error that only means another writer got there first:
    InnoDB deadlocks and SQLite's "database is locked" (a deferred
    transaction whose snapshot went stale when another writer committed)."""
    if isinstance(exc, db_exc.DBDeadlock):
        return True
    return "database is locked" in str(exc)
