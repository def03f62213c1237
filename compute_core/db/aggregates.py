"""Host aggregates in the API database: named sets of hosts with metadata.

An aggregate's ``availability_zone`` is its metadata key of that name: the
hosts of such an aggregate are in that zone (one zone per host, as in Nova).
Every write bumps the aggregate's ``updated_at``, and :func:`hosts_index`
is what the scheduler reads to give each host state its aggregates.
"""
from __future__ import annotations

import uuid as uuidlib

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core import exception
from compute_core.db import api_schema as t
from compute_core.db.api_db import now

AZ_KEY = "availability_zone"


class AggregateNotFound(exception.NotFound):
    msg_fmt = "Aggregate %(aggregate_id)s could not be found."


class AggregateNameExists(exception.Conflict):
    msg_fmt = "Aggregate %(name)s already exists."


class AggregateHostExists(exception.Conflict):
    msg_fmt = "Aggregate %(aggregate_id)s already has host %(host)s."


class AggregateHostNotFound(exception.NotFound):
    msg_fmt = "Aggregate %(aggregate_id)s has no host %(host)s."


class InvalidAggregateAction(exception.Invalid):
    msg_fmt = "Unacceptable parameters: Cannot %(action)s aggregate %(aggregate_id)s. " \
              "Reason: %(reason)s."


class AggregateZoneConflict(exception.Conflict):
    msg_fmt = "Cannot %(action)s aggregate %(aggregate_id)s. Reason: %(reason)s."


def _by_id(conn, aggregate_id):
    col = t.aggregates.c.uuid if isinstance(aggregate_id, str) and not \
        str(aggregate_id).isdigit() else t.aggregates.c.id
    row = conn.execute(sa.select(t.aggregates).where(col == aggregate_id)).first()
    if row is None:
        raise AggregateNotFound(aggregate_id=aggregate_id)
    return dict(row._mapping)


def _full(conn, row) -> dict:
    hosts = [r.host for r in conn.execute(
        sa.select(t.aggregate_hosts.c.host).where(t.aggregate_hosts.c.aggregate_id == row["id"])
        .order_by(t.aggregate_hosts.c.id))]
    metadata = {r.key: r.value for r in conn.execute(
        sa.select(t.aggregate_metadata.c.key, t.aggregate_metadata.c.value)
        .where(t.aggregate_metadata.c.aggregate_id == row["id"]))}
    return dict(row, hosts=hosts, metadata=metadata,
                availability_zone=metadata.get(AZ_KEY))


def get(db, aggregate_id) -> dict:
    """One aggregate by id (an integer) or uuid, with hosts and metadata."""
    with db.connect() as conn:
        return _full(conn, _by_id(conn, aggregate_id))


def list_all(db) -> list[dict]:
    with db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            sa.select(t.aggregates).order_by(t.aggregates.c.id))]
        return [_full(conn, row) for row in rows]


def _zones_of_hosts(conn, hosts, skip_aggregate=None) -> dict[str, set[str]]:
    """{host: zones given to it by aggregates other than *skip_aggregate*}."""
    query = (sa.select(t.aggregate_hosts.c.host, t.aggregate_metadata.c.value)
             .join(t.aggregate_metadata,
                   t.aggregate_metadata.c.aggregate_id == t.aggregate_hosts.c.aggregate_id)
             .where(t.aggregate_metadata.c.key == AZ_KEY)
             .where(t.aggregate_hosts.c.host.in_(list(hosts))))
    if skip_aggregate is not None:
        query = query.where(t.aggregate_hosts.c.aggregate_id != skip_aggregate)
    zones: dict[str, set[str]] = {}
    for host, zone in conn.execute(query):
        zones.setdefault(host, set()).add(zone)
    return zones


def _check_zone(conn, agg, zone, hosts, action):
    """A host is in one zone: refuse a zone for *hosts* that some other
    aggregate puts in another zone."""
    if zone is None or not hosts:
        return
    for host, zones in _zones_of_hosts(conn, hosts, skip_aggregate=agg["id"]).items():
        other = zones - {zone}
        if other:
            raise AggregateZoneConflict(
                action=action, aggregate_id=agg["id"],
                reason=f"One or more hosts already in availability zone(s) {sorted(other)}")


def create(db, name: str, availability_zone: str | None = None) -> dict:
    stamp = now()
    try:
        with db.begin() as conn:
            if conn.execute(sa.select(t.aggregates.c.id)
                            .where(t.aggregates.c.name == name)).first() is not None:
                raise AggregateNameExists(name=name)
            agg_id = conn.execute(t.aggregates.insert().values(
                uuid=str(uuidlib.uuid4()), name=name, created_at=stamp)).inserted_primary_key[0]
            if availability_zone is not None:
                conn.execute(t.aggregate_metadata.insert().values(
                    aggregate_id=agg_id, key=AZ_KEY, value=availability_zone, created_at=stamp))
    except db_exc.DBDuplicateEntry:
        raise AggregateNameExists(name=name) from None
    return get(db, agg_id)


def update(db, aggregate_id, name: str | None = None, availability_zone=...) -> dict:
    """Rename and/or set the zone (None removes it; ... leaves it)."""
    try:
        with db.begin() as conn:
            agg = _full(conn, _by_id(conn, aggregate_id))
            if name is not None and name != agg["name"]:
                if conn.execute(sa.select(t.aggregates.c.id)
                                .where(t.aggregates.c.name == name)).first() is not None:
                    raise AggregateNameExists(name=name)
                conn.execute(t.aggregates.update().where(t.aggregates.c.id == agg["id"])
                             .values(name=name))
            if availability_zone is not ...:
                _check_zone(conn, agg, availability_zone, agg["hosts"], "update")
                _write_metadata(conn, agg["id"], {AZ_KEY: availability_zone})
            _touch(conn, agg["id"])
    except db_exc.DBDuplicateEntry:
        raise AggregateNameExists(name=name) from None
    return get(db, agg["id"])


def _touch(conn, agg_id):
    conn.execute(t.aggregates.update().where(t.aggregates.c.id == agg_id)
                 .values(updated_at=now()))


def _write_metadata(conn, agg_id, metadata: dict):
    stamp = now()
    md = t.aggregate_metadata
    for key, value in metadata.items():
        conn.execute(md.delete().where(md.c.aggregate_id == agg_id).where(md.c.key == key))
        if value is not None:
            conn.execute(md.insert().values(aggregate_id=agg_id, key=key, value=str(value),
                                            created_at=stamp))


def set_metadata(db, aggregate_id, metadata: dict) -> dict:
    """Set keys (a None value removes the key)."""
    with db.begin() as conn:
        agg = _full(conn, _by_id(conn, aggregate_id))
        if AZ_KEY in metadata:
            _check_zone(conn, agg, metadata[AZ_KEY], agg["hosts"], "update")
        _write_metadata(conn, agg["id"], metadata)
        _touch(conn, agg["id"])
    return get(db, agg["id"])


def add_host(db, aggregate_id, host: str) -> dict:
    with db.begin() as conn:
        agg = _full(conn, _by_id(conn, aggregate_id))
        if host in agg["hosts"]:
            raise AggregateHostExists(aggregate_id=agg["id"], host=host)
        _check_zone(conn, agg, agg["availability_zone"], [host], "add host to")
        try:
            conn.execute(t.aggregate_hosts.insert().values(aggregate_id=agg["id"], host=host,
                                                           created_at=now()))
        except db_exc.DBDuplicateEntry:
            raise AggregateHostExists(aggregate_id=agg["id"], host=host) from None
        _touch(conn, agg["id"])
    return get(db, agg["id"])


def remove_host(db, aggregate_id, host: str) -> dict:
    with db.begin() as conn:
        agg = _by_id(conn, aggregate_id)
        gone = conn.execute(t.aggregate_hosts.delete()
                            .where(t.aggregate_hosts.c.aggregate_id == agg["id"])
                            .where(t.aggregate_hosts.c.host == host)).rowcount
        if not gone:
            raise AggregateHostNotFound(aggregate_id=agg["id"], host=host)
        _touch(conn, agg["id"])
    return get(db, agg["id"])


def delete(db, aggregate_id) -> None:
    """Delete an empty aggregate (one with hosts is refused, as in Nova)."""
    with db.begin() as conn:
        agg = _full(conn, _by_id(conn, aggregate_id))
        if agg["hosts"]:
            raise InvalidAggregateAction(action="delete", aggregate_id=agg["id"],
                                         reason="Host aggregate is not empty")
        conn.execute(t.aggregate_metadata.delete()
                     .where(t.aggregate_metadata.c.aggregate_id == agg["id"]))
        conn.execute(t.aggregates.delete().where(t.aggregates.c.id == agg["id"]))


# Built once: every server listing asks for the zones.
_ZONES = (sa.select(t.aggregate_metadata.c.value, t.aggregate_hosts.c.host)
          .select_from(t.aggregate_metadata)
          .outerjoin(t.aggregate_hosts, t.aggregate_hosts.c.aggregate_id ==
                     t.aggregate_metadata.c.aggregate_id)
          .where(t.aggregate_metadata.c.key == AZ_KEY))


def zones(db) -> dict[str, list[str]]:
    """{zone: hosts in it} of the zones aggregates define."""
    out: dict[str, list[str]] = {}
    with db.connect() as conn:
        for zone, host in conn.execute(_ZONES):
            hosts = out.setdefault(zone, [])
            if host is not None and host not in hosts:
                hosts.append(host)
    return out


class HostAggregates:
    """The aggregates of each host, as the scheduler's host states carry
    them; read again only when some aggregate changed (one small query per
    call to see whether anything did)."""

    def __init__(self, db):
        self.db = db
        self._seen = None
        self._by_host: dict[str, list[dict]] = {}

    # Built once: the scheduler sends it on every request, and building
    # the select (three SQL functions) cost as much CPU as running it.
    _STAMP = sa.select(sa.func.count(t.aggregates.c.id), sa.func.max(t.aggregates.c.updated_at),
                       sa.func.max(t.aggregates.c.created_at))

    def _stamp(self, conn):
        return tuple(conn.execute(self._STAMP).first())

    def by_host(self) -> dict[str, list[dict]]:
        with self.db.connect() as conn:
            stamp = self._stamp(conn)
            if stamp == self._seen:
                return self._by_host
            rows = [dict(r._mapping) for r in conn.execute(sa.select(t.aggregates))]
            by_host: dict[str, list[dict]] = {}
            for row in rows:
                agg = _full(conn, row)
                view = {"id": agg["id"], "uuid": agg["uuid"], "name": agg["name"],
                        "hosts": list(agg["hosts"]), "metadata": dict(agg["metadata"])}
                for host in agg["hosts"]:
                    by_host.setdefault(host, []).append(view)
        self._by_host, self._seen = by_host, stamp
        return by_host
