"""How long a clean shutdown waits: the image's os_shutdown_timeout (kept
in the instance's system_metadata), else [DEFAULT] shutdown_timeout."""
import logging

import pytest

from compute_core import conf as conf_mod
from compute_core.compute.manager import ComputeManager
from compute_core.compute.shutdown import shutdown_timeout
from compute_core.virt.driver import InstanceInfo, PowerState


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
