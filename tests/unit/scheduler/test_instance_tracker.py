"""The scheduler's incremental view of instances per host."""
import uuid

from compute_core.db import cell_db, cell_schema, migration
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
    assert list(tracker.by_host(db)["h1"]) == [a]
    b = _create(db, "h2")
    view = tracker.by_host(db)
    assert {h: list(v) for h, v in view.items()} == {"h1": [a], "h2": [b]}
    assert view["h2"][b] == {"host": "h2", "uuid": b, "vm_state": "building",
                             "task_state": "scheduling", "project_id": "p1"}
    cell_db.update_instance(db, a, {"task_state": None, "vm_state": "active", "host": "h2"})
    view = tracker.by_host(db)
    assert "h1" not in view and set(view["h2"]) == {a, b}
    assert view["h2"][a]["vm_state"] == "active"
    cell_db.soft_delete_instance(db, b)
    assert list(tracker.by_host(db)["h2"]) == [a]
    db.dispose()


def test_hostless_and_deleted_instances_are_not_counted(tmp_path):
    db = _db(tmp_path)
    gone = _create(db, "h1")
    cell_db.soft_delete_instance(db, gone)
    _create(db, None)
    assert InstanceTracker().by_host(db) == {}
    db.dispose()


def test_a_quiet_cell_costs_an_empty_read(tmp_path, monkeypatch):
    import datetime
    import time

    db = _db(tmp_path)
    for _ in range(3):
        _create(db, "h1")
    read = []
    real = cell_db.instance_states_changed_since

    def counting(db, since=None):
        rows = real(db, since)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(cell_db, "instance_states_changed_since", counting)
    tracker = InstanceTracker()
    tracker.MARGIN = datetime.timedelta(seconds=0.2)
    tracker.SHORT_MARGIN = datetime.timedelta(seconds=0.1)
    tracker.CATCH_UP = datetime.timedelta(seconds=0.1)
    assert len(tracker.by_host(db)["h1"]) == 3
    assert len(tracker.by_host(db)["h1"]) == 3  # inside the margin: read again
    time.sleep(0.35)
    tracker.by_host(db)
    time.sleep(0.35)
    tracker.by_host(db)
    assert len(tracker.by_host(db)["h1"]) == 3
    assert read[0] == 3 and read[1] == 3 and read[-1] == 0
    db.dispose()


def test_a_late_commit_inside_the_short_margin_is_seen_at_once(tmp_path):
    db = _db(tmp_path)
    tracker = InstanceTracker()
    assert tracker.by_host(db) == {}
    # A row stamped before the previous read, committed after it.
    u = str(uuid.uuid4())
    stamp = cell_db.now() - tracker.SHORT_MARGIN / 2
    cell_db.create_instance(db, {"uuid": u, "host": "h1", "project_id": "p",
                                 "vm_state": "active", "created_at": stamp})
    assert list(tracker.by_host(db)["h1"]) == [u]
    db.dispose()


def test_a_commit_later_than_the_short_margin_is_seen_at_the_catch_up(tmp_path):
    import datetime
    import time

    db = _db(tmp_path)
    tracker = InstanceTracker()
    tracker.CATCH_UP = datetime.timedelta(seconds=0.3)
    assert tracker.by_host(db) == {}
    # Stamped 2 s back (past the short margin, inside the whole one).
    u = str(uuid.uuid4())
    stamp = cell_db.now() - datetime.timedelta(seconds=2)
    cell_db.create_instance(db, {"uuid": u, "host": "h1", "project_id": "p",
                                 "vm_state": "active", "created_at": stamp})
    assert tracker.by_host(db) == {}  # a short read does not reach back that far
    time.sleep(0.35)
    assert list(tracker.by_host(db)["h1"]) == [u]
    db.dispose()


def test_each_view_is_the_callers_own(tmp_path):
    db = _db(tmp_path)
    a = _create(db, "h1")
    tracker = InstanceTracker()
    view = tracker.by_host(db)
    view["h1"]["someone-else"] = {"uuid": "someone-else"}  # as HostState.consume does
    assert list(tracker.by_host(db)["h1"]) == [a]
    db.dispose()


def test_host_of_follows_creates_moves_and_deletes(tmp_path):
    db = _db(tmp_path)
    a = _create(db, "h1")
    tracker = InstanceTracker()
    tracker.by_host(db)
    assert tracker.host_of(a) == "h1" and tracker.host_of("unknown") is None
    cell_db.update_instance(db, a, {"host": "h2"})
    tracker.by_host(db)
    assert tracker.host_of(a) == "h2"
    cell_db.soft_delete_instance(db, a)
    tracker.by_host(db)
    assert tracker.host_of(a) is None
    db.dispose()


def _node(db, host, **values):
    row = {"uuid": str(uuid.uuid4()), "host": host, "hypervisor_hostname": host,
           "vcpus": 4, "memory_mb": 4096, "local_gb": 40}
    row.update(values)
    return cell_db.upsert_compute_node(db, row)


def test_row_cache_follows_new_changed_and_deleted_nodes(tmp_path):
    from compute_core.scheduler.host_manager import RowCache

    db = _db(tmp_path)
    a = _node(db, "h1")
    cache = RowCache(cell_db.compute_nodes_changed_since)
    assert [n["host"] for n in cache.rows(db)] == ["h1"]
    b = _node(db, "h2")
    assert [n["host"] for n in cache.rows(db)] == ["h1", "h2"]
    cell_db.upsert_compute_node(db, {"uuid": a["uuid"], "vcpus": 64})
    assert {n["host"]: n["vcpus"] for n in cache.rows(db)} == {"h1": 64, "h2": 4}
    with db.begin() as conn:  # a node removed (soft delete, as Nova does)
        conn.execute(cell_schema.compute_nodes.update()
                     .where(cell_schema.compute_nodes.c.uuid == b["uuid"])
                     .values(deleted=1, deleted_at=cell_db.now()))
    assert [n["host"] for n in cache.rows(db)] == ["h1"]
    db.dispose()


def test_row_cache_reads_only_what_changed(tmp_path, monkeypatch):
    from compute_core.scheduler.host_manager import RowCache

    db = _db(tmp_path)
    _node(db, "h1")
    _node(db, "h2")
    seen = []

    def read(db, since):
        rows = cell_db.compute_nodes_changed_since(db, since)
        seen.append(len(rows))
        return rows
    cache = RowCache(read)
    cache.rows(db)
    cache.SHORT_MARGIN = __import__("datetime").timedelta(0)
    cache.rows(db)
    assert seen == [2, 0] and len(cache.rows(db)) == 2
    db.dispose()


def test_host_states_see_a_service_disabled_at_the_next_request(tmp_path):
    from compute_core.scheduler.host_manager import HostManager

    db = _db(tmp_path)
    node = _node(db, "h1")
    service = cell_db.service_heartbeat(db, "h1", "compute-compute", "compute")

    class Cells:
        def cells(self, include_cell0=False, include_disabled=False):
            return [{"uuid": "cell1"}]

        def get(self, cell_uuid):
            return db

    from compute_core import conf as conf_mod
    manager = HostManager(conf_mod.load(), Cells())
    (state,) = manager.host_states()
    assert state.uuid == node["uuid"] and not state.service["disabled"]
    assert state.service["up"]
    cell_db.update_service(db, service["uuid"], {"disabled": True})
    (state,) = manager.host_states()
    assert state.service["disabled"]
    db.dispose()
