"""The scheduler's incremental view of instances per host."""
import uuid

from compute_core.db import cell_db, migration
from compute_core.db.engines import Database
from compute_core.scheduler.host_manager import InstanceTracker


def _db(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/cell.sqlite")
    migration.upgrade(db, "cell")
    return db


def _create(db, host, project="p1"):
    u = str(uuid.uuid4())
    cell_db.create_instance(db, {"uuid": u, "host": host, "project_id": project,
                                 "vm_state": "building", "task_state": "scheduling"})
    return u


def test_tracks_creates_updates_moves_and_deletes(tmp_path):
    db = _db(tmp_path)
    a = _create(db, "h1")
    tracker = InstanceTracker()
    assert [i["uuid"] for i in tracker.by_host(db)["h1"]] == [a]
    b = _create(db, "h2")
    view = tracker.by_host(db)
    assert {h: [i["uuid"] for i in v] for h, v in view.items()} == {"h1": [a], "h2": [b]}
    cell_db.update_instance(db, a, {"task_state": None, "vm_state": "active", "host": "h2"})
    view = tracker.by_host(db)
    assert "h1" not in view and {i["uuid"] for i in view["h2"]} == {a, b}
    assert {i["vm_state"] for i in view["h2"] if i["uuid"] == a} == {"active"}
    cell_db.soft_delete_instance(db, b)
    assert [i["uuid"] for i in tracker.by_host(db)["h2"]] == [a]
    db.dispose()


def test_hostless_and_deleted_instances_are_not_counted(tmp_path):
    db = _db(tmp_path)
    gone = _create(db, "h1")
    cell_db.soft_delete_instance(db, gone)
    _create(db, None)
    assert InstanceTracker().by_host(db) == {}
    db.dispose()
