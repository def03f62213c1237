"""The compute service's periodic power-state sync against its driver."""
from compute_core import conf as conf_mod
from compute_core.compute.manager import ComputeManager
from compute_core.virt.driver import InstanceInfo, PowerState


class FakeConductor:
    def __init__(self, instances):
        self.instances = {i["uuid"]: dict(i) for i in instances}
        self.updates = []

    def instances_on_host(self, ctxt, host):
        return list(self.instances.values())

    def instance_update(self, ctxt, uuid, values, expected_task_state="__any__", event=None,
                        return_instance=True):
        self.updates.append((uuid, values, expected_task_state))
        self.instances[uuid].update(values)
        return self.instances[uuid] if return_instance else None


class Driver:
    def __init__(self, states):
        self.states = states

    def get_info(self, instance):
        from compute_core import exception

        if instance["uuid"] not in self.states:
            raise exception.InstanceNotFound(instance_id=instance["uuid"])
        return InstanceInfo(state=self.states[instance["uuid"]])


def _inst(uuid, vm_state="active", power_state=1, task_state=None):
    return {"uuid": uuid, "vm_state": vm_state, "power_state": power_state,
            "task_state": task_state}


def _manager(instances, states):
    conf = conf_mod.load()
    conductor = FakeConductor(instances)
    mgr = ComputeManager(conf, "h1", Driver(states), conductor, placement=None, notifier=None)
    return mgr, conductor


def test_guest_stopped_behind_our_back_becomes_stopped():
    mgr, conductor = _manager([_inst("a")], {"a": PowerState.SHUTDOWN})
    mgr.sync_power_states()
    assert conductor.updates == [("a", {"power_state": 4, "vm_state": "stopped"}, None)]


def test_vanished_guest_is_nostate_and_stopped():
    mgr, conductor = _manager([_inst("a")], {})
    mgr.sync_power_states()
    assert conductor.instances["a"]["power_state"] == 0
    assert conductor.instances["a"]["vm_state"] == "stopped"


def test_matching_state_and_busy_instances_are_left_alone():
    mgr, conductor = _manager(
        [_inst("a"), _inst("b", task_state="rebooting", power_state=1),
         _inst("c", vm_state="building", power_state=0), _inst("d", vm_state="error")],
        {"a": PowerState.RUNNING, "b": PowerState.SHUTDOWN, "c": PowerState.RUNNING,
         "d": PowerState.RUNNING})
    mgr.sync_power_states()
    assert conductor.updates == []


def test_paused_guest_updates_power_state_only():
    mgr, conductor = _manager([_inst("a", vm_state="paused", power_state=1)],
                              {"a": PowerState.PAUSED})
    mgr.sync_power_states()
    assert conductor.updates == [("a", {"power_state": 3}, None)]


class EventDriver(Driver):
    """A driver with lifecycle events (the ComputeDriver hook)."""

    def register_event_listener(self, callback):
        self.listener = callback


def _event_manager(instances, states):
    conductor = FakeConductor(instances)
    conductor.instance_get = lambda ctxt, uuid: dict(conductor.instances[uuid], host="h1") \
        if uuid in conductor.instances else None
    driver = EventDriver(states)
    ComputeManager(conf_mod.load(), "h1", driver, conductor, placement=None, notifier=None)
    return driver, conductor


def _wait_for(check):
    import time

    deadline = time.monotonic() + 5
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)
    return check()


def test_a_lifecycle_event_syncs_that_instance_at_once():
    driver, conductor = _event_manager([_inst("a"), _inst("b")],
                                       {"a": PowerState.SHUTDOWN, "b": PowerState.SHUTDOWN})
    driver.listener("a", PowerState.SHUTDOWN)
    assert _wait_for(lambda: conductor.updates)
    assert conductor.updates == [("a", {"power_state": 4, "vm_state": "stopped"}, None)]


def test_a_lifecycle_event_during_a_task_is_left_to_the_task():
    driver, conductor = _event_manager([_inst("a", task_state="powering-off")],
                                       {"a": PowerState.SHUTDOWN})
    driver.listener("a", PowerState.SHUTDOWN)
    driver.listener("gone", PowerState.SHUTDOWN)  # an instance that no longer exists
    import time

    time.sleep(0.2)
    assert conductor.updates == []
