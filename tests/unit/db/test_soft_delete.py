"""Soft-deleting an instance: says whether it deleted, moves updated_at
(so a changes-since poller sees the server deleted), and can record the
delete's finishing action event in the same transaction."""
import datetime
import time
import uuid

import sqlalchemy as sa

from compute_core import context
from compute_core.db import cell_db, cell_schema, migration
from compute_core.db.engines import Database


def test_soft_delete_is_seen_by_changes_since_and_records_its_event(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/cell.sqlite")
    migration.upgrade(db, "cell")
    try:
        ctxt = context.RequestContext(user_id="u", project_id="p", request_id="req-del")
        u = str(uuid.uuid4())
        cell_db.create_instance(db, {"uuid": u, "host": "h1", "project_id": "p",
                                     "vm_state": "active"}, action=("delete", ctxt))
        long_ago = datetime.datetime(2020, 1, 1)
        with db.begin() as conn:
            conn.execute(cell_schema.instances.update().values(updated_at=long_ago))
        since = cell_db.now() - datetime.timedelta(seconds=1)
        assert cell_db.list_instances(db, {"changes-since": since, "deleted": None}) == []
        time.sleep(0.01)
        event = {"event": "compute_terminate_instance", "result": "Success", "host": "h1",
                 "finish": True}
        cell_db.action_event(db, u, "req-del", "compute_terminate_instance", host="h1")
        assert cell_db.soft_delete_instance(db, u, event, "req-del") is True
        seen = cell_db.list_instances(db, {"changes-since": since, "deleted": None})
        assert [(i["uuid"], i["vm_state"]) for i in seen] == [(u, "deleted")]
        assert cell_db.soft_delete_instance(db, u) is False  # once only
        with db.connect() as conn:
            (result,) = conn.execute(sa.select(cell_schema.instance_actions_events.c.result)
                                     ).one()
        assert result == "Success"
    finally:
        db.dispose()


def _events_and_action(db):
    e, a = cell_schema.instance_actions_events, cell_schema.instance_actions
    with db.connect() as conn:
        events = [dict(r._mapping) for r in conn.execute(sa.select(e).order_by(e.c.id))]
        action = dict(conn.execute(sa.select(a)).one()._mapping)
    return events, action


def test_a_delete_started_and_finished_in_one_call_records_the_same_event(tmp_path):
    """start_event with the finishing event (RPC 1.12's one-call delete) gives
    the rows two separate calls give: one event, started and finished, its
    result and host, and the action finished."""
    found = []
    for name, one_call in (("two", False), ("one", True)):
        db = Database(f"sqlite:///{tmp_path}/{name}.sqlite")
        migration.upgrade(db, "cell")
        try:
            ctxt = context.RequestContext(user_id="u", project_id="p", request_id="req-del")
            u = str(uuid.uuid4())
            cell_db.create_instance(db, {"uuid": u, "host": "h1", "project_id": "p",
                                         "vm_state": "active"}, action=("delete", ctxt))
            start = {"event": "compute_terminate_instance", "host": "h1"}
            finish = dict(start, result="Success", finish=True)
            if one_call:
                assert cell_db.soft_delete_instance(db, u, finish, "req-del",
                                                    start_event=start) is True
            else:
                cell_db.action_event(db, u, "req-del", **start)
                assert cell_db.soft_delete_instance(db, u, finish, "req-del") is True
            found.append(_events_and_action(db))
        finally:
            db.dispose()
    (two_events, two_action), (one_events, one_action) = found
    assert len(one_events) == len(two_events) == 1
    keys = ("event", "result", "host", "traceback", "details")
    assert {k: one_events[0][k] for k in keys} == {k: two_events[0][k] for k in keys} == {
        "event": "compute_terminate_instance", "result": "Success", "host": "h1",
        "traceback": None, "details": None}
    for row in (one_events[0], one_action):
        assert row["finish_time"] is not None and row["updated_at"] is not None
    assert one_events[0]["start_time"] is not None
    assert one_action["message"] == two_action["message"]


def _building_instance(tmp_path):
    """A cell database with one instance being built (its create action of
    request req-b recorded): (database, instance uuid)."""
    db = Database(f"sqlite:///{tmp_path}/cell.sqlite")
    migration.upgrade(db, "cell")
    ctxt = context.RequestContext(user_id="u", project_id="p", request_id="req-b")
    u = str(uuid.uuid4())
    cell_db.create_instance(db, {"uuid": u, "host": "h1", "project_id": "p",
                                 "vm_state": "building", "task_state": "scheduling"},
                            action=("create", ctxt))
    return db, u


def test_an_event_finish_that_overtakes_its_start_records_one_whole_event(tmp_path):
    """A finish with no start (the start was cast and the conductor applies
    it later, refused: RPC 1.13, start_cast) records the event whole; the
    late start, refused with its update, adds nothing."""
    db, u = _building_instance(tmp_path)
    event = "compute__do_build_and_run_instance"
    try:
        cell_db.update_instance(
            db, u, {"vm_state": "active", "task_state": None},
            expected_task_state=["scheduling", "spawning"], request_id="req-b",
            event={"event": event, "result": "Success", "host": "h1", "finish": True,
                   "start_cast": True},
            read_back=False)
        try:
            cell_db.update_instance(db, u, {"task_state": "spawning"},
                                    expected_task_state="scheduling", request_id="req-b",
                                    event={"event": event, "host": "h1", "finish": False})
        except Exception as exc:
            assert type(exc).__name__ == "InstanceInvalidState"
        else:
            raise AssertionError("the late start was applied")
        events, action = _events_and_action(db)
        assert [(e["event"], e["result"], e["host"]) for e in events] == [
            (event, "Success", "h1")]
        assert events[0]["start_time"] is not None and events[0]["finish_time"] is not None
        assert action["finish_time"] is not None
    finally:
        db.dispose()


def test_a_cast_start_applied_first_is_finished_not_doubled(tmp_path):
    """start_cast with its start there: the finish completes that event."""
    db, u = _building_instance(tmp_path)
    event = "compute__do_build_and_run_instance"
    try:
        cell_db.update_instance(db, u, {"task_state": "spawning"},
                                expected_task_state="scheduling", request_id="req-b",
                                event={"event": event, "host": "h1", "finish": False},
                                read_back=False)
        cell_db.update_instance(
            db, u, {"vm_state": "active", "task_state": None},
            expected_task_state=["scheduling", "spawning"], request_id="req-b",
            event={"event": event, "result": "Success", "host": "h1", "finish": True,
                   "start_cast": True},
            read_back=False)
        events, _ = _events_and_action(db)
        assert [(e["event"], e["result"]) for e in events] == [(event, "Success")]
        assert events[0]["start_time"] <= events[0]["finish_time"]
    finally:
        db.dispose()


def test_changes_before_and_since_include_a_change_at_their_exact_second(tmp_path):
    """Inclusive bounds on SQLite too, for a time with no microseconds (the
    listing's bound parameters take the column's type)."""
    db, u = _building_instance(tmp_path)
    try:
        at = datetime.datetime(2026, 12, 4, 10, 0, 0)
        with db.begin() as conn:
            conn.execute(cell_schema.instances.update().values(updated_at=at))
        for bound in ("changes-before", "changes-since"):
            found = cell_db.list_instances(db, {bound: at, "deleted": None})
            assert [i["uuid"] for i in found] == [u], bound
    finally:
        db.dispose()
