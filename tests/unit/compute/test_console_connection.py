"""The compute service's answer to "where is this guest's console": a type
its host does not enable is refused before the driver is asked, as Nova's
compute manager refuses it (the API's 400)."""
import pytest

from compute_core import conf as conf_mod
from compute_core import exception
from compute_core.compute.manager import ComputeManager


class Driver:
    def __init__(self):
        self.asked = []

    def get_console_connection(self, context, instance, console_type):
        self.asked.append(console_type)
        if console_type == "spice-html5":
            raise exception.NotSupportedByDriver(driver="Driver", action="spice consoles")
        return {"host": "0.0.0.0", "port": 5901}


@pytest.fixture
def manager():
    conf = conf_mod.load(overrides={"serial_console.enabled": False, "spice.enabled": True,
                                    "my_ip": "192.0.2.9"})
    driver = Driver()
    return ComputeManager(conf, "h1", driver, None, placement=None, notifier=None), driver


def test_a_type_this_host_does_not_enable_is_unavailable(manager):
    mgr, driver = manager
    assert mgr.get_console_connection(None, {"uuid": "a"}, "serial") == {
        "error": "ConsoleTypeUnavailable", "message": "Unavailable console type serial."}
    assert driver.asked == []


def test_an_enabled_type_is_the_drivers_answer(manager):
    mgr, driver = manager
    # Listening everywhere: reached at the host's address.
    assert mgr.get_console_connection(None, {"uuid": "a"}, "novnc") == {
        "host": "192.0.2.9", "port": 5901, "internal_access_path": None}
    answer = mgr.get_console_connection(None, {"uuid": "a"}, "spice-html5")
    assert answer["error"] == "NotSupportedByDriver"
    assert driver.asked == ["novnc", "spice-html5"]
