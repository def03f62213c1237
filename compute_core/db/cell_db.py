"""Reads and writes of a cell database (its instances, hosts and services)."""
from __future__ import annotations

import datetime
import functools
import json
import logging
import uuid as uuidlib

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core import clock, exception, regex_filter
from compute_core.compute import states
from compute_core.console import tokens as console_tokens
from compute_core.db import cell_schema as t
from compute_core.db.types import JsonText


def now():
    """Naive UTC from this thread's clock (see compute_core.clock)."""
    return clock.current().utcnow()


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
        res = conn.execute(_INSERT_INSTANCE, row)
        if metadata:
            conn.execute(_INSERT_METADATA, [
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


# The statements of the busiest paths are built once, with bound parameters,
# rather than on every call: building and fingerprinting a statement costs
# several times what SQLite takes to run it. DML gets its column values as
# execute() parameters (the SET or VALUES clause follows their keys);
# where-clause parameters are named b_* so that they never meet a column.
_INSERT_INSTANCE = t.instances.insert()
_INSERT_METADATA = t.instance_metadata.insert()
_GET_INSTANCE = sa.select(t.instances).where(t.instances.c.uuid == sa.bindparam("b_uuid"))
_GET_LIVE_INSTANCE = _GET_INSTANCE.where(t.instances.c.deleted == 0)
_METADATA_OF = (sa.select(t.instance_metadata.c.instance_uuid, t.instance_metadata.c.key,
                          t.instance_metadata.c.value)
                .where(t.instance_metadata.c.instance_uuid.in_(
                    sa.bindparam("b_uuids", expanding=True))))


def get_instance(db, uuid, read_deleted=False) -> dict:
    q = _GET_INSTANCE if read_deleted else _GET_LIVE_INSTANCE
    with db.connect() as conn:
        row = conn.execute(q, {"b_uuid": uuid}).first()
        if row is None:
            raise exception.InstanceNotFound(instance_id=uuid)
        inst = _d(row)
        inst["metadata"] = _metadata(conn, [uuid]).get(uuid, {})
    return inst


def _metadata(conn, uuids):
    out: dict = {}
    if not uuids:
        return out
    for r in conn.execute(_METADATA_OF, {"b_uuids": list(uuids)}):
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


@functools.lru_cache(maxsize=64)
def _update_instance_stmt(task_states: tuple | None, vm_states: tuple | None):
    """The UPDATE of one live instance (b_uuid), guarded by the expected
    task and vm states (a handful of combinations in all: cached)."""
    i = t.instances
    q = i.update().where(i.c.uuid == sa.bindparam("b_uuid")).where(i.c.deleted == 0)
    if task_states is not None:
        q = q.where(sa.or_(*[i.c.task_state.is_(None) if s is None else i.c.task_state == s
                             for s in task_states]))
    if vm_states is not None:
        q = q.where(i.c.vm_state.in_(vm_states))
    return q


_INSTANCE_STATES = (sa.select(t.instances.c.task_state, t.instances.c.vm_state)
                    .where(t.instances.c.uuid == sa.bindparam("b_uuid"))
                    .where(t.instances.c.deleted == 0))
_DELETE_METADATA = t.instance_metadata.delete().where(
    t.instance_metadata.c.instance_uuid == sa.bindparam("b_uuid"))


STATE_LOG = logging.getLogger("compute_core.servers")


def _log_state(uuid, values) -> None:
    """One line per server state change (compute-aio's output); ERROR as a
    warning."""
    parts = [f"{k}={values[k]}" for k in ("vm_state", "task_state", "power_state", "host")
             if k in values]
    level = logging.WARNING if values.get("vm_state") == "error" else logging.INFO
    STATE_LOG.log(level, "server %s %s", uuid, " ".join(parts))


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
    task_states = vm_states = None
    if expected_task_state is not ...:
        task_states = tuple(expected_task_state) if isinstance(
            expected_task_state, (list, tuple)) else (expected_task_state,)
    if expected_vm_state is not ...:
        vm_states = tuple(expected_vm_state)
    q = _update_instance_stmt(task_states, vm_states)
    row["b_uuid"] = uuid
    with db.begin() as conn:
        if event is not None:
            _action_event(conn, uuid, request_id, **event)
        res = conn.execute(q, row)
        if res.rowcount == 0:
            cur = conn.execute(_INSTANCE_STATES, {"b_uuid": uuid}).first()
            if cur is None:
                raise exception.InstanceNotFound(instance_id=uuid)
            raise exception.InstanceInvalidState(
                action="update", instance_uuid=uuid, attr="task_state",
                state=cur.task_state)
        if "vm_state" in values or "task_state" in values:
            _log_state(uuid, values)
        if "host" in values or values.get("task_state") == "rebuilding":
            # Its console is on another host now, or a new guest's.
            console_tokens.delete_for_instance(conn, uuid)
        if "metadata" in values:
            conn.execute(_DELETE_METADATA, {"b_uuid": uuid})
            if values["metadata"]:
                conn.execute(_INSERT_METADATA, [
                    {"instance_uuid": uuid, "key": k, "value": v, "created_at": now()}
                    for k, v in values["metadata"].items()])
    return get_instance(db, uuid) if read_back else None


def soft_delete_instance(db, uuid, event: dict | None = None, request_id=None,
                         start_event: dict | None = None) -> bool:
    """Mark the instance deleted; False when there was none (or it was
    deleted already). *event* ({"event", "result", "host", "tb", "finish"})
    is recorded in the same transaction, for the action of *request_id*,
    after *start_event* (the same shape) when given.
    updated_at moves too (as Nova's last save before the destroy does): a
    poller of changes-since sees the server deleted."""
    stamp = now()
    with db.begin() as conn:
        if start_event is not None and event is not None and event.get("finish") \
                and start_event["event"] == event["event"]:
            _whole_event(conn, uuid, request_id, event["event"], event.get("result"),
                         event.get("host", start_event.get("host")), event.get("tb"),
                         event.get("details"))
        else:
            for recorded in (start_event, event):
                if recorded is not None:
                    _action_event(conn, uuid, request_id, **recorded)
        done = conn.execute(t.instances.update().where(t.instances.c.uuid == uuid)
                            .where(t.instances.c.deleted == 0)
                            .values(deleted=t.instances.c.id, deleted_at=stamp,
                                    terminated_at=stamp, updated_at=stamp, vm_state="deleted",
                                    task_state=None, power_state=0)).rowcount == 1
        conn.execute(t.instance_metadata.delete().where(t.instance_metadata.c.instance_uuid == uuid))
        console_tokens.delete_for_instance(conn, uuid)
    return done


_EXACT_FILTERS = ("project_id", "user_id", "host", "node", "vm_state", "task_state",
                  "image_ref", "availability_zone", "reservation_id", "power_state", "uuid",
                  "key_name", "locked")


def list_instances(db, filters: dict | None = None, limit: int | None = None,
                   marker: str | None = None, sort_key="created_at", sort_dir="desc",
                   with_faults=True) -> list[dict]:
    """Instances matching *filters*, newest first, paged by uuid marker.

    Filter keys: the exact-match columns above (a list value means any of),
    ``name`` (regular-expression search, by RE2: see compute_core.regex_filter), ``deleted``
    (True/False; with ``soft_deleted`` given, as Nova's: True counts the
    SOFT_DELETED servers among the deleted, False among the live), ``changes-since`` and ``changes-before`` (datetimes bounding
    updated_at), ``ip`` (regular-expression search
    in an address), ``uuids`` (list).
    """
    filters = dict(filters or {})
    i = t.instances
    q = sa.select(i)
    deleted = filters.pop("deleted", False)
    soft = filters.pop("soft_deleted", None)
    soft_state = i.c.vm_state == states.SOFT_DELETED
    if deleted is not None and soft is None:
        q = q.where(i.c.deleted != 0) if deleted else q.where(i.c.deleted == 0)
    elif deleted:  # the deleted, and (soft True) the SOFT_DELETED ones
        q = q.where(sa.or_(i.c.deleted != 0, soft_state) if soft else i.c.deleted != 0)
    elif deleted is not None:  # the live ones, and (soft True) the SOFT_DELETED ones
        q = q.where(i.c.deleted == 0)
        if not soft:
            q = q.where(sa.or_(i.c.vm_state.is_(None), sa.not_(soft_state)))
    for key in _EXACT_FILTERS:
        if key in filters:
            v = filters.pop(key)
            q = q.where(i.c[key].in_(v)) if isinstance(v, (list, tuple, set)) else q.where(
                i.c[key].is_(None) if v is None else i.c[key] == v)
    if "uuids" in filters:
        q = q.where(i.c.uuid.in_(list(filters.pop("uuids"))))
    if "changes-since" in filters:
        q = q.where(i.c.updated_at >= filters.pop("changes-since"))
    if "changes-before" in filters:
        q = q.where(i.c.updated_at <= filters.pop("changes-before"))
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
        tags = {k: filters.pop(k, ()) for k in _TAG_FILTERS}
        in_python = name_re or ip_sub or flavor_id or any(tags.values())
        if limit is not None and not in_python:
            q = q.limit(limit)
        result = conn.execute(q)
        keys = list(result.keys())
        rows = [dict(zip(keys, r)) for r in result]
        if in_python:
            rows = [r for r in rows if _matches(r, name_re, ip_sub, flavor_id) and
                    _tags_match(r, tags)]
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


# The listing's tag filters: every one of, any of, not every one of, none of
_TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def _tags_match(inst, tags) -> bool:
    have = set(inst.get("tags") or ())
    return ((not tags["tags"] or set(tags["tags"]) <= have)
            and (not tags["tags-any"] or not have.isdisjoint(tags["tags-any"]))
            and (not tags["not-tags"] or not set(tags["not-tags"]) <= have)
            and (not tags["not-tags-any"] or have.isdisjoint(tags["not-tags-any"])))


def _matches(inst, name_re, ip_sub, flavor_id=None):
    if flavor_id is not None and (inst.get("flavor") or {}).get("flavorid") != flavor_id:
        return False
    if name_re and not regex_filter.matches(name_re, inst.get("display_name")):
        return False
    if ip_sub:
        addrs = [a["addr"] for net in (inst.get("network_info") or {}).values() for a in net]
        if not any(regex_filter.matches(ip_sub, a, "ip") for a in addrs):
            return False
    return True


def count_instances(db, project_id=None, user_id=None, exclude_uuids=()) -> dict:
    """Live instances, vCPUs and RAM, but those of *exclude_uuids* (counted
    elsewhere)."""
    i = t.instances
    q = (sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(i.c.vcpus), 0),
                   sa.func.coalesce(sa.func.sum(i.c.memory_mb), 0))
         .where(i.c.deleted == 0))
    if exclude_uuids:
        q = q.where(i.c.uuid.not_in(list(exclude_uuids)))
    if project_id:
        q = q.where(i.c.project_id == project_id)
    if user_id:
        q = q.where(i.c.user_id == user_id)
    with db.connect() as conn:
        n, cores, ram = conn.execute(q).first()
    return {"instances": int(n), "cores": int(cores), "ram": int(ram)}


_STATE_COLUMNS = (t.instances.c.host, t.instances.c.uuid, t.instances.c.vm_state,
                  t.instances.c.task_state, t.instances.c.project_id, t.instances.c.deleted)
_LIVE_STATES = (sa.select(*_STATE_COLUMNS).where(t.instances.c.deleted == 0)
                .where(t.instances.c.host.is_not(None)))
# A union of one indexed range read per column rather than one OR, which
# the planners answer with a scan of every instance.
_STATES_SINCE = sa.union(*(
    sa.select(*_STATE_COLUMNS).where(column >= sa.bindparam("b_since"))
    for column in (t.instances.c.created_at, t.instances.c.updated_at,
                   t.instances.c.deleted_at)))


def instance_states_changed_since(db, since=None) -> list[tuple]:
    """(host, uuid, vm_state, task_state, project_id, deleted) of the
    instances created, updated or deleted at or after *since*; with
    since=None of every live instance that has a host. Plain tuples: the
    scheduler reads these on every request."""
    with db.connect() as conn:
        if since is None:
            return [tuple(r) for r in conn.execute(_LIVE_STATES)]
        return [tuple(r) for r in conn.execute(_STATES_SINCE, {"b_since": since})]


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

_INSERT_ACTION = t.instance_actions.insert()


def _insert_action(conn, uuid, action, ctx) -> int:
    ts = now()
    return conn.execute(_INSERT_ACTION, {
        "action": action, "instance_uuid": uuid, "request_id": ctx.request_id,
        "user_id": ctx.user_id, "project_id": ctx.project_id, "start_time": ts,
        "created_at": ts}).inserted_primary_key[0]


def start_action(db, uuid, action, ctx) -> int:
    with db.begin() as conn:
        return _insert_action(conn, uuid, action, ctx)


def action_event(db, uuid, request_id, event, result=None, host=None, tb=None, finish=False,
                 details=None):
    """Start (finish=False) or finish an event of the action of *request_id*;
    *details* is what a user may read of a failure (its message)."""
    with db.begin() as conn:
        _action_event(conn, uuid, request_id, event, result, host, tb, finish, details)


def _action_statements():
    a, e = t.instance_actions, t.instance_actions_events
    of_request = sa.and_(a.c.instance_uuid == sa.bindparam("b_uuid"),
                         a.c.request_id == sa.bindparam("b_request_id"))
    newest = (sa.select(a.c.id, sa.bindparam("b_event", type_=sa.String),
                        sa.bindparam("b_host", type_=sa.String),
                        sa.bindparam("b_ts", type_=sa.DateTime),
                        sa.bindparam("b_ts", type_=sa.DateTime))
              .where(of_request).order_by(a.c.id.desc()).limit(1))
    start = e.insert().from_select(
        ["action_id", "event", "host", "start_time", "created_at"], newest)
    action_id = (sa.select(a.c.id).where(of_request).order_by(a.c.id.desc()).limit(1)
                 .scalar_subquery())
    finish_event = (e.update().where(e.c.action_id == action_id)
                    .where(e.c.event == sa.bindparam("b_event")))
    finish_action = a.update().where(of_request)
    ended = (sa.select(a.c.id, sa.bindparam("b_event", type_=sa.String),
                       sa.bindparam("b_host", type_=sa.String),
                       sa.bindparam("b_ts", type_=sa.DateTime),
                       sa.bindparam("b_ts", type_=sa.DateTime),
                       sa.bindparam("b_ts", type_=sa.DateTime),
                       sa.bindparam("b_ts", type_=sa.DateTime),
                       sa.bindparam("b_result", type_=sa.String),
                       sa.bindparam("b_tb", type_=sa.Text),
                       sa.bindparam("b_details", type_=sa.Text))
             .where(of_request).order_by(a.c.id.desc()).limit(1))
    started_and_finished = e.insert().from_select(
        ["action_id", "event", "host", "start_time", "created_at", "finish_time", "updated_at",
         "result", "traceback", "details"], ended)
    return start, finish_event, finish_action, started_and_finished


_START_EVENT, _FINISH_EVENT, _FINISH_ACTION, _WHOLE_EVENT = _action_statements()


def _whole_event(conn, uuid, request_id, event, result=None, host=None, tb=None,
                 details=None):
    """An event that starts and finishes at once (as two calls of
    _action_event would record it, in two statements instead of four)."""
    ts = now()
    of_request = {"b_uuid": uuid, "b_request_id": request_id}
    conn.execute(_WHOLE_EVENT, {**of_request, "b_event": event, "b_host": host, "b_ts": ts,
                                "b_result": result, "b_tb": tb,
                                "b_details": None if details is None else str(details)})
    values = {**of_request, "finish_time": ts, "updated_at": ts}
    if result == "Error":
        values["message"] = "Error"
    conn.execute(_FINISH_ACTION, values)


def _action_event(conn, uuid, request_id, event, result=None, host=None, tb=None,
                  finish=False, details=None):
    """Start or finish an event of the action of *request_id*, in two
    statements (the action is found inside them, not read first): these run
    inside the cell's busiest write transactions. The action's updated_at
    moves with each of its events, as Nova's does (what changes-since reads)."""
    ts = now()
    of_request = {"b_uuid": uuid, "b_request_id": request_id}
    if not finish:
        conn.execute(_START_EVENT, {**of_request, "b_event": event, "b_host": host, "b_ts": ts})
        conn.execute(_FINISH_ACTION, {**of_request, "updated_at": ts})
        return
    values = {**of_request, "b_event": event, "result": result, "finish_time": ts,
              "traceback": tb, "updated_at": ts}
    if details is not None:
        values["details"] = str(details)
    conn.execute(_FINISH_EVENT, values)
    values = {**of_request, "finish_time": ts, "updated_at": ts}
    if result == "Error":
        values["message"] = "Error"
    conn.execute(_FINISH_ACTION, values)


def list_actions(db, uuid, limit=None, marker=None, changes_since=None,
                 changes_before=None) -> list[dict]:
    """The actions of instance *uuid*, newest first (as Nova orders them:
    created_at, then id); *marker* is the request_id of the last action of
    the previous page (MarkerNotFound when the instance has none such);
    *changes_since* / *changes_before* bound updated_at (or, for an action
    never updated, created_at) inclusively."""
    a = t.instance_actions
    q = sa.select(a).where(a.c.instance_uuid == uuid)
    changed = sa.func.coalesce(a.c.updated_at, a.c.created_at)
    if changes_since is not None:
        q = q.where(changed >= changes_since)
    if changes_before is not None:
        q = q.where(changed <= changes_before)
    with db.connect() as conn:
        if marker is not None:
            row = conn.execute(sa.select(a.c.id, a.c.created_at)
                               .where(a.c.instance_uuid == uuid)
                               .where(a.c.request_id == marker)
                               .order_by(a.c.id.desc()).limit(1)).first()
            if row is None:
                raise exception.MarkerNotFound(marker=marker)
            q = q.where(sa.or_(a.c.created_at < row.created_at,
                               sa.and_(a.c.created_at == row.created_at, a.c.id < row.id)))
        q = q.order_by(a.c.created_at.desc(), a.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        return [_d(r) for r in conn.execute(q)]


def get_action(db, uuid, request_id) -> dict | None:
    """The action of *request_id* on instance *uuid* with its events
    (oldest first), or None."""
    a, e = t.instance_actions, t.instance_actions_events
    with db.connect() as conn:
        row = conn.execute(sa.select(a).where(a.c.instance_uuid == uuid)
                           .where(a.c.request_id == request_id)
                           .order_by(a.c.id.desc()).limit(1)).first()
        if row is None:
            return None
        action = _d(row)
        action["events"] = [_d(r) for r in conn.execute(
            sa.select(e).where(e.c.action_id == row.id).order_by(e.c.id))]
    return action


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
