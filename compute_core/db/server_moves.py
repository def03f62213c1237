"""The records of server moves (the cell's ``migrations`` table: resizes,
cold and live migrations, evacuations): their writes and reads, and the
listing with the owner of each moved server."""
from __future__ import annotations

import uuid as uuidlib

import sqlalchemy as sa

from compute_core import exception
from compute_core.db import cell_schema as t
from compute_core.db.rows import now

_M, _I = t.migrations, t.instances


def list_moves(db, filters: dict | None = None) -> list[dict]:
    """Migrations of the cell, oldest first, each with ``user_id`` and
    ``project_id`` of its server. Filters: ``host`` (source or destination),
    ``status``, ``instance_uuid``, ``source_compute``, ``migration_type``,
    ``user_id``, ``project_id``, ``hidden`` (bool), ``changes_since`` /
    ``changes_before`` (datetimes, on updated_at or created_at)."""
    filters = dict(filters or {})
    query = (sa.select(_M, _I.c.user_id, _I.c.project_id)
             .select_from(_M.outerjoin(_I, _I.c.uuid == _M.c.instance_uuid))
             .order_by(_M.c.created_at, _M.c.id))
    if "host" in filters:
        host = filters["host"]
        query = query.where(sa.or_(_M.c.source_compute == host, _M.c.dest_compute == host))
    for key in ("status", "instance_uuid", "source_compute", "migration_type"):
        if key in filters:
            value = filters[key]
            query = query.where(_M.c[key].in_(value) if isinstance(value, (list, tuple))
                                else _M.c[key] == value)
    for key in ("user_id", "project_id"):
        if key in filters:
            query = query.where(_I.c[key] == filters[key])
    if "hidden" in filters:
        query = query.where(sa.func.coalesce(_M.c.hidden, False) == filters["hidden"])
    changed = sa.func.coalesce(_M.c.updated_at, _M.c.created_at)
    if filters.get("changes_since") is not None:
        query = query.where(changed >= filters["changes_since"])
    if filters.get("changes_before") is not None:
        query = query.where(changed <= filters["changes_before"])
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def create_migration(db, values: dict) -> dict:
    """A migration record of a move (resize or cold migration)."""
    row = dict(values)
    row.setdefault("uuid", str(uuidlib.uuid4()))
    row["created_at"] = row["updated_at"] = now()
    with db.begin() as conn:
        conn.execute(t.migrations.insert().values(**row))
    return get_migration(db, row["uuid"])


def update_migration(db, uuid, values: dict) -> dict:
    with db.begin() as conn:
        conn.execute(t.migrations.update().where(t.migrations.c.uuid == uuid)
                     .values(updated_at=now(), **values))
    return get_migration(db, uuid)


def get_migration(db, uuid) -> dict:
    with db.connect() as conn:
        row = conn.execute(sa.select(t.migrations).where(t.migrations.c.uuid == uuid)).first()
    if row is None:
        raise exception.NotFound(f"Migration {uuid} could not be found.")
    return dict(row._mapping)


def migration_of_instance(db, instance_uuid, statuses) -> dict | None:
    """The newest migration of the instance in one of *statuses*."""
    with db.connect() as conn:
        row = conn.execute(sa.select(t.migrations)
                           .where(t.migrations.c.instance_uuid == instance_uuid)
                           .where(t.migrations.c.status.in_(list(statuses)))
                           .order_by(t.migrations.c.id.desc()).limit(1)).first()
    return None if row is None else dict(row._mapping)


def finished_migrations_to_host(db, dest_compute, before) -> list[dict]:
    """The moves to *dest_compute* waiting for a confirmation (status
    finished) since before *before*, oldest first."""
    m = t.migrations
    with db.connect() as conn:
        rows = conn.execute(sa.select(m).where(m.c.dest_compute == dest_compute)
                            .where(m.c.status == "finished").where(m.c.updated_at < before)
                            .where(m.c.deleted == 0).order_by(m.c.id))
        return [dict(r._mapping) for r in rows]


def migrations_from_host(db, source_compute, migration_type, statuses) -> list[dict]:
    """The migrations of *migration_type* away from *source_compute* in one
    of *statuses*, oldest first."""
    m = t.migrations
    with db.connect() as conn:
        rows = conn.execute(sa.select(m).where(m.c.source_compute == source_compute)
                            .where(m.c.migration_type == migration_type)
                            .where(m.c.status.in_(list(statuses)))
                            .where(m.c.deleted == 0).order_by(m.c.id))
        return [dict(r._mapping) for r in rows]
