"""Timers that follow the virtual clock (issue 24 item 5): a soft reboot a
guest ignores becomes hard after [libvirt] wait_soft_reboot_seconds, a
clean stop waits [DEFAULT] shutdown_timeout, and the compute host's
reboot_timeout, resize_confirm_window and rescue_timeout checks, each
shown by advancing the clock by minutes or hours in well under a second
of wall time per step."""
import time

import pytest

from compute_core import Cloud
from compute_core.testing import api_request
from tests.functional.double_helpers import act, boot_active, until

WALL_LIMIT = 10.0   # seconds of wall time for an advance and what follows (loaded machine)


@pytest.fixture(scope="module")
def cloud():
    with Cloud(hosts=2, clock="virtual", overrides={
            "reboot_timeout": 600, "resize_confirm_window": 3600,
            "rescue_timeout": 1800}) as c:
        yield c


_boot, _act = boot_active, act


def _server(cloud, sid):
    return api_request(cloud, "GET", f"/servers/{sid}").json()["server"]


def _console(cloud, host, sid):
    return "".join(cloud.driver(host).instances[sid].get("console", []))


_until = until


def _settle(cloud, sid, status, timeout=WALL_LIMIT):
    """Wait (wall time) for *status* with no task running."""
    return _until(lambda: (s := _server(cloud, sid))["status"] == status
                  and s["OS-EXT-STS:task_state"] is None and s, timeout)


def test_a_soft_reboot_the_guest_ignores_becomes_hard(cloud):
    sid, host = _boot(cloud, "deaf")
    cloud.driver(host).ignore_acpi(sid)
    _act(cloud, sid, {"reboot": {"type": "SOFT"}})
    _until(lambda: "ACPI shutdown request ignored" in _console(cloud, host, sid))
    time.sleep(0.3)
    assert _server(cloud, sid)["status"] == "REBOOT"            # waiting its 120 s
    began = time.perf_counter()
    cloud.clock.advance(120)
    _settle(cloud, sid, "ACTIVE")
    assert time.perf_counter() - began < WALL_LIMIT
    log = _console(cloud, host, sid)
    assert "hard reboot" in log and "soft reboot" not in log


def test_a_soft_reboot_the_guest_obeys_needs_no_wait(cloud):
    sid, host = _boot(cloud, "polite")
    _act(cloud, sid, {"reboot": {"type": "SOFT"}})
    _settle(cloud, sid, "ACTIVE")
    log = _console(cloud, host, sid)
    assert "ACPI shutdown" in log and "soft reboot" in log and "hard reboot" not in log


def test_a_clean_stop_waits_shutdown_timeout_then_powers_off(cloud):
    sid, host = _boot(cloud, "stubborn", metadata={"fake_acpi": "ignore"})
    _act(cloud, sid, {"os-stop": None})
    _until(lambda: "ACPI shutdown request ignored" in _console(cloud, host, sid))
    cloud.clock.advance(30)
    time.sleep(0.3)
    assert _server(cloud, sid)["OS-EXT-STS:task_state"] == "powering-off"   # 30 s of 60
    cloud.clock.advance(30)
    assert _settle(cloud, sid, "SHUTOFF")["OS-EXT-STS:power_state"] == 4
    # asked again (every 10 s: here once the clock had jumped) while it waited
    assert _console(cloud, host, sid).count("ACPI shutdown request ignored") >= 2


def test_a_reboot_stuck_longer_than_reboot_timeout_is_rebooted_hard(cloud):
    sid, host = _boot(cloud, "stuck-reboot")
    # the reboot message is lost: the server stays in task_state rebooting
    cloud.faults.add(operation="rpc:compute.reboot_instance", count=1)
    _act(cloud, sid, {"reboot": {"type": "SOFT"}})
    _until(lambda: cloud.faults.log)
    cloud.clock.advance(300)
    assert _server(cloud, sid)["OS-EXT-STS:task_state"] == "rebooting"
    began = time.perf_counter()
    cloud.clock.advance(3600)                                   # an hour
    _settle(cloud, sid, "ACTIVE")
    assert time.perf_counter() - began < WALL_LIMIT
    assert "hard reboot" in _console(cloud, host, sid)


def test_verify_resize_older_than_the_window_is_confirmed(cloud):
    sid, source = _boot(cloud, "auto-confirm")
    _act(cloud, sid, {"resize": {"flavorRef": "2"}})
    _settle(cloud, sid, "VERIFY_RESIZE")
    cloud.clock.advance(1800)
    assert _server(cloud, sid)["status"] == "VERIFY_RESIZE"     # half the window
    began = time.perf_counter()
    cloud.clock.advance(1860)
    server = _settle(cloud, sid, "ACTIVE")
    assert time.perf_counter() - began < WALL_LIMIT
    assert server["OS-EXT-SRV-ATTR:host"] != source and server["flavor"]["id"] == "2"
    assert sid not in cloud.driver(source).list_instances()     # the source copy dropped


def test_a_server_rescued_longer_than_rescue_timeout_is_unrescued(cloud):
    sid, host = _boot(cloud, "rescued")
    _act(cloud, sid, {"rescue": None})
    _settle(cloud, sid, "RESCUE")
    cloud.clock.advance(900)
    assert _server(cloud, sid)["status"] == "RESCUE"
    cloud.clock.advance(960)
    _settle(cloud, sid, "ACTIVE")


def test_the_timeouts_are_off_by_default():
    with Cloud(clock="virtual") as cloud:
        sid, host = _boot(cloud, "kept")
        _act(cloud, sid, {"rescue": None})
        _settle(cloud, sid, "RESCUE")
        cloud.clock.advance(86400)
        time.sleep(0.2)
        assert _server(cloud, sid)["status"] == "RESCUE"
        _act(cloud, sid, {"unrescue": None})
        _settle(cloud, sid, "ACTIVE")
