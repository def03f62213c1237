"""The servers that ran during a period (os-simple-tenant-usage), read from
a cell database, deleted ones included."""
from __future__ import annotations

import sqlalchemy as sa

from compute_core import exception
from compute_core.db import cell_schema as t

_I = t.instances


def active_in_window(db, start, stop, project_id=None, limit=None, marker=None,
                     host=None) -> list[dict]:
    """Instances launched before *stop* and not terminated before *start*
    (of *host* only, when given), oldest first (by creation, then id);
    after the instance *marker* (an uuid this cell does not have raises
    MarkerNotFound)."""
    query = (sa.select(_I).where(_I.c.launched_at.is_not(None))
             .where(_I.c.launched_at < stop)
             .where(sa.or_(_I.c.terminated_at.is_(None), _I.c.terminated_at > start))
             .order_by(_I.c.created_at, _I.c.id))
    if project_id is not None:
        query = query.where(_I.c.project_id == project_id)
    if host is not None:
        query = query.where(_I.c.host == host)
    with db.connect() as conn:
        if marker is not None:
            row = conn.execute(sa.select(_I.c.created_at, _I.c.id)
                               .where(_I.c.uuid == marker)).first()
            if row is None:
                raise MarkerNotFound(marker=marker)
            query = query.where(sa.or_(_I.c.created_at > row.created_at,
                                       sa.and_(_I.c.created_at == row.created_at,
                                               _I.c.id > row.id)))
        if limit is not None:
            query = query.limit(limit)
        return [dict(r._mapping) for r in conn.execute(query)]


class MarkerNotFound(exception.Invalid):
    msg_fmt = "Marker %(marker)s could not be found."
