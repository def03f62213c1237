"""The cell database's services and compute nodes (tables services,
compute_nodes), with their change feeds."""
from __future__ import annotations

import functools
import uuid as uuidlib

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core import exception
from compute_core.db import cell_schema as t
from compute_core.db.rows import _d, now


def service_heartbeat(db, host, binary, topic, version=1, create=True) -> dict:
    """Create or refresh the service record; returns it."""
    s = t.services
    ts = now()
    with db.begin() as conn:
        row = conn.execute(sa.select(s).where(s.c.host == host).where(s.c.binary == binary)
                           .where(s.c.deleted == 0)).first()
        if row is None:
            if not create:
                raise exception.ServiceNotFound(service_id=f"{binary} on {host}")
            try:
                conn.execute(s.insert().values(
                    uuid=str(uuidlib.uuid4()), host=host, binary=binary, topic=topic,
                    report_count=1, disabled=False, forced_down=False, last_seen_up=ts,
                    version=version, created_at=ts, updated_at=ts, deleted=0))
            except db_exc.DBDuplicateEntry:
                pass
        else:
            conn.execute(s.update().where(s.c.id == row.id).values(
                report_count=row.report_count + 1, last_seen_up=ts, updated_at=ts,
                version=version))
        return _d(conn.execute(sa.select(s).where(s.c.host == host).where(s.c.binary == binary)
                               .where(s.c.deleted == 0)).first())


@functools.lru_cache(maxsize=8)
def _list_services_stmt(by_host: bool, by_binary: bool):
    s = t.services
    q = sa.select(s).where(s.c.deleted == 0)
    if by_host:
        q = q.where(s.c.host == sa.bindparam("b_host"))
    if by_binary:
        q = q.where(s.c.binary == sa.bindparam("b_binary"))
    return q.order_by(s.c.id)


def list_services(db, host=None, binary=None):
    q = _list_services_stmt(bool(host), bool(binary))
    with db.connect() as conn:
        return [_d(r) for r in conn.execute(q, {"b_host": host, "b_binary": binary})]


def update_service(db, service_uuid, values):
    s = t.services
    with db.begin() as conn:
        res = conn.execute(s.update().where(s.c.uuid == service_uuid).where(s.c.deleted == 0)
                           .values(updated_at=now(), **values))
    if res.rowcount == 0:
        raise exception.ServiceNotFound(service_id=service_uuid)


def delete_service(db, service_uuid) -> list[dict]:
    """Soft-delete a service and, for a compute service, its compute nodes;
    returns the nodes deleted."""
    s, n = t.services, t.compute_nodes
    stamp = now()
    with db.begin() as conn:
        row = conn.execute(sa.select(s.c.id, s.c.host, s.c.binary).where(s.c.uuid == service_uuid)
                           .where(s.c.deleted == 0)).first()
        if row is None:
            raise exception.ServiceNotFound(service_id=service_uuid)
        conn.execute(s.update().where(s.c.id == row.id)
                     .values(deleted=row.id, deleted_at=stamp, updated_at=stamp))
        nodes = []
        if row.binary == "compute-compute":
            nodes = [_d(r) for r in conn.execute(sa.select(n).where(n.c.host == row.host)
                                                 .where(n.c.deleted == 0))]
            conn.execute(n.update().where(n.c.host == row.host).where(n.c.deleted == 0)
                         .values(deleted=n.c.id, deleted_at=stamp, updated_at=stamp))
    return nodes


# ---------------------------------------------------------- compute nodes

def upsert_compute_node(db, values: dict) -> dict:
    n = t.compute_nodes
    with db.begin() as conn:
        row = conn.execute(sa.select(n.c.id).where(n.c.uuid == values["uuid"])).first()
        if row is None:
            conn.execute(n.insert().values(created_at=now(), deleted=0, mapped=0, **values))
        else:
            conn.execute(n.update().where(n.c.id == row.id).values(updated_at=now(), **values))
        return _d(conn.execute(sa.select(n).where(n.c.uuid == values["uuid"])).first())


@functools.lru_cache(maxsize=8)
def _list_nodes_stmt(by_host: bool, by_uuids: bool):
    n = t.compute_nodes
    q = sa.select(n).where(n.c.deleted == 0)
    if by_host:
        q = q.where(n.c.host == sa.bindparam("b_host"))
    if by_uuids:
        q = q.where(n.c.uuid.in_(sa.bindparam("b_uuids", expanding=True)))
    return q.order_by(n.c.id)


def list_compute_nodes(db, host=None, uuids=None):
    q = _list_nodes_stmt(bool(host), uuids is not None)
    params = {"b_host": host, "b_uuids": list(uuids) if uuids is not None else None}
    with db.connect() as conn:
        return [_d(r) for r in conn.execute(q, params)]


def _change_feed(table):
    """(every live row, the rows created/updated/deleted since b_since) of a
    small table, in id order."""
    since = sa.bindparam("b_since")
    live = sa.select(table).where(table.c.deleted == 0).order_by(table.c.id)
    changed = sa.select(table).where(sa.or_(
        table.c.updated_at >= since, table.c.created_at >= since,
        table.c.deleted_at >= since)).order_by(table.c.id)
    return live, changed


_NODE_FEED = _change_feed(t.compute_nodes)
_SERVICE_FEED = _change_feed(t.services)


def _feed(db, statements, since):
    live, changed = statements
    with db.connect() as conn:
        rows = conn.execute(live) if since is None else conn.execute(changed, {"b_since": since})
        return [_d(r) for r in rows]


def compute_nodes_changed_since(db, since=None) -> list[dict]:
    """The compute nodes created, updated or deleted at or after *since*
    (deleted ones with ``deleted`` set); with since=None every live one."""
    return _feed(db, _NODE_FEED, since)


def services_changed_since(db, since=None) -> list[dict]:
    """As compute_nodes_changed_since, for service records."""
    return _feed(db, _SERVICE_FEED, since)


def mark_nodes_mapped(db, hosts):
    n = t.compute_nodes
    with db.begin() as conn:
        conn.execute(n.update().where(n.c.host.in_(list(hosts))).values(mapped=1))
