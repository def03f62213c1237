"""Reads and writes of a cell database: its instances (with their metadata,
faults and tags) here; actions, services and compute nodes, and migrations
in instance_actions, services and server_moves, whose functions this module
re-exports (callers use ``cell_db.X`` for all of them)."""
from __future__ import annotations

import datetime
import functools
import json
import logging

import sqlalchemy as sa

from compute_core import exception, regex_filter
from compute_core.compute import states
from compute_core.console import tokens as console_tokens
from compute_core.db.engines import retry_on_deadlock
from compute_core.db import cell_schema as t
from compute_core.db.instance_actions import (  # noqa: F401 (re-exported)
    _action_event, _insert_action, _whole_event, action_event, get_action, list_actions,
    start_action)
from compute_core.db.rows import _d, now  # noqa: F401 (now: re-exported)
from compute_core.db.server_moves import (  # noqa: F401 (re-exported)
    create_migration, finished_migrations_to_host, get_migration, migration_of_instance,
    migrations_from_host, update_migration)
from compute_core.db.services import (  # noqa: F401 (re-exported)
    compute_nodes_changed_since, delete_service, list_compute_nodes, list_services,
    mark_nodes_mapped, service_heartbeat, services_changed_since, update_service,
    upsert_compute_node)
from compute_core.db.types import JsonText

INSTANCE_COLUMNS = set(t.instances.c.keys())


# -------------------------------------------------------------- instances

@retry_on_deadlock
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


@retry_on_deadlock
def update_instance(db, uuid, values: dict, expected_task_state=...,
                    expected_vm_state=..., event=None, request_id=None,
                    read_back=True, fault=None) -> dict | None:
    """Update an instance; with expected_* the update only happens from that
    state (raises InstanceInvalidState/InstanceNotFound otherwise). *event*
    ({"event", "result", "host", "tb", "finish"}) records an action event of
    the action of *request_id* in the same transaction; so does *fault*
    ({"code", "message", "details", "host"}) an instance fault, so that a
    server put in ERROR shows why at once, and one the update refused gets
    none. Returns the updated instance, or None with read_back=False."""
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
        # The instance's row first: its lock orders the transactions of one
        # instance (a cast update and the call after it) before either
        # writes its action event, where they would deadlock.
        res = conn.execute(q, row)
        if res.rowcount == 0:
            cur = conn.execute(_INSTANCE_STATES, {"b_uuid": uuid}).first()
            if cur is None:
                raise exception.InstanceNotFound(instance_id=uuid)
            raise exception.InstanceInvalidState(
                action="update", instance_uuid=uuid, attr="task_state",
                state=cur.task_state)
        if event is not None:
            _action_event(conn, uuid, request_id, **event)
        if fault is not None:
            _insert_fault(conn, uuid, **fault)
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


@retry_on_deadlock
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
        # The instance's row first, as in update_instance.
        done = conn.execute(t.instances.update().where(t.instances.c.uuid == uuid)
                            .where(t.instances.c.deleted == 0)
                            .values(deleted=t.instances.c.id, deleted_at=stamp,
                                    terminated_at=stamp, updated_at=stamp, vm_state="deleted",
                                    task_state=None, power_state=0)).rowcount == 1
        if start_event is not None and event is not None and event.get("finish") \
                and start_event["event"] == event["event"]:
            _whole_event(conn, uuid, request_id, event["event"], event.get("result"),
                         event.get("host", start_event.get("host")), event.get("tb"),
                         event.get("details"))
        else:
            for recorded in (start_event, event):
                if recorded is not None:
                    _action_event(conn, uuid, request_id, **recorded)
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
    params: dict = {}
    exact = []
    for key in _EXACT_FILTERS:
        if key in filters:
            v = filters.pop(key)
            if isinstance(v, (list, tuple, set)):
                exact.append((key, "in"))
                params[f"b_{key}"] = list(v)
            elif v is None:
                exact.append((key, "null"))
            else:
                exact.append((key, "eq"))
                params[f"b_{key}"] = v
    bounds = []
    for key, param in (("uuids", "b_uuids"), ("changes-since", "b_since"),
                       ("changes-before", "b_before")):
        if key in filters:
            bounds.append(key)
            v = filters.pop(key)
            params[param] = list(v) if key == "uuids" else v
    col = t.instances.c[sort_key]
    with db.connect() as conn:
        if marker is not None:
            mrow = conn.execute(sa.select(col, t.instances.c.id)
                                .where(t.instances.c.uuid == marker)).first()
            if mrow is None:
                raise exception.Invalid(f"marker [{marker}] not found")
            params["b_mval"], params["b_mid"] = mrow
        name_re = filters.pop("name", None)
        ip_sub = filters.pop("ip", None)
        flavor_id = filters.pop("flavor_id", None)
        tags = {k: filters.pop(k, ()) for k in _TAG_FILTERS}
        in_python = name_re or ip_sub or flavor_id or any(tags.values())
        limited = limit is not None and not in_python
        if limited:
            params["b_limit"] = limit
        shape = (filters.pop("deleted", False), filters.pop("soft_deleted", None),
                 tuple(exact), tuple(bounds), sort_key, sort_dir, marker is not None, limited)
        q = _LISTINGS.get(shape)
        if q is None:
            q = _LISTINGS[shape] = _listing(*shape)
        result = conn.execute(q, params)
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


# The listing's statements, one per shape of its filters (which filters,
# not their values: those are bound parameters), built at first use.
_LISTINGS: dict[tuple, sa.Select] = {}


def _listing(deleted, soft, exact, bounds, sort_key, sort_dir, paged, limited) -> sa.Select:
    i = t.instances
    q = sa.select(i)
    soft_state = i.c.vm_state == states.SOFT_DELETED
    if deleted is not None and soft is None:
        q = q.where(i.c.deleted != 0) if deleted else q.where(i.c.deleted == 0)
    elif deleted:  # the deleted, and (soft True) the SOFT_DELETED ones
        q = q.where(sa.or_(i.c.deleted != 0, soft_state) if soft else i.c.deleted != 0)
    elif deleted is not None:  # the live ones, and (soft True) the SOFT_DELETED ones
        q = q.where(i.c.deleted == 0)
        if not soft:
            q = q.where(sa.or_(i.c.vm_state.is_(None), sa.not_(soft_state)))
    for key, kind in exact:
        if kind == "in":
            q = q.where(i.c[key].in_(sa.bindparam(f"b_{key}", expanding=True)))
        elif kind == "null":
            q = q.where(i.c[key].is_(None))
        else:
            q = q.where(i.c[key] == sa.bindparam(f"b_{key}"))
    if "uuids" in bounds:
        q = q.where(i.c.uuid.in_(sa.bindparam("b_uuids", expanding=True)))
    if "changes-since" in bounds:
        q = q.where(i.c.updated_at >= sa.bindparam("b_since"))
    if "changes-before" in bounds:
        q = q.where(i.c.updated_at <= sa.bindparam("b_before"))
    col = i.c[sort_key]
    if paged:
        mval, mid = sa.bindparam("b_mval"), sa.bindparam("b_mid")
        if sort_dir == "desc":
            q = q.where(sa.or_(col < mval, sa.and_(col == mval, i.c.id < mid)))
        else:
            q = q.where(sa.or_(col > mval, sa.and_(col == mval, i.c.id > mid)))
    q = q.order_by(col.desc() if sort_dir == "desc" else col.asc(),
                   i.c.id.desc() if sort_dir == "desc" else i.c.id.asc())
    if limited:
        q = q.limit(sa.bindparam("b_limit", type_=sa.Integer))
    return q


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


@retry_on_deadlock
def add_fault(db, uuid, code, message, details="", host=None):
    with db.begin() as conn:
        _insert_fault(conn, uuid, code, message, details, host)


def _insert_fault(conn, uuid, code, message, details="", host=None):
    conn.execute(t.instance_faults.insert().values(
        instance_uuid=uuid, code=code, message=(message or "")[:255], details=details,
        host=host, created_at=now()))
