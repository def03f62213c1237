"""The conductor's rules for interrupted builds, one by one, on real SQLite
API and cell databases (the records a build leaves at each step) with
recording fakes for placement, the network and the RPC casts."""
from __future__ import annotations

import datetime
import uuid as uuidlib

import pytest

from compute_core import conf as conf_mod
from compute_core import exception
from compute_core.compute import states
from compute_core.conductor.manager import ConductorManager
from compute_core.conductor.recovery import BuildRecovery, check_interval
from compute_core.db import api_db, cell_db, migration
from compute_core.db import api_schema as t
from compute_core.db.cells import CELL0_UUID, CellDatabases, cell0_url, map_cell0
from compute_core.db.engines import Database

HOUR = datetime.timedelta(hours=1)


class Recorder:
    """Records every call made on it: ``rec.calls == [(name, args), ...]``."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.calls.append((name, args))
        return record

    def names(self, name):
        return [args for n, args in self.calls if n == name]


@pytest.fixture
def world(tmp_path):
    cell1_url = f"sqlite:///{tmp_path}/cell1.sqlite"
    api = Database(f"sqlite:///{tmp_path}/api.sqlite")
    migration.upgrade(api, "api")
    map_cell0(api, cell0_url(cell1_url))
    cell1 = api_db.create_cell(api, "cell1", cell1_url, "fake://")
    cells = CellDatabases(api)
    for cell in cells.refresh():
        migration.upgrade(cells.get(cell["uuid"]), "cell")
    conf = conf_mod.load(args=[], overrides={"instance_build_timeout": 600})
    placement, network, notifier, compute, conductor = (Recorder() for _ in range(5))
    manager = ConductorManager(conf, cells, cells.get(cell1["uuid"]), None, compute,
                               placement, network, notifier)

    class World:
        pass

    w = World()
    w.api, w.cells, w.conf, w.manager = api, cells, conf, manager
    w.cell1, w.db = cell1, cells.get(cell1["uuid"])
    w.cell0 = cells.get(CELL0_UUID)
    w.placement, w.network, w.compute, w.conductor = placement, network, compute, conductor
    w.recovery = lambda resume=False: BuildRecovery(manager, conductor, resume)
    yield w
    cells.close()
    api.dispose()


def _build_request(w, age=datetime.timedelta(0)):
    """A server as the API records it, created *age* ago."""
    uuid = str(uuidlib.uuid4())
    created = cell_db.now() - age
    inst = {"uuid": uuid, "project_id": "p", "user_id": "u", "display_name": "s",
            "vm_state": states.BUILDING, "task_state": states.SCHEDULING, "vcpus": 1,
            "memory_mb": 512, "root_gb": 1, "flavor": {"flavorid": "1", "name": "m1.tiny"},
            "created_at": created.isoformat(), "metadata": {}}
    api_db.create_build(w.api, inst, {"image": {"id": "img"}, "num_instances": 2,
                                      "instance_uuids": [uuid, "other"],
                                      "requested_networks": "none"})
    with w.api.begin() as conn:  # the build request's own timestamp
        conn.execute(t.build_requests.update().where(t.build_requests.c.instance_uuid == uuid)
                     .values(created_at=created))
    return uuid, inst


def _cell_row(w, inst, host="host1", mapped=False, db=None):
    """The row the conductor writes into the cell (and maps with *mapped*)."""
    values = dict(inst, host=host, node=host,
                  scheduled_at=datetime.datetime.fromisoformat(inst["created_at"]))
    values.pop("metadata")
    cell_db.create_instance(db or w.db, values, {})
    if mapped:
        assert api_db.finish_build(w.api, inst["uuid"], w.cell1["id"])


def _mapping_cell(w, uuid):
    return api_db.get_instance_mapping(w.api, uuid)["cell_uuid"]


def _up(w, host, up=True):
    svc = cell_db.service_heartbeat(w.db, host, "compute-compute", f"compute.{host}")
    if not up:
        cell_db.update_service(w.db, svc["uuid"], {"last_seen_up": cell_db.now() - HOUR})


def test_check_interval_follows_the_timeout():
    def conf(timeout):
        return conf_mod.load(args=[], overrides={"instance_build_timeout": timeout})

    assert check_interval(conf(0)) == 0
    assert check_interval(conf(5)) == 1.0
    assert check_interval(conf(300)) == 30.0
    assert check_interval(conf(3600)) == 60.0


def test_young_builds_are_left_alone(world):
    uuid, inst = _build_request(world, age=datetime.timedelta(seconds=5))
    other, inst2 = _build_request(world)
    _cell_row(world, inst2, mapped=True)
    world.recovery().sweep()
    assert api_db.get_build_request(world.api, uuid) is not None
    assert cell_db.get_instance(world.db, other)["vm_state"] == states.BUILDING
    assert world.placement.calls == world.conductor.calls == world.compute.calls == []


def test_unscheduled_build_request_is_scheduled_again_after_a_lost_bus(world):
    uuid, _ = _build_request(world)
    world.recovery(resume=True).at_start()
    assert world.placement.names("delete_allocations") == [(uuid,)]
    # What the stopped build took is released before it runs again.
    assert world.network.names("deallocate_for_instance") == [(uuid,)]
    (call,) = world.conductor.names("schedule_and_build_instances")
    _, uuids, spec, image, networks = call
    assert uuids == [uuid] and image == {"id": "img"} and networks == "none"
    assert (spec["num_instances"], spec["instance_uuids"]) == (1, [uuid])
    assert api_db.get_build_request(world.api, uuid) is not None


def test_unscheduled_build_request_times_out_into_cell0(world):
    uuid, _ = _build_request(world, age=HOUR)
    world.recovery().sweep()
    assert api_db.get_build_request(world.api, uuid) is None
    assert _mapping_cell(world, uuid) == CELL0_UUID
    buried = cell_db.get_instance(world.cell0, uuid)
    assert buried["vm_state"] == states.ERROR
    assert "timed out" in cell_db.get_fault(world.cell0, uuid)["message"]
    assert world.placement.names("delete_allocations") == [(uuid,)]
    assert world.conductor.calls == []


def test_row_written_but_not_mapped_is_mapped_and_cast_again(world):
    uuid, inst = _build_request(world)
    _cell_row(world, inst)
    world.recovery(resume=True).at_start()
    assert api_db.get_build_request(world.api, uuid) is None
    assert _mapping_cell(world, uuid) == world.cell1["uuid"]
    (call,) = world.compute.names("build_and_run_instance")
    assert call[1] == "host1" and call[2]["uuid"] == uuid and call[4] == {"id": "img"}
    assert world.conductor.calls == []  # cast once, not scheduled again


def test_row_written_but_not_mapped_times_out_into_error(world):
    uuid, inst = _build_request(world, age=HOUR)
    _cell_row(world, inst)
    world.recovery().sweep()
    assert _mapping_cell(world, uuid) == world.cell1["uuid"]
    row = cell_db.get_instance(world.db, uuid)
    assert (row["vm_state"], row["task_state"]) == (states.ERROR, None)
    assert "timed out" in cell_db.get_fault(world.db, uuid)["message"]
    assert world.placement.names("delete_allocations") == [(uuid,)]
    assert world.compute.calls == []


@pytest.mark.parametrize("leftover", ["no mapping", "mapping without cell"])
def test_row_of_a_server_deleted_before_it_was_mapped_is_deleted(world, leftover):
    uuid, inst = _build_request(world)
    _cell_row(world, inst)
    # The user's delete took the build request (and the mapping) away.
    api_db.delete_build_request(world.api, uuid)
    if leftover == "no mapping":
        api_db.delete_instance_records(world.api, uuid)
    world.recovery().sweep()  # not even due: a ghost goes at once
    assert cell_db.list_instances(world.db, {"uuid": uuid}) == []
    assert world.placement.names("delete_allocations") == [(uuid,)]
    assert world.network.names("deallocate_for_instance") == [(uuid,)]
    with pytest.raises(exception.InstanceNotFound):
        api_db.get_instance_mapping(world.api, uuid)


def test_mapped_build_whose_cast_was_lost_is_cast_again(world):
    uuid, inst = _build_request(world, age=HOUR)
    _cell_row(world, inst, mapped=True)
    cell_db.update_instance(world.db, uuid, {"task_state": states.SPAWNING})
    world.recovery(resume=True).at_start()
    (call,) = world.compute.names("build_and_run_instance")
    assert call[1] == "host1" and call[2]["task_state"] == states.SCHEDULING
    # Its timeout starts anew: the next sweep, with the host down, leaves it.
    _up(world, "host1", up=False)
    world.recovery().sweep()
    assert cell_db.get_instance(world.db, uuid)["vm_state"] == states.BUILDING


@pytest.mark.parametrize("host_up", [True, False])
def test_mapped_build_times_out_here_only_when_its_host_is_down(world, host_up):
    uuid, inst = _build_request(world, age=HOUR)
    _cell_row(world, inst, mapped=True)
    _up(world, "host1", host_up)
    world.recovery().sweep()
    row = cell_db.get_instance(world.db, uuid)
    if host_up:  # the host's own periodic task times it out
        assert row["vm_state"] == states.BUILDING and world.placement.calls == []
    else:
        assert row["vm_state"] == states.ERROR
        assert world.placement.names("delete_allocations") == [(uuid,)]


def test_no_timeout_means_no_timeout(world):
    world.conf.set_override("instance_build_timeout", 0)
    uuid, _ = _build_request(world, age=HOUR * 100)
    world.recovery().sweep()
    assert api_db.get_build_request(world.api, uuid) is not None


def _spawning(w, age=HOUR):
    """A mapped build on host1, spawning since *age* ago."""
    uuid, inst = _build_request(w, age=age)
    _cell_row(w, inst, mapped=True)
    cell_db.update_instance(w.db, uuid, {"task_state": states.SPAWNING})
    return uuid


@pytest.mark.parametrize("finishes", [False, True])
def test_a_host_s_build_timeout_fails_only_a_server_still_building(world, finishes):
    """host1's periodic timeout, through this conductor's database calls:
    a build that finishes between the listing and the update (ACTIVE, no
    task) stays ACTIVE, with no fault and its allocations kept."""
    from compute_core.compute.manager import ComputeManager
    from compute_core.virt.driver import load_driver

    uuid = _spawning(world)
    conf = conf_mod.load(args=[], overrides={"compute_driver": "fake",
                                             "instance_build_timeout": 60})
    listing = world.manager.instances_on_host

    def instances_on_host(ctxt, host):
        listed = listing(ctxt, host)
        if finishes:  # the spawn's last update, just after the listing
            cell_db.update_instance(world.db, uuid, {"vm_state": states.ACTIVE,
                                                     "task_state": None},
                                    expected_task_state=states.SPAWNING)
        return listed

    world.manager.instances_on_host = instances_on_host
    placement, notifier = Recorder(), Recorder()
    compute = ComputeManager(conf, "host1", load_driver(conf, "host1"), world.manager,
                             placement, notifier)
    compute.check_instance_build_time()
    row = cell_db.get_instance(world.db, uuid)
    if finishes:
        assert (row["vm_state"], row["task_state"]) == (states.ACTIVE, None)
        assert cell_db.get_fault(world.db, uuid) is None
        assert placement.calls == notifier.calls == []
    else:
        assert (row["vm_state"], row["task_state"]) == (states.ERROR, None)
        assert "timed out" in cell_db.get_fault(world.db, uuid)["message"]
        assert placement.names("delete_allocations") == [(uuid,)]
        assert [args[1] for args in notifier.names("error")] == ["instance.create.error"]


def test_the_conductor_s_timeout_leaves_a_build_finished_meanwhile_alone(world):
    """fail_build of a row listed in BUILD that went ACTIVE since: nothing,
    not even a fault."""
    from compute_core.conductor.recovery import fail_build

    uuid = _spawning(world)
    row = cell_db.get_instance(world.db, uuid)
    cell_db.update_instance(world.db, uuid, {"vm_state": states.ACTIVE, "task_state": None})
    fail_build(None, world.db, row, "timed out", world.placement, Recorder())
    assert cell_db.get_instance(world.db, uuid)["vm_state"] == states.ACTIVE
    assert cell_db.get_fault(world.db, uuid) is None
    assert world.placement.calls == []


@pytest.mark.parametrize("timed_out", [False, True])
def test_a_reschedule_out_of_hosts_fails_only_a_server_still_building(world, timed_out):
    """No alternate left: ERROR with the reason; a server the timeout put in
    ERROR meanwhile keeps its own fault, and is not scheduled again."""
    uuid = _spawning(world)
    if timed_out:
        cell_db.update_instance(world.db, uuid, {"vm_state": states.ERROR, "task_state": None})
        cell_db.add_fault(world.db, uuid, 500, "timed out")
    world.manager.build_instances(None, uuid, {}, {}, [], 1)
    assert cell_db.get_instance(world.db, uuid)["vm_state"] == states.ERROR
    message = cell_db.get_fault(world.db, uuid)["message"]
    assert message == ("timed out" if timed_out else
                       "Exceeded maximum number of retries. No valid host was found.")


def test_a_server_timed_out_is_not_rescheduled(world):
    """The host's spawn failed, asking for another; the build timed out
    meanwhile: it stays ERROR, the claim on the alternate is dropped."""
    uuid = _spawning(world)
    cell_db.update_instance(world.db, uuid, {"vm_state": states.ERROR, "task_state": None})
    world.placement.claim = lambda *args: True
    alternate = {"service_host": "host2", "nodename": "host2", "allocation_request": {}}
    world.manager.build_instances(None, uuid, {}, {}, [alternate], 1)
    row = cell_db.get_instance(world.db, uuid)
    assert (row["vm_state"], row["host"]) == (states.ERROR, "host1")
    assert world.compute.names("build_and_run_instance") == []
    assert world.placement.names("delete_allocations") == [(uuid,)]
