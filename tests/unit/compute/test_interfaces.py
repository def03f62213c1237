"""The compute service's os-interface steps (RPC 1.10): the driver plugs or
unplugs the NIC, then the instance's network_info gains or loses the port's
address, with the action event; a failure changes nothing and says why."""
import pytest

from compute_core import conf as conf_mod
from compute_core import exception
from compute_core.compute.manager import ComputeManager
from compute_core.virt.driver import DEFAULT_CAPABILITIES

BOOT = {"addr": "10.0.0.2", "version": 4, "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}
PORT = {"id": "p2", "network_id": "n", "network_name": "private",
        "mac_address": "fa:16:3e:00:00:02", "tag": None,
        "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.3"}]}
ADDED = {"addr": "10.0.0.3", "version": 4, "OS-EXT-IPS:type": "fixed",
         "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:02"}


class Conductor:
    def __init__(self):
        self.instance = {"uuid": "u1", "network_info": {"private": [BOOT]}}
        self.events = []

    def instance_get(self, ctxt, uuid, event=None):
        return dict(self.instance) if self.instance else None

    def instance_update(self, ctxt, uuid, values, expected, event, return_instance=False):
        self.instance.update(values)
        if event:
            self.events.append((event["event"], event["result"]))

    def action_event(self, ctxt, uuid, event, result, host, tb, finish, details=None):
        self.events.append((event, result))


class Driver:
    def __init__(self, capable=True, fail=None):
        self.capabilities = dict(DEFAULT_CAPABILITIES, supports_attach_interface=capable)
        self.fail = fail
        self.plugged = []

    def supports(self, name):
        return self.capabilities.get(name, False)

    def attach_interface(self, context, instance, image_meta, vif):
        if self.fail:
            raise exception.VirtDriverError(reason=self.fail)
        self.plugged.append(vif["mac_address"])

    def detach_interface(self, context, instance, vif):
        self.plugged = [mac for mac in self.plugged if mac != vif["mac_address"]]


class Notifier:
    def __init__(self):
        self.sent = []

    def info(self, ctxt, event_type, payload):
        self.sent.append(event_type)

    error = info


def _manager(driver):
    conductor = Conductor()
    conf = conf_mod.load(args=[])
    mgr = ComputeManager(conf, "h1", driver, conductor, placement=None, notifier=Notifier())
    return mgr, conductor


def test_attach_then_detach_updates_network_info():
    driver = Driver()
    mgr, conductor = _manager(driver)
    assert mgr.attach_interface(None, {"uuid": "u1"}, PORT) is None
    assert conductor.instance["network_info"] == {"private": [BOOT, ADDED]}
    assert driver.plugged == ["fa:16:3e:00:00:02"]
    assert mgr.detach_interface(None, {"uuid": "u1"}, PORT) is None
    assert conductor.instance["network_info"] == {"private": [BOOT]}
    assert conductor.events == [("compute_attach_interface", None),
                                ("compute_attach_interface", "Success"),
                                ("compute_detach_interface", None),
                                ("compute_detach_interface", "Success")]
    assert mgr.notifier.sent == ["instance.interface_attach.start",
                                 "instance.interface_attach.end",
                                 "instance.interface_detach.start",
                                 "instance.interface_detach.end"]


def test_the_last_address_of_a_network_takes_the_network_with_it():
    mgr, conductor = _manager(Driver())
    conductor.instance["network_info"] = {"private": [ADDED]}
    assert mgr.detach_interface(None, {"uuid": "u1"}, PORT) is None
    assert conductor.instance["network_info"] == {}


@pytest.mark.parametrize("driver, error, message", [
    (Driver(fail="no room"), "VirtDriverError", "Virt driver failure: no room"),
    (Driver(capable=False), "NotSupportedByDriver",
     "The Driver driver does not support attach interface."),
])
def test_a_failure_changes_nothing(driver, error, message):
    mgr, conductor = _manager(driver)
    assert mgr.attach_interface(None, {"uuid": "u1"}, PORT) == {"error": error,
                                                                "message": message}
    assert conductor.instance["network_info"] == {"private": [BOOT]}
    assert conductor.events[-1] == ("compute_attach_interface", "Error")
    assert mgr.notifier.sent[-1] == "instance.interface_attach.error"
