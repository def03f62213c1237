"""How long a clean shutdown waits: the image's os_shutdown_timeout (kept
in the instance's system_metadata), else [DEFAULT] shutdown_timeout."""
import logging
from unittest import mock

import pytest

from compute_core import clock
from compute_core import conf as conf_mod
from compute_core.clock import Clock
from compute_core.compute import states
from compute_core.compute.manager import ComputeManager
from compute_core.compute.shutdown import shutdown_timeout
from compute_core.virt.driver import InstanceInfo, PowerState, load_driver


@pytest.fixture(scope="module")
def conf():
    return conf_mod.load(args=[], overrides={"shutdown_timeout": 45})


def _inst(**sysmeta):
    return {"uuid": "u1", "system_metadata": sysmeta}


@pytest.mark.parametrize("sysmeta, seconds", [
    ({}, 45),
    ({"image_os_shutdown_timeout": "7"}, 7),
    ({"image_os_shutdown_timeout": "0"}, 0),            # power off at once
    ({"image_os_shutdown_timeout": " 12 "}, 12),
    ({"image_properties": {"os_shutdown_timeout": 9}}, 9),
    ({"image_properties": {"os_shutdown_timeout": "8"}}, 8),
    # Nova's image_* item wins over the image_properties copy
    ({"image_os_shutdown_timeout": "3", "image_properties": {"os_shutdown_timeout": "9"}}, 3),
])
def test_the_image_property_else_the_option(conf, sysmeta, seconds):
    assert shutdown_timeout(conf, _inst(**sysmeta)) == seconds


@pytest.mark.parametrize("bad", ["-5", "ten", "", "2.5", "1e3", "٣", True, 2.0, [3]])
def test_a_bad_value_falls_back_to_the_option_logged(conf, bad, caplog):
    caplog.set_level(logging.WARNING, logger="compute_core.compute.shutdown")
    assert shutdown_timeout(conf, _inst(image_properties={"os_shutdown_timeout": bad})) == 45
    assert "os_shutdown_timeout" in caplog.text and "u1" in caplog.text


def test_an_instance_without_system_metadata(conf):
    assert shutdown_timeout(conf, {"uuid": "u2"}) == 45
    assert shutdown_timeout(conf, {"uuid": "u2", "system_metadata": None}) == 45


class Driver:
    """A driver that cannot ask the guest (no request_shutdown): power_off
    is given the timeout."""

    def __init__(self):
        self.power_offs = []

    def get_info(self, instance):
        return InstanceInfo(state=PowerState.RUNNING)

    def request_shutdown(self, instance, reboot=False):
        return False

    def power_off(self, instance, timeout=0, retry_interval=0):
        self.power_offs.append(timeout)


@pytest.mark.parametrize("sysmeta, clean, timeout", [
    ({"image_os_shutdown_timeout": "5"}, True, 5),
    ({}, True, 45),
    ({"image_os_shutdown_timeout": "5"}, False, 0),    # a forced stop stays forced
    ({"image_os_shutdown_timeout": "oops"}, True, 45),
])
def test_the_compute_manager_hands_it_to_the_driver(conf, sysmeta, clean, timeout):
    driver = Driver()
    mgr = ComputeManager(conf, "h1", driver, conductor=None, placement=None, notifier=None)
    mgr._power_off(_inst(**sysmeta), clean_shutdown=clean)
    assert driver.power_offs == [timeout]


# ------------------------------------------------ every clean power-off
# Stop, soft delete, rescue and the source's step of a resize or cold
# migration power the guest off alike (Nova's _power_off_instance): the
# fake driver's guest, asked by ACPI, is waited for the image's timeout on
# the service's clock; a guest that cannot be asked (paused) has the
# timeout handed to the driver's power_off, which the fake driver records.

class StepClock(Clock):
    """A clock whose sleeps pass at once: what a wait cost is read back."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += max(seconds, 0)


class Conductor:
    """What the compute manager tells the conductor, accepted and kept."""

    def __init__(self):
        self.updates = []

    def instance_update(self, ctxt, uuid, values, *args, **kwargs):
        self.updates.append(values)

    def action_event(self, *args, **kwargs):
        pass

    def instance_fault_create(self, ctxt, uuid, code, message, *args):
        raise AssertionError(f"unexpected fault: {message}")


OPERATIONS = {
    "stop": (states.POWERING_OFF, lambda mgr, inst: mgr.stop_instance(None, inst)),
    "soft delete": (states.SOFT_DELETING,
                    lambda mgr, inst: mgr.soft_delete_instance(None, inst)),
    "rescue": (states.RESCUING, lambda mgr, inst: mgr.rescue_instance(None, inst, None, None)),
    "resize": (states.RESIZE_MIGRATING, lambda mgr, inst: mgr.migrate_disk_and_power_off(
        None, inst, "h2", {"flavorid": "2"})),
}


def _fake_host(sysmeta, paused=False, deaf=False):
    conf = conf_mod.load(args=[], overrides={"compute_driver": "fake",
                                             "shutdown_timeout": 45})
    driver = load_driver(conf, "h1")
    inst = {"uuid": "g1", "vcpus": 1, "memory_mb": 64, "root_gb": 1, "image_ref": "img",
            "system_metadata": sysmeta}
    driver.spawn(None, inst, {"id": "img"}, {})
    if paused:
        driver.pause(inst)
    if deaf:
        driver.ignore_acpi("g1")
    conductor = Conductor()
    mgr = ComputeManager(conf, "h1", driver, conductor, placement=None,
                         notifier=mock.Mock())
    return mgr, driver, inst, conductor


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("sysmeta, waited", [
    ({"image_os_shutdown_timeout": "300"}, 300),
    ({}, 45),                                         # [DEFAULT] shutdown_timeout
    ({"image_os_shutdown_timeout": "0"}, 0),          # forced at once
    ({"image_os_shutdown_timeout": "soon"}, 45),      # ignored, logged
])
def test_a_guest_that_ignores_acpi_is_waited_for_the_image_s_timeout(operation, sysmeta,
                                                                      waited):
    mgr, driver, inst, conductor = _fake_host(sysmeta, deaf=True)
    task, run = OPERATIONS[operation]
    clk = StepClock()
    with clock.using(clk):
        answer = run(mgr, dict(inst, task_state=task))
    assert clk.now - 1000.0 == waited
    assert driver.power_off_timeouts["g1"] == 0        # then forced
    assert not (answer or {}).get("error"), answer
    guest = driver.instances.get("g1") or driver.moving_out["g1"]   # resize: moving out
    log = "".join(guest["console"])
    assert ("ACPI shutdown request ignored" in log) == bool(waited)
    if operation == "rescue":  # booted from the rescue image once the guest was off
        assert log.index("powered off") < log.index("rescue boot")


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("sysmeta, timeout", [
    ({"image_os_shutdown_timeout": "300"}, 300), ({}, 45), ({"image_os_shutdown_timeout": "0"}, 0),
])
def test_a_guest_that_cannot_be_asked_has_the_driver_given_the_timeout(operation, sysmeta,
                                                                       timeout):
    mgr, driver, inst, _ = _fake_host(sysmeta, paused=True)
    task, run = OPERATIONS[operation]
    with clock.using(StepClock()):
        run(mgr, dict(inst, task_state=task))
    assert driver.power_off_timeouts["g1"] == timeout


@pytest.mark.parametrize("operation", ["rescue", "resize", "soft delete"])
def test_a_guest_already_off_is_not_powered_off_again(operation):
    mgr, driver, inst, _ = _fake_host({"image_os_shutdown_timeout": "300"})
    driver.power_off(inst)
    driver.power_off_timeouts.clear()
    task, run = OPERATIONS[operation]
    run(mgr, dict(inst, task_state=task))
    assert "g1" not in driver.power_off_timeouts


def test_a_closed_clock_ends_the_wait():
    # The cloud stopping (its virtual clock closed) must not leave a
    # rescue or resize spinning until the guest's timeout: forced now.
    mgr, driver, inst, _ = _fake_host({"image_os_shutdown_timeout": "3600"}, deaf=True)
    clk = StepClock()
    clk.closed = True
    with clock.using(clk):
        mgr.rescue_instance(None, dict(inst, task_state=states.RESCUING), None, None)
    assert clk.now - 1000.0 < 1 and driver.power_off_timeouts["g1"] == 0
