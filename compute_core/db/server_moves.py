"""Reads of the records of server moves (the cell's ``migrations`` table:
resizes, cold and live migrations, evacuations), with the owner of each
moved server."""
from __future__ import annotations

import sqlalchemy as sa

from compute_core.db import cell_schema as t

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
