"""A compute host's recovery rules: what it finds at start (interrupted
builds, deletes and power actions), builds past instance_build_timeout,
and guests of deleted instances per running_deleted_instance_action."""
from __future__ import annotations

import datetime

import pytest

from compute_core import conf as conf_mod
from compute_core.compute import states
from compute_core.compute.manager import ComputeManager
from compute_core.virt.driver import PowerState, load_driver


class FakeConductor:
    """The conductor as the compute host reaches it, over a dict of rows."""

    def __init__(self, instances=(), deleted=(), casts=True, hold_casts=False):
        self.instances = {i["uuid"]: dict(i) for i in instances}
        self.deleted = {i["uuid"]: dict(i, deleted=1) for i in deleted}
        self.faults = []
        self.destroyed = []
        # (uuid, its vm_state then) of each deallocate_network
        self.freed = []
        # casts: a 1.13 conductor; hold_casts: cast updates wait in .held
        # until the test applies them (a conductor that is slow on them).
        self.casts, self.hold_casts, self.held, self.updates = casts, hold_casts, [], []

    def instances_on_host(self, ctxt, host):
        return [dict(i) for i in self.instances.values()]

    def casts_state_updates(self):
        return self.casts

    def instance_update_cast(self, ctxt, uuid, values, expected_task_state, event):
        update = (ctxt, uuid, values, expected_task_state, event, False)
        if self.hold_casts:
            self.held.append(update)
        else:
            self.instance_update(*update)

    def instance_update(self, ctxt, uuid, values, expected_task_state="__any__", event=None,
                        return_instance=True, expected_vm_state=None, fault=None):
        self.updates.append((uuid, dict(values), expected_task_state))
        inst = self.instances.get(uuid)
        if inst is None:
            return {"error": "InstanceNotFound", "message": uuid}
        if expected_task_state != "__any__":
            allowed = expected_task_state if isinstance(expected_task_state, list) \
                else [expected_task_state]
            if inst["task_state"] not in allowed:
                return {"error": "InstanceInvalidState", "message": uuid}
        if expected_vm_state is not None and inst["vm_state"] not in expected_vm_state:
            return {"error": "InstanceInvalidState", "message": uuid}
        inst.update(values)
        if fault is not None:  # with the update, as the conductor (1.15) writes it
            self.faults.append((uuid, fault["message"]))
        return dict(inst) if return_instance else None

    def instance_get(self, ctxt, uuid, event=None):
        return self.instances.get(uuid)

    def instance_fault_create(self, ctxt, uuid, code, message, details, host):
        self.faults.append((uuid, message))

    def destroys_with_start(self):
        return True

    def instance_destroy(self, ctxt, uuid, event=None, start_event=None):
        self.deleted[uuid] = dict(self.instances.pop(uuid), deleted=1)
        self.destroyed.append(uuid)

    def action_event(self, *args, **kwargs):
        pass

    def deleted_instances(self, ctxt, uuids):
        return [dict(self.deleted[u]) for u in uuids if u in self.deleted]

    def deallocate_network(self, ctxt, uuid):
        self.freed.append((uuid, self.instances[uuid]["vm_state"]))


class Recorder:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, args))


def _inst(uuid, vm_state=states.ACTIVE, task_state=None, age=datetime.timedelta(0)):
    created = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - age
    return {"uuid": uuid, "vm_state": vm_state, "task_state": task_state, "power_state": 1,
            "vcpus": 1, "memory_mb": 64, "root_gb": 1, "ephemeral_gb": 0,
            "image_ref": "img", "metadata": {}, "created_at": created.isoformat()}


def _manager(conductor, guests=(), **overrides):
    conf = conf_mod.load(args=[], overrides={"compute_driver": "fake", **overrides})
    driver = load_driver(conf, "h1")
    for uuid in guests:
        driver.spawn(None, _inst(uuid), {"id": "img"}, {})
    placement = Recorder()
    mgr = ComputeManager(conf, "h1", driver, conductor, placement, Recorder())
    return mgr, driver, placement


def test_start_puts_an_interrupted_spawn_in_error_and_frees_it():
    conductor = FakeConductor([_inst("spawning", states.BUILDING, states.SPAWNING),
                               _inst("queued", states.BUILDING, states.SCHEDULING)])
    mgr, driver, placement = _manager(conductor, guests=["spawning"])
    mgr.init_instances()
    failed = conductor.instances["spawning"]
    assert (failed["vm_state"], failed["task_state"]) == (states.ERROR, None)
    assert conductor.faults == [("spawning", "Build of instance spawning was interrupted by "
                                             "a restart of compute host h1.")]
    assert ("delete_allocations", ("spawning",)) in placement.calls
    assert conductor.freed == [("spawning", states.ERROR)]  # its ports, once in ERROR
    assert driver.list_instances() == []
    # A build still to come (its cast may be queued) is not this host's to judge.
    assert conductor.instances["queued"]["vm_state"] == states.BUILDING


def test_start_finishes_a_delete_and_drops_a_power_action():
    conductor = FakeConductor([_inst("deleting", task_state=states.DELETING),
                               _inst("stopping", task_state=states.POWERING_OFF),
                               _inst("resizing", task_state=states.RESIZE_MIGRATING)])
    mgr, driver, placement = _manager(conductor, guests=["deleting", "stopping"])
    mgr.init_instances()
    assert conductor.destroyed == ["deleting"] and driver.list_instances() == ["stopping"]
    assert conductor.instances["stopping"]["task_state"] is None
    assert conductor.instances["stopping"]["power_state"] == int(PowerState.RUNNING)
    # A move is the conductor's: left as it is.
    assert conductor.instances["resizing"]["task_state"] == states.RESIZE_MIGRATING


def test_builds_past_the_timeout_go_to_error():
    hour = datetime.timedelta(hours=1)
    conductor = FakeConductor([_inst("old", states.BUILDING, states.SPAWNING, age=hour),
                               _inst("young", states.BUILDING, states.SPAWNING),
                               _inst("done", age=hour)])
    mgr, _, placement = _manager(conductor, instance_build_timeout=60)
    mgr.check_instance_build_time()
    assert conductor.instances["old"]["vm_state"] == states.ERROR
    assert conductor.faults == [("old", "Build of instance old timed out. Set to error state.")]
    assert placement.calls == [("delete_allocations", ("old",))]
    assert conductor.freed == []  # as Nova: its ports stay until the delete
    assert conductor.instances["young"]["vm_state"] == states.BUILDING
    assert conductor.instances["done"]["vm_state"] == states.ACTIVE


class FinishingConductor(FakeConductor):
    """The build of *uuid* finishes (ACTIVE, no task) just after the host
    lists its instances: between the listing and the timeout's update."""

    def __init__(self, instances, uuid):
        super().__init__(instances)
        self.finishing = uuid

    def instances_on_host(self, ctxt, host):
        listed = super().instances_on_host(ctxt, host)
        self.instances[self.finishing].update(vm_state=states.ACTIVE, task_state=None)
        return listed


def test_a_build_that_finishes_as_it_times_out_stays_active():
    """Listed in BUILD past the timeout, ACTIVE by the update: the update,
    guarded by BUILDING, is refused; no fault, allocations kept, no error
    notification."""
    hour = datetime.timedelta(hours=1)
    conductor = FinishingConductor([_inst("late", states.BUILDING, states.SPAWNING, age=hour)],
                                   "late")
    mgr, _, placement = _manager(conductor, instance_build_timeout=60)
    mgr.check_instance_build_time()
    late = conductor.instances["late"]
    assert (late["vm_state"], late["task_state"]) == (states.ACTIVE, None)
    assert conductor.faults == []
    assert placement.calls == []
    assert mgr.notifier.calls == []


@pytest.mark.parametrize("alternates, max_attempts, freed", [
    ([], 3, True),             # no host left to try: ERROR here, ports back first
    ([{"host": "h2"}], 1, True),  # rescheduling off
    ([{"host": "h2"}], 3, False),  # rescheduled: the ports go with the build
])
def test_a_failed_spawn_not_rescheduled_gives_its_ports_back_before_error(
        alternates, max_attempts, freed):
    conductor = FakeConductor([_inst("bad", states.BUILDING, states.SCHEDULING)])
    conductor.build_instances = lambda *args: conductor.instances["bad"].update(
        task_state=states.SCHEDULING)
    mgr, driver, _ = _manager(conductor, **{"scheduler.max_attempts": max_attempts})

    def spawn(*args):
        raise RuntimeError("disk on fire")

    driver.spawn = spawn
    mgr.build_and_run_instance(None, conductor.instance_get(None, "bad"), {}, {}, alternates,
                               None, 1)
    assert conductor.freed == ([("bad", states.BUILDING)] if freed else [])
    assert conductor.instances["bad"]["vm_state"] == (
        states.ERROR if freed else states.BUILDING)


def test_a_build_run_again_counts_its_timeout_from_then():
    """Created long ago, scheduled again just now (after a restart): not late."""
    hour = datetime.timedelta(hours=1)
    rerun = _inst("rerun", states.BUILDING, states.SCHEDULING, age=hour)
    rerun["scheduled_at"] = datetime.datetime.now(datetime.timezone.utc).replace(
        tzinfo=None).isoformat()
    conductor = FakeConductor([rerun])
    mgr, _, placement = _manager(conductor, instance_build_timeout=60)
    mgr.check_instance_build_time()
    assert conductor.instances["rerun"]["vm_state"] == states.BUILDING
    assert placement.calls == []


def test_no_build_timeout_when_it_is_zero():
    conductor = FakeConductor([_inst("old", states.BUILDING, states.SPAWNING,
                                     age=datetime.timedelta(days=9))])
    mgr, _, _ = _manager(conductor, instance_build_timeout=0)
    mgr.check_instance_build_time()
    assert conductor.instances["old"]["vm_state"] == states.BUILDING


def test_a_spawn_that_outlived_its_build_drops_its_guest():
    """The build timed out while the driver spawned: the guest goes."""
    conductor = FakeConductor([_inst("slow", states.BUILDING, states.SCHEDULING)])
    mgr, driver, placement = _manager(conductor)
    real_spawn = driver.spawn

    def spawn(*args):
        real_spawn(*args)
        conductor.instances["slow"].update(vm_state=states.ERROR, task_state=None)

    driver.spawn = spawn
    mgr.build_and_run_instance(None, conductor.instance_get(None, "slow"), {}, {}, [], None, 1)
    assert driver.list_instances() == []
    assert ("delete_allocations", ("slow",)) in placement.calls
    assert conductor.instances["slow"]["vm_state"] == states.ERROR


def test_a_build_cast_its_spawning_update_and_does_not_wait_for_it():
    """With a 1.13 conductor the SPAWNING update is cast; applied after the
    build's last update (the conductor was slow on it), it is refused and
    the server stays ACTIVE."""
    conductor = FakeConductor([_inst("b", states.BUILDING, states.SCHEDULING)],
                              hold_casts=True)
    mgr, driver, _ = _manager(conductor)
    mgr.build_and_run_instance(None, conductor.instance_get(None, "b"), {}, {}, [], None, 1)
    assert driver.list_instances() == ["b"]
    assert conductor.instances["b"]["vm_state"] == states.ACTIVE
    assert [u[2] for u in conductor.updates] == [[states.SCHEDULING, states.SPAWNING]]
    (late,) = conductor.held
    assert conductor.instance_update(*late)["error"] == "InstanceInvalidState"
    assert conductor.instances["b"]["vm_state"] == states.ACTIVE
    assert conductor.instances["b"]["task_state"] is None


def test_a_build_calls_an_older_conductor_for_its_spawning_update():
    """A conductor older than 1.13 gets the SPAWNING update as a call, and
    the last update then wants SPAWNING."""
    conductor = FakeConductor([_inst("b", states.BUILDING, states.SCHEDULING)], casts=False)
    mgr, driver, _ = _manager(conductor)
    mgr.build_and_run_instance(None, conductor.instance_get(None, "b"), {}, {}, [], None, 1)
    assert [(u[1], u[2]) for u in conductor.updates] == [
        ({"task_state": states.SPAWNING}, states.SCHEDULING),
        (conductor.updates[1][1], states.SPAWNING)]
    assert conductor.instances["b"]["vm_state"] == states.ACTIVE


def test_a_build_of_a_server_deleted_while_queued_drops_its_guest():
    """The cast update finds no instance (nothing to answer); the build's
    last update does, and the guest it spawned goes."""
    conductor = FakeConductor([_inst("b", states.BUILDING, states.SCHEDULING)])
    mgr, driver, placement = _manager(conductor)
    queued = conductor.instance_get(None, "b")
    conductor.instances.pop("b")
    mgr.build_and_run_instance(None, queued, {}, {}, [], None, 1)
    assert driver.list_instances() == []
    assert ("delete_allocations", ("b",)) in placement.calls


@pytest.mark.parametrize("action, left, state", [
    ("reap", ["live"], None),
    ("shutdown", ["gone", "live"], PowerState.SHUTDOWN),
    ("log", ["gone", "live"], PowerState.RUNNING),
    ("noop", ["gone", "live"], PowerState.RUNNING),
])
def test_guests_of_deleted_instances(action, left, state):
    conductor = FakeConductor([_inst("live")], deleted=[_inst("gone")])
    mgr, driver, _ = _manager(conductor, guests=["gone", "live"],
                              running_deleted_instance_action=action)
    mgr.cleanup_running_deleted_instances()
    assert sorted(driver.list_instances()) == left
    if state is not None:
        assert driver.get_info(_inst("gone")).state is state
    assert driver.get_info(_inst("live")).state is PowerState.RUNNING


def test_guests_of_no_instance_are_reported_not_touched():
    conductor = FakeConductor([_inst("live")], deleted=[_inst("gone")])
    mgr, driver, _ = _manager(conductor, guests=["gone", "live", "stray"],
                              running_deleted_instance_action="reap")
    mgr.cleanup_running_deleted_instances()
    assert mgr.unknown_guests == ["stray"]
    assert sorted(driver.list_instances()) == ["live", "stray"]
