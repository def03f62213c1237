"""Reads and writes of a cell database (its instances, hosts and services)."""
from __future__ import annotations

import datetime
import json
import re
import uuid as uuidlib

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core import exception
from compute_core.db import cell_schema as t
from compute_core.db.types import JsonText


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _d(row):
    return None if row is None else dict(row._mapping)


INSTANCE_COLUMNS = set(t.instances.c.keys())


# -------------------------------------------------------------- instances

def create_instance(db, values: dict, metadata: dict | None = None, action=None) -> dict:
    """Insert an instance (and its metadata, and with *action* = (name,
    ctx) the instance action that created it) in one transaction. Returns
    the instance as get_instance would read it, made from what was inserted
    (every column, the new id, the column defaults) instead of read back."""
    row = _coerce({k: v for k, v in values.items() if k in INSTANCE_COLUMNS})
    row.setdefault("created_at", now())
    row.setdefault("deleted", 0)
    with db.begin() as conn:
        res = conn.execute(t.instances.insert().values(**row))
        if metadata:
            conn.execute(t.instance_metadata.insert(), [
                {"instance_uuid": row["uuid"], "key": k, "value": v, "created_at": row["created_at"]}
                for k, v in metadata.items()])
        if action is not None:
            _insert_action(conn, row["uuid"], *action)
    inst = dict.fromkeys(_INSTANCE_COLUMN_ORDER)
    inst.update(_INSTANCE_DEFAULTS)
    inst.update(_json_copy(row))
    if db.backend == "mysql":
        # DATETIME columns there keep whole seconds (MariaDB truncates).
        for key in _DATETIME_COLUMNS:
            if isinstance(inst[key], datetime.datetime):
                inst[key] = inst[key].replace(microsecond=0)
    inst["id"] = res.inserted_primary_key[0]
    inst["metadata"] = {k: v for k, v in (metadata or {}).items()}
    return inst


_INSTANCE_COLUMN_ORDER = list(t.instances.c.keys())
_INSTANCE_DEFAULTS = {c.name: c.default.arg for c in t.instances.c
                      if c.default is not None and c.default.is_scalar}
_JSON_COLUMNS = {c.name for c in t.instances.c if isinstance(c.type, JsonText)}


def _json_copy(row: dict) -> dict:
    """*row* with its JSON columns as a read would give them back (a JSON
    round trip: tuples become lists, keys strings), never sharing the
    caller's objects."""
    out = dict(row)
    for key in _JSON_COLUMNS & set(out):
        if out[key] is not None:
            out[key] = json.loads(json.dumps(out[key]))
    return out


def get_instance(db, uuid, read_deleted=False) -> dict:
    q = sa.select(t.instances).where(t.instances.c.uuid == uuid)
    if not read_deleted:
        q = q.where(t.instances.c.deleted == 0)
    with db.connect() as conn:
        row = conn.execute(q).first()
        if row is None:
            raise exception.InstanceNotFound(instance_id=uuid)
        inst = _d(row)
        inst["metadata"] = _metadata(conn, [uuid]).get(uuid, {})
    return inst


def _metadata(conn, uuids):
    out: dict = {}
    if not uuids:
        return out
    m = t.instance_metadata
    for r in conn.execute(sa.select(m.c.instance_uuid, m.c.key, m.c.value)
                          .where(m.c.instance_uuid.in_(uuids))):
        out.setdefault(r.instance_uuid, {})[r.key] = r.value
    return out


def _faults(conn, uuids):
    out: dict = {}
    if not uuids:
        return out
    f = t.instance_faults
    for r in conn.execute(sa.select(f).where(f.c.instance_uuid.in_(uuids)).order_by(f.c.id)):
        out[r.instance_uuid] = _d(r)  # the newest wins
    return out


_DATETIME_COLUMNS = {c.name for c in t.instances.c if isinstance(c.type, sa.DateTime)}


def _coerce(row: dict) -> dict:
    # Values that crossed RPC carry datetimes as ISO strings.
    for key in _DATETIME_COLUMNS & set(row):
        if isinstance(row[key], str):
            row[key] = datetime.datetime.fromisoformat(row[key]).replace(tzinfo=None)
    return row


def update_instance(db, uuid, values: dict, expected_task_state=...,
                    expected_vm_state=..., event=None, request_id=None,
                    read_back=True) -> dict | None:
    """Update an instance; with expected_* the update only happens from that
    state (raises InstanceInvalidState/InstanceNotFound otherwise). *event*
    ({"event", "result", "host", "tb", "finish"}) records an action event of
    the action of *request_id* in the same transaction. Returns the updated
    instance, or None with read_back=False."""
    row = _coerce({k: v for k, v in values.items() if k in INSTANCE_COLUMNS})
    row["updated_at"] = now()
    q = t.instances.update().where(t.instances.c.uuid == uuid).where(t.instances.c.deleted == 0)
    if expected_task_state is not ...:
        states = expected_task_state if isinstance(expected_task_state, (list, tuple)) \
            else [expected_task_state]
        conds = [t.instances.c.task_state.is_(None) if s is None else t.instances.c.task_state == s
                 for s in states]
        q = q.where(sa.or_(*conds))
    if expected_vm_state is not ...:
        q = q.where(t.instances.c.vm_state.in_(list(expected_vm_state)))
    with db.begin() as conn:
        if event is not None:
            _action_event(conn, uuid, request_id, **event)
        res = conn.execute(q.values(**row))
        if res.rowcount == 0:
            cur = conn.execute(sa.select(t.instances.c.task_state, t.instances.c.vm_state)
                               .where(t.instances.c.uuid == uuid)
                               .where(t.instances.c.deleted == 0)).first()
            if cur is None:
                raise exception.InstanceNotFound(instance_id=uuid)
            raise exception.InstanceInvalidState(
                action="update", instance_uuid=uuid, attr="task_state",
                state=cur.task_state)
        if "metadata" in values:
            conn.execute(t.instance_metadata.delete()
                         .where(t.instance_metadata.c.instance_uuid == uuid))
            if values["metadata"]:
                conn.execute(t.instance_metadata.insert(), [
                    {"instance_uuid": uuid, "key": k, "value": v, "created_at": now()}
                    for k, v in values["metadata"].items()])
    return get_instance(db, uuid) if read_back else None


def soft_delete_instance(db, uuid):
    with db.begin() as conn:
        conn.execute(t.instances.update().where(t.instances.c.uuid == uuid)
                     .where(t.instances.c.deleted == 0)
                     .values(deleted=t.instances.c.id, deleted_at=now(), terminated_at=now(),
                             vm_state="deleted", task_state=None, power_state=0))
        conn.execute(t.instance_metadata.delete().where(t.instance_metadata.c.instance_uuid == uuid))


_EXACT_FILTERS = ("project_id", "user_id", "host", "node", "vm_state", "task_state",
                  "image_ref", "availability_zone", "reservation_id", "power_state", "uuid",
                  "key_name", "locked")


def list_instances(db, filters: dict | None = None, limit: int | None = None,
                   marker: str | None = None, sort_key="created_at", sort_dir="desc",
                   with_faults=True) -> list[dict]:
    """Instances matching *filters*, newest first, paged by uuid marker.

    Filter keys: the exact-match columns above (a list value means any of),
    ``name`` (regular-expression match in Python, as Nova does), ``deleted``
    (True/False), ``changes-since`` (datetime), ``ip`` (substring of an
    address), ``uuids`` (list).
    """
    filters = dict(filters or {})
    i = t.instances
    q = sa.select(i)
    deleted = filters.pop("deleted", False)
    if deleted is not None:
        q = q.where(i.c.deleted != 0) if deleted else q.where(i.c.deleted == 0)
    for key in _EXACT_FILTERS:
        if key in filters:
            v = filters.pop(key)
            q = q.where(i.c[key].in_(v)) if isinstance(v, (list, tuple, set)) else q.where(
                i.c[key].is_(None) if v is None else i.c[key] == v)
    if "uuids" in filters:
        q = q.where(i.c.uuid.in_(list(filters.pop("uuids"))))
    if "changes-since" in filters:
        q = q.where(i.c.updated_at >= filters.pop("changes-since"))
    col = i.c[sort_key]
    order = [col.desc() if sort_dir == "desc" else col.asc(),
             i.c.id.desc() if sort_dir == "desc" else i.c.id.asc()]
    with db.connect() as conn:
        if marker is not None:
            mrow = conn.execute(sa.select(col, i.c.id).where(i.c.uuid == marker)).first()
            if mrow is None:
                raise exception.Invalid(f"marker [{marker}] not found")
            mval, mid = mrow
            if sort_dir == "desc":
                q = q.where(sa.or_(col < mval, sa.and_(col == mval, i.c.id < mid)))
            else:
                q = q.where(sa.or_(col > mval, sa.and_(col == mval, i.c.id > mid)))
        q = q.order_by(*order)
        name_re = filters.pop("name", None)
        ip_sub = filters.pop("ip", None)
        flavor_id = filters.pop("flavor_id", None)
        in_python = name_re or ip_sub or flavor_id
        if limit is not None and not in_python:
            q = q.limit(limit)
        result = conn.execute(q)
        keys = list(result.keys())
        rows = [dict(zip(keys, r)) for r in result]
        if in_python:
            rows = [r for r in rows if _matches(r, name_re, ip_sub, flavor_id)]
            if limit is not None:
                rows = rows[:limit]
        uuids = [r["uuid"] for r in rows]
        meta = _metadata(conn, uuids)
        faults = _faults(conn, [r["uuid"] for r in rows if r["vm_state"] == "error"]) \
            if with_faults else {}
    for r in rows:
        r["metadata"] = meta.get(r["uuid"], {})
        r["fault"] = faults.get(r["uuid"])
    return rows


def _matches(inst, name_re, ip_sub, flavor_id=None):
    if flavor_id is not None and (inst.get("flavor") or {}).get("flavorid") != flavor_id:
        return False
    if name_re:
        try:
            if not re.search(name_re, inst.get("display_name") or ""):
                return False
        except re.error:
            return False
    if ip_sub:
        addrs = [a["addr"] for net in (inst.get("network_info") or {}).values() for a in net]
        try:
            if not any(re.search(ip_sub, a) for a in addrs):
                return False
        except re.error:
            return False
    return True


def count_instances(db, project_id=None, user_id=None) -> dict:
    i = t.instances
    q = (sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(i.c.vcpus), 0),
                   sa.func.coalesce(sa.func.sum(i.c.memory_mb), 0))
         .where(i.c.deleted == 0))
    if project_id:
        q = q.where(i.c.project_id == project_id)
    if user_id:
        q = q.where(i.c.user_id == user_id)
    with db.connect() as conn:
        n, cores, ram = conn.execute(q).first()
    return {"instances": int(n), "cores": int(cores), "ram": int(ram)}


def instance_states_changed_since(db, since=None) -> list[tuple]:
    """(host, uuid, vm_state, task_state, project_id, deleted) of the
    instances created, updated or deleted at or after *since*; with
    since=None of every live instance that has a host. Plain tuples: the
    scheduler reads these on every request."""
    i = t.instances
    q = sa.select(i.c.host, i.c.uuid, i.c.vm_state, i.c.task_state, i.c.project_id,
                  i.c.deleted)
    if since is None:
        q = q.where(i.c.deleted == 0).where(i.c.host.is_not(None))
    else:
        q = q.where(sa.or_(i.c.updated_at >= since, i.c.created_at >= since,
                           i.c.deleted_at >= since))
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(q)]


def instances_by_host(db) -> dict:
    """{host: [(uuid, vm_state, task_state), ...]} of live instances."""
    i = t.instances
    out: dict = {}
    with db.connect() as conn:
        for r in conn.execute(sa.select(i.c.host, i.c.uuid, i.c.vm_state, i.c.task_state,
                                        i.c.project_id)
                              .where(i.c.deleted == 0).where(i.c.host.is_not(None))):
            out.setdefault(r.host, []).append(_d(r))
    return out


def get_fault(db, uuid):
    with db.connect() as conn:
        return _faults(conn, [uuid]).get(uuid)


def add_fault(db, uuid, code, message, details="", host=None):
    with db.begin() as conn:
        conn.execute(t.instance_faults.insert().values(
            instance_uuid=uuid, code=code, message=(message or "")[:255], details=details,
            host=host, created_at=now()))


# ---------------------------------------------------------------- actions

def _insert_action(conn, uuid, action, ctx) -> int:
    return conn.execute(t.instance_actions.insert().values(
        action=action, instance_uuid=uuid, request_id=ctx.request_id, user_id=ctx.user_id,
        project_id=ctx.project_id, start_time=now(), created_at=now(),
    )).inserted_primary_key[0]


def start_action(db, uuid, action, ctx) -> int:
    with db.begin() as conn:
        return _insert_action(conn, uuid, action, ctx)


def action_event(db, uuid, request_id, event, result=None, host=None, tb=None, finish=False):
    """Start (finish=False) or finish an event of the action of *request_id*."""
    with db.begin() as conn:
        _action_event(conn, uuid, request_id, event, result, host, tb, finish)


def _action_event(conn, uuid, request_id, event, result=None, host=None, tb=None,
                  finish=False):
    """Start or finish an event of the action of *request_id*, in one or two
    statements (the action is found inside them, not read first): these run
    inside the cell's busiest write transactions."""
    a, e = t.instance_actions, t.instance_actions_events
    ts = now()
    of_request = sa.and_(a.c.instance_uuid == uuid, a.c.request_id == request_id)
    if not finish:
        newest = (sa.select(a.c.id, sa.literal(event, sa.String), sa.literal(host, sa.String),
                            sa.literal(ts, sa.DateTime), sa.literal(ts, sa.DateTime))
                  .where(of_request).order_by(a.c.id.desc()).limit(1))
        conn.execute(e.insert().from_select(
            ["action_id", "event", "host", "start_time", "created_at"], newest))
        return
    action_id = (sa.select(a.c.id).where(of_request).order_by(a.c.id.desc()).limit(1)
                 .scalar_subquery())
    conn.execute(e.update().where(e.c.action_id == action_id).where(e.c.event == event)
                 .values(result=result, finish_time=ts, traceback=tb, updated_at=ts))
    values = {"finish_time": ts}
    if result == "Error":
        values["message"] = "Error"
    conn.execute(a.update().where(of_request).values(**values))


def list_actions(db, uuid):
    a = t.instance_actions
    with db.connect() as conn:
        return [_d(r) for r in conn.execute(sa.select(a).where(a.c.instance_uuid == uuid)
                                            .order_by(a.c.id.desc()))]


# --------------------------------------------------------------- services

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


def list_services(db, host=None, binary=None):
    s = t.services
    q = sa.select(s).where(s.c.deleted == 0)
    if host:
        q = q.where(s.c.host == host)
    if binary:
        q = q.where(s.c.binary == binary)
    with db.connect() as conn:
        return [_d(r) for r in conn.execute(q.order_by(s.c.id))]


def update_service(db, service_uuid, values):
    s = t.services
    with db.begin() as conn:
        res = conn.execute(s.update().where(s.c.uuid == service_uuid).where(s.c.deleted == 0)
                           .values(updated_at=now(), **values))
    if res.rowcount == 0:
        raise exception.ServiceNotFound(service_id=service_uuid)


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


def list_compute_nodes(db, host=None, uuids=None):
    n = t.compute_nodes
    q = sa.select(n).where(n.c.deleted == 0)
    if host:
        q = q.where(n.c.host == host)
    if uuids is not None:
        q = q.where(n.c.uuid.in_(list(uuids)))
    with db.connect() as conn:
        return [_d(r) for r in conn.execute(q.order_by(n.c.id))]


def mark_nodes_mapped(db, hosts):
    n = t.compute_nodes
    with db.begin() as conn:
        conn.execute(n.update().where(n.c.host.in_(list(hosts))).values(mapped=1))


# ------------------------------------------------------------- migrations

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
