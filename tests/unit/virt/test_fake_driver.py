"""The fake virt driver plugin, loaded by name as the compute service loads
it: lifecycle, fault injection, host resources, and the moves (across hosts
and on one host)."""
import pytest

from compute_core import conf as conf_mod
from compute_core import exception
from compute_core.virt.driver import PowerState, load_driver


def _driver(host="h1", **overrides):
    conf = conf_mod.load(args=[], overrides={"compute_driver": "fake", **overrides})
    driver = load_driver(conf, host)
    driver.init_host()
    return driver


def _instance(uuid="i1", vcpus=1, memory_mb=512, root_gb=1, **extra):
    return {"uuid": uuid, "vcpus": vcpus, "memory_mb": memory_mb, "root_gb": root_gb,
            "ephemeral_gb": 0, "image_ref": "img", **extra}


def _spawned(driver, inst):
    driver.spawn(None, inst, {"id": "img"}, {})
    return inst


def _used(driver):
    res = driver.get_available_resource()
    return res.vcpus_used, res.memory_mb_used, res.local_gb_used


def test_loaded_by_name_with_the_configured_size():
    driver = _driver(**{"fake_driver.vcpus": 8, "fake_driver.memory_mb": 4096})
    res = driver.get_available_resource()
    assert type(driver).__name__ == "FakeDriver"
    assert (res.vcpus, res.memory_mb, res.hypervisor_hostname) == (8, 4096, "h1")


def test_lifecycle_and_power():
    driver = _driver()
    inst = _spawned(driver, _instance())
    assert driver.list_instances() == ["i1"]
    assert driver.get_info(inst).state == PowerState.RUNNING
    driver.power_off(inst)
    assert driver.get_info(inst).state == PowerState.SHUTDOWN
    driver.power_on(None, inst, {})
    assert driver.get_info(inst).state == PowerState.RUNNING
    assert _used(driver) == (1, 512, 1)
    driver.destroy(None, inst, {})
    assert driver.list_instances() == [] and _used(driver) == (0, 0, 0)
    with pytest.raises(exception.InstanceNotFound):
        driver.get_info(inst)


def test_faults_by_metadata_and_by_injection():
    driver = _driver()
    with pytest.raises(exception.VirtDriverError, match="Injected spawn failure on h1"):
        driver.spawn(None, _instance(metadata={"fake_fail": "spawn"}), {}, {})
    driver.inject_fault("spawn", "i2", count=1, message="disk on fire")
    with pytest.raises(exception.VirtDriverError, match="disk on fire"):
        _spawned(driver, _instance("i2"))
    _spawned(driver, _instance("i2"))  # the one failure is used up
    assert driver.list_instances() == ["i2"]


def test_a_move_across_hosts_confirmed_and_reverted():
    source, dest = _driver("h1"), _driver("h2")
    inst = _spawned(source, _instance())
    source.migrate_disk_and_power_off(None, inst, "h2", {}, {})
    assert source.list_instances() == []
    assert _used(source) == (1, 512, 1)  # the copy moving out still holds its share
    grown = dict(inst, vcpus=2, memory_mb=2048, root_gb=20)
    dest.finish_migration(None, {}, grown, {}, {}, {}, True, True)
    assert dest.get_info(grown).state == PowerState.RUNNING and _used(dest) == (2, 2048, 20)
    source.confirm_migration(None, {}, inst, {})
    assert _used(source) == (0, 0, 0)

    # Back again, reverted this time: the source copy runs again.
    dest.migrate_disk_and_power_off(None, grown, "h1", {}, {})
    source.finish_migration(None, {}, inst, {}, {}, {}, True, True)
    source.destroy(None, inst, {})
    dest.finish_revert_migration(None, grown, {}, {}, True)
    assert dest.get_info(grown).state == PowerState.RUNNING and _used(dest) == (2, 2048, 20)


@pytest.mark.parametrize("confirm", [True, False])
def test_a_move_on_one_host_keeps_the_two_copies_apart(confirm):
    driver = _driver()
    inst = _spawned(driver, _instance())
    driver.migrate_disk_and_power_off(None, inst, "h1", {}, {})
    grown = dict(inst, vcpus=2, memory_mb=2048, root_gb=20)
    driver.finish_migration(None, {}, grown, {}, {}, {}, True, False)
    assert _used(driver) == (3, 2560, 21)  # both flavors, as placement holds them
    assert driver.get_info(grown).state == PowerState.SHUTDOWN
    if confirm:  # the new guest stays, as finished: powered off
        driver.confirm_migration(None, {}, inst, {})
        assert _used(driver) == (2, 2048, 20)
        assert driver.get_info(inst).state == PowerState.SHUTDOWN
    else:  # the old guest is back and powered on
        driver.destroy(None, grown, {})
        driver.finish_revert_migration(None, inst, {}, {}, True)
        assert _used(driver) == (1, 512, 1)
        assert driver.get_info(inst).state == PowerState.RUNNING
    assert driver.list_instances() == ["i1"]


def test_same_host_cold_migration_is_declared_by_option():
    assert not _driver().supports("supports_migrate_to_same_host")
    assert _driver(**{"fake_driver.migrate_to_same_host": True}).supports(
        "supports_migrate_to_same_host")
    assert _driver().supports("supports_resize")


def test_guests_outlive_the_driver_with_a_guests_path(tmp_path):
    path = {"fake_driver.guests_path": str(tmp_path)}
    first = _driver(**path)
    _spawned(first, _instance("i1"))
    _spawned(first, _instance("i2"))
    first.power_off(_instance("i2"))
    first.destroy(None, _instance("i1"), {})
    again = _driver(**path)
    assert again.list_instances() == ["i2"]
    assert again.get_info(_instance("i2")).state is PowerState.SHUTDOWN
    assert _driver("h2", **path).list_instances() == []  # each host its own guests
    assert _driver().list_instances() == []  # no path: in memory only


def test_a_restored_state_reaches_the_guests_file_when_the_host_stops(tmp_path):
    path = {"fake_driver.guests_path": str(tmp_path)}
    first = _driver(**path)
    _spawned(first, _instance("i1"))
    saved = first.save_state()
    _spawned(first, _instance("i2"))
    first.load_state(saved)        # a snapshot restore: no file written yet
    assert sorted(_driver(**path).list_instances()) == ["i1", "i2"]
    first.cleanup_host()
    assert _driver(**path).list_instances() == ["i1"]
    # any later change writes the whole state as before
    first.load_state(first.save_state() | {"instances": {}})
    _spawned(first, _instance("i3"))
    assert _driver(**path).list_instances() == ["i3"]


def test_only_a_running_guest_is_asked_to_shut_down():
    driver = _driver()
    _spawned(driver, _instance("i1"))
    assert driver.request_shutdown(_instance("i1")) is True
    assert driver.get_info(_instance("i1")).state is PowerState.SHUTDOWN
    assert driver.request_shutdown(_instance("i1")) is False      # off already
    driver.power_on(None, _instance("i1"), {})
    driver.ignore_acpi("i1")
    assert driver.request_shutdown(_instance("i1"), reboot=True) is True
    assert driver.get_info(_instance("i1")).state is PowerState.RUNNING


def _vif(port_id, mac):
    return {"id": port_id, "network_id": "n", "network_name": "private", "mac_address": mac,
            "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.9"}], "tag": None}


def test_attach_and_detach_interface():
    driver = _driver()
    assert driver.supports("supports_attach_interface")
    inst = _instance()
    driver.spawn(None, inst, {"id": "img"}, {"private": [
        {"addr": "10.0.0.2", "version": 4, "OS-EXT-IPS:type": "fixed",
         "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}]})
    assert driver.instances["i1"]["nics"] == [{"mac": "fa:16:3e:00:00:01", "port_id": None}]
    driver.attach_interface(None, inst, {"id": "img"}, _vif("p2", "fa:16:3e:00:00:02"))
    assert driver.instances["i1"]["nics"][1] == {"mac": "fa:16:3e:00:00:02", "port_id": "p2"}
    with pytest.raises(exception.VirtDriverError, match="already"):
        driver.attach_interface(None, inst, {}, _vif("p3", "fa:16:3e:00:00:02"))
    driver.detach_interface(None, inst, _vif("p2", "fa:16:3e:00:00:02"))
    driver.detach_interface(None, inst, _vif("p2", "fa:16:3e:00:00:02"))  # gone: no error
    assert driver.instances["i1"]["nics"] == [{"mac": "fa:16:3e:00:00:01", "port_id": None}]
    assert driver.get_console_output(None, inst).splitlines()[-2:] == [
        "NIC fa:16:3e:00:00:02 plugged", "NIC fa:16:3e:00:00:02 unplugged"]
    driver.inject_fault("attach_interface", "i1", count=1)
    with pytest.raises(exception.VirtDriverError):
        driver.attach_interface(None, inst, {}, _vif("p4", "fa:16:3e:00:00:04"))
    with pytest.raises(exception.InstanceNotFound):
        driver.attach_interface(None, _instance("i9"), {}, _vif("p5", "fa:16:3e:00:00:05"))


def test_a_migrated_guest_has_the_nics_of_its_network_info():
    source, dest = _driver("h1"), _driver("h2")
    inst = _spawned(source, _instance())
    nets = {"private": [{"addr": "10.0.0.2", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"},
                        {"addr": "10.0.0.3", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:02"}]}
    info = source.migrate_disk_and_power_off(None, inst, "h2", {}, nets)
    dest.finish_migration(None, {}, inst, info, nets, {}, False)
    assert [n["mac"] for n in dest.instances["i1"]["nics"]] == ["fa:16:3e:00:00:01",
                                                                "fa:16:3e:00:00:02"]
