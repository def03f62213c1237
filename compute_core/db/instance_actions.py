"""The cell database's instance actions and their events (tables
instance_actions, instance_actions_events)."""
from __future__ import annotations


import sqlalchemy as sa

from compute_core import exception
from compute_core.db.engines import retry_on_deadlock
from compute_core.db import cell_schema as t
from compute_core.db.rows import _d, now


_INSERT_ACTION = t.instance_actions.insert()


def _insert_action(conn, uuid, action, ctx) -> int:
    ts = now()
    return conn.execute(_INSERT_ACTION, {
        "action": action, "instance_uuid": uuid, "request_id": ctx.request_id,
        "user_id": ctx.user_id, "project_id": ctx.project_id, "start_time": ts,
        "created_at": ts}).inserted_primary_key[0]


@retry_on_deadlock
def start_action(db, uuid, action, ctx) -> int:
    with db.begin() as conn:
        return _insert_action(conn, uuid, action, ctx)


@retry_on_deadlock
def action_event(db, uuid, request_id, event, result=None, host=None, tb=None, finish=False,
                 details=None, start_cast=False):
    """Start (finish=False) or finish an event of the action of *request_id*;
    *details* is what a user may read of a failure (its message)."""
    with db.begin() as conn:
        _action_event(conn, uuid, request_id, event, result, host, tb, finish, details,
                      start_cast)


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


def _started_event_statement():
    a, e = t.instance_actions, t.instance_actions_events
    action_id = (sa.select(a.c.id).where(a.c.instance_uuid == sa.bindparam("b_uuid"),
                                         a.c.request_id == sa.bindparam("b_request_id"))
                 .order_by(a.c.id.desc()).limit(1).scalar_subquery())
    return sa.select(e.c.id).where(e.c.action_id == action_id,
                                   e.c.event == sa.bindparam("b_event")).limit(1)


_STARTED_EVENT = _started_event_statement()


def _action_event(conn, uuid, request_id, event, result=None, host=None, tb=None,
                  finish=False, details=None, start_cast=False):
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
    # start_cast (RPC 1.13): the start was cast, and the conductor may not
    # have applied it yet (it will then be refused): when it is not there,
    # the event is recorded whole. Looked for with a plain read, not by an
    # UPDATE that finds nothing: that one locks the end of the events' index,
    # and two such transactions deadlock on the INSERT that follows. (The
    # instance's row, locked by the caller, keeps the start's transaction
    # out meanwhile.)
    if start_cast and conn.execute(_STARTED_EVENT, {**of_request, "b_event": event}
                                   ).first() is None:
        _whole_event(conn, uuid, request_id, event, result, host, tb, details)
        return
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
