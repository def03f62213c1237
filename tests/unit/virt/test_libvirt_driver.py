"""The libvirt driver against libvirt's built-in ``test:///default``
connection (no daemon; its domains "run" without a hypervisor), loaded by
name as the compute service loads it. Disks are real files made with
qemu-img. ``test:///default`` is one shared hypervisor per process, as
libvirtd is for several compute hosts of one machine."""
import hashlib
import io
import os
import socket
import threading
import time
import uuid

import pytest

libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed")

from compute_core import conf as conf_mod  # noqa: E402
from compute_core import exception  # noqa: E402
from compute_core.image import ImageBackend  # noqa: E402
from compute_core.virt.driver import PowerState, load_driver  # noqa: E402
from compute_core_plugins.virt.libvirt import disks, host as host_mod  # noqa: E402

if disks.shutil.which("qemu-img") is None:
    pytest.skip("qemu-img is not installed (apt-get install qemu-utils)",
                allow_module_level=True)


class MemoryImages(ImageBackend):
    """Images as files in a directory, metadata in a dict; counts reads."""

    def __init__(self, root):
        self.root = root
        self.images = {}
        self.reads = 0

    def list(self):
        return list(self.images.values())

    def get(self, image_id):
        try:
            return self.images[image_id]
        except KeyError:
            raise exception.ImageNotFound(image_id=image_id) from None

    def create(self, name, fileobj, disk_format="qcow2", container_format="bare",
               properties=None, min_disk=0, min_ram=0, image_id=None):
        image_id = image_id or str(uuid.uuid4())
        data = fileobj.read()
        with open(os.path.join(self.root, image_id), "wb") as f:
            f.write(data)
        self.images[image_id] = {"id": image_id, "name": name, "disk_format": disk_format,
                                 "size": len(data), "properties": properties or {},
                                 "checksum": hashlib.md5(data).hexdigest()}
        return self.images[image_id]

    def delete(self, image_id):
        self.images.pop(image_id)

    def path(self, image_id):
        self.reads += 1
        time.sleep(0.05)  # a slow store: concurrent fetches overlap
        return os.path.join(self.root, image_id)


@pytest.fixture
def state(tmp_path):
    images_dir = tmp_path / "store"
    images_dir.mkdir()
    images = MemoryImages(str(images_dir))
    image = images.create("raw-1m", io.BytesIO(b"\0" * (1 << 20)), disk_format="raw")
    return {"path": str(tmp_path), "images": images, "image": image}


def _driver(state, host="host1", **overrides):
    conf = conf_mod.load(args=[], overrides={
        "compute_driver": "libvirt", "state_path": state["path"],
        "libvirt.connection_uri": "test:///default", "libvirt.wait_soft_reboot_seconds": 2,
        "libvirt.image_cache_manager_interval": 0, **overrides})
    driver = load_driver(conf, host)
    driver.images = state["images"]
    driver.init_host()
    return driver


def _instance(**extra):
    return {"uuid": str(uuid.uuid4()), "display_name": "vm", "vcpus": 1, "memory_mb": 128,
            "root_gb": 1, "ephemeral_gb": 0, "flavor": {"name": "m1.test", "swap": 0},
            "project_id": "demo", "user_id": "alice", "metadata": {}, **extra}


NET = {"private": [{"addr": "10.0.0.5", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:05"}]}


@pytest.fixture
def spawned(state):
    driver = _driver(state)
    inst = _instance(ephemeral_gb=1, flavor={"name": "m1.test", "swap": 32},
                     image_ref=state["image"]["id"])
    driver.spawn(None, inst, state["image"], NET)
    yield driver, inst
    driver.destroy(None, inst, {})
    driver.cleanup_host()


def test_loaded_by_name_with_its_options():
    conf = conf_mod.load(args=[], overrides={"compute_driver": "libvirt",
                                             "libvirt.virt_type": "qemu"})
    driver = load_driver(conf, "h1")
    assert type(driver).__name__ == "LibvirtDriver"
    assert conf.libvirt.virt_type == "qemu" and conf.libvirt.connection_uri == "qemu:///system"
    # What it cannot do is declared, so the API refuses it with a 409.
    assert driver.supports("supports_pause") and driver.supports("supports_live_migration")
    assert not driver.supports("supports_rebuild")
    with pytest.raises(exception.NotSupportedByDriver):
        driver.rebuild(None, {}, {}, {})


def test_live_migration_between_hosts_of_one_libvirtd_is_refused(state):
    """test:///default is one libvirt host for both: libvirt would refuse
    the move to itself, the driver says why first and the guest stays."""
    source, dest = _driver(state, "host1"), _driver(state, "host2")
    inst = _instance(image_ref=state["image"]["id"])
    source.spawn(None, inst, state["image"], {})
    calls = []
    try:
        data = dest.pre_live_migration(None, inst, {}, {})
        assert data["shared_storage"] is True  # one instances_path: nothing made
        assert data["dest_host"] == "host2" and data["dest_host_uuid"]
        with pytest.raises(exception.VirtDriverError, match="use one libvirt host"):
            source.live_migration(None, inst, "host2",
                                  lambda *a: calls.append("post"),
                                  lambda *a: calls.append("recover"), data)
        assert calls == ["recover"]
        assert inst["uuid"] in source.list_instances()
        assert source.get_info(inst).state == PowerState.RUNNING
    finally:
        source.destroy(None, inst, {})
        source.cleanup_host()
        dest.cleanup_host()


def test_a_block_migration_destination_makes_the_disks(state, tmp_path):
    source = _driver(state, "host1")
    dest = _driver(state, "host2", **{"libvirt.instances_path": str(tmp_path / "other")})
    inst = _instance(image_ref=state["image"]["id"], ephemeral_gb=1,
                     flavor={"name": "m1.eph", "swap": 8})
    source.spawn(None, inst, state["image"], {})
    try:
        data = dest.pre_live_migration(None, inst, {}, {"migration": "m-1"})
        assert data["shared_storage"] is False and data["migration"] == "m-1"
        assert data["dest_instances_path"] == dest.instances_path
        made = os.path.join(dest.instances_path, inst["uuid"])
        assert sorted(n for n in os.listdir(made) if n.startswith("disk")) == [
            "disk", "disk.eph0", "disk.info", "disk.swap"]
        root = disks.image_info(os.path.join(made, "disk"))
        assert root["virtual-size"] == 1 << 30 and root["format"] == "qcow2"
        # no domain is defined there before the move
        assert inst["uuid"] not in dest.list_instances()
        # A second preparation finds the first one's files and takes them
        # for shared storage; the source, which does not see its check
        # file, refuses the move.
        again = dest.pre_live_migration(None, dict(inst), {}, {})
        assert again["shared_storage"] is True
        calls = []
        with pytest.raises(exception.VirtDriverError, match="not shared storage"):
            source.live_migration(None, inst, "host2", lambda *a: calls.append("post"),
                                  lambda *a: calls.append("recover"), again)
        assert calls == ["recover"]
    finally:
        source.destroy(None, inst, {})
        disks.remove_dir(os.path.join(dest.instances_path, inst["uuid"]))
        source.cleanup_host()
        dest.cleanup_host()


def test_spawn_makes_disks_and_a_running_domain(spawned, state):
    driver, inst = spawned
    assert inst["uuid"] in driver.list_instances()
    assert driver.get_info(inst).state == PowerState.RUNNING
    directory = os.path.join(driver.instances_path, inst["uuid"])
    root = disks.image_info(os.path.join(directory, "disk"))
    assert root["format"] == "qcow2" and root["virtual-size"] == 1 << 30  # flavor's 1 GiB
    assert root["backing-filename"] == os.path.join(driver.instances_path, "_base",
                                                    state["image"]["id"])
    assert disks.image_info(os.path.join(directory, "disk.eph0"))["virtual-size"] == 1 << 30
    assert disks.image_info(os.path.join(directory, "disk.swap"))["virtual-size"] == 32 << 20
    xml = driver._domain(inst).XMLDesc(0)
    assert "fa:16:3e:00:00:05" in xml and "console.log" in xml
    from compute_core_plugins.virt.libvirt import config

    meta = config.read_metadata(xml)
    assert meta["host"] == "host1" and meta["project"] == {"uuid": "demo"}
    assert meta["flavor"]["name"] == "m1.test"


def test_power_states_follow_the_operations(spawned):
    driver, inst = spawned
    steps = [(driver.pause, (inst,), PowerState.PAUSED),
             (driver.unpause, (inst,), PowerState.RUNNING),
             (driver.suspend, (None, inst), PowerState.SUSPENDED),
             (driver.resume, (None, inst, {}), PowerState.RUNNING),
             (driver.power_off, (inst, 2), PowerState.SHUTDOWN),
             (driver.power_on, (None, inst, {}), PowerState.RUNNING),
             (driver.reboot, (None, inst, {}, "SOFT"), PowerState.RUNNING),
             (driver.reboot, (None, inst, {}, "HARD"), PowerState.RUNNING),
             (driver.power_off, (inst, 0), PowerState.SHUTDOWN)]
    for call, args, expected in steps:
        call(*args)
        assert driver.get_info(inst).state == expected, call.__name__


def test_lifecycle_events_reach_the_listener(spawned):
    driver, inst = spawned
    seen = []
    got = threading.Event()

    def listener(uuid_, state):
        seen.append((uuid_, state))
        if state == PowerState.PAUSED:
            got.set()

    driver.register_event_listener(listener)
    driver._domain(inst).suspend()  # paused behind the driver's back
    assert got.wait(5), seen
    assert (inst["uuid"], PowerState.PAUSED) in seen


def test_destroy_leaves_nothing(state):
    driver = _driver(state)
    inst = _instance()
    driver.spawn(None, inst, state["image"], NET)
    driver.suspend(None, inst)  # a managed save image goes too
    driver.destroy(None, inst, {})
    assert inst["uuid"] not in driver.list_instances()
    assert driver._domain(inst, required=False) is None
    assert not os.path.exists(os.path.join(driver.instances_path, inst["uuid"]))
    assert len(driver.image_cache.locks) == 0
    with pytest.raises(exception.InstanceNotFound):
        driver.get_info(inst)
    driver.destroy(None, inst, {})  # again: not an error


def test_a_failed_spawn_cleans_up(state):
    driver = _driver(state)
    image = state["images"].create("bad-bus", io.BytesIO(b"\0" * 4096), disk_format="raw",
                                   properties={"hw_disk_bus": "floppy"})
    inst = _instance()
    with pytest.raises(exception.VirtDriverError, match="hw_disk_bus"):
        driver.spawn(None, inst, image, {})
    assert driver._domain(inst, required=False) is None
    assert not os.path.exists(os.path.join(driver.instances_path, inst["uuid"]))


def test_flavor_disk_smaller_than_the_image_is_refused(state):
    driver = _driver(state)
    qcow2 = os.path.join(state["path"], "big.qcow2")
    disks.create_blank_disk(qcow2, "2G")  # 2 GiB virtual, a few KiB on disk
    with open(qcow2, "rb") as f:
        image = state["images"].create("big", f, disk_format="qcow2")
    inst = _instance(root_gb=1)
    with pytest.raises(exception.VirtDriverError, match="smaller than the image"):
        driver.spawn(None, inst, image, {})


def test_hosts_sharing_one_libvirtd_see_their_own_guests(state):
    one, two = _driver(state, "host1"), _driver(state, "host2")
    a, b = _instance(vcpus=1, memory_mb=128), _instance(vcpus=2, memory_mb=256)
    one.spawn(None, a, state["image"], {})
    two.spawn(None, b, state["image"], {})
    try:
        assert a["uuid"] in one.list_instances() and a["uuid"] not in two.list_instances()
        assert b["uuid"] in two.list_instances() and b["uuid"] not in one.list_instances()
        res = two.get_available_resource()
        assert (res.vcpus_used, res.memory_mb_used, res.local_gb_used) == (2, 256, 1)
        assert res.hypervisor_hostname == "host2" and res.hypervisor_type == "TEST"
        assert res.vcpus > 0 and res.memory_mb > 0 and res.local_gb > 0
        tree = {"inventories": {}, "traits": set()}
        two.update_provider_tree(tree, "host2")
        assert {"COMPUTE_STORAGE_BUS_VIRTIO", "COMPUTE_NET_VIF_MODEL_VIRTIO",
                "COMPUTE_FIRMWARE_BIOS"} <= tree["traits"]
    finally:
        one.destroy(None, a, {})
        two.destroy(None, b, {})


def test_image_cache_fetches_once_verifies_and_cleans_up(state):
    driver = _driver(state, **{"libvirt.remove_unused_original_minimum_age_seconds": 3600})
    cache = driver.image_cache
    image_id = state["image"]["id"]
    threads = [threading.Thread(target=cache.fetch, args=(image_id,)) for _ in range(5)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert state["images"].reads == 1 and len(cache.locks) == 0
    assert oct(os.stat(cache.path(image_id)).st_mode & 0o777) == "0o644"

    corrupt = state["images"].create("corrupt", io.BytesIO(b"data"), disk_format="raw")
    corrupt["checksum"] = "0" * 32
    with pytest.raises(exception.VirtDriverError, match="corrupt"):
        cache.fetch(corrupt["id"])
    assert os.listdir(cache.base_dir) == [image_id]  # no partial file left

    # Unused, but younger than the minimum age: kept; older: removed.
    assert driver.manage_image_cache() == []
    past = time.time() - 7200
    os.utime(cache.path(image_id), (past, past))
    inst = _instance()
    driver.spawn(None, inst, state["image"], {})
    os.utime(cache.path(image_id), (past, past))
    assert driver.manage_image_cache() == []  # in use by inst
    driver.destroy(None, inst, {})
    assert driver.manage_image_cache() == [image_id]
    assert os.listdir(cache.base_dir) == []


def test_console_output_is_the_serial_log(spawned):
    driver, inst = spawned
    assert driver.get_console_output(None, inst) == ""  # nothing written by test://
    with open(os.path.join(driver.instances_path, inst["uuid"], "console.log"), "w") as f:
        f.write("boot\nlogin: ")
    assert driver.get_console_output(None, inst) == "boot\nlogin: "
    # Made while [spice] enabled is off: no SPICE graphics (Nova's 400).
    with pytest.raises(exception.ConsoleTypeUnavailable):
        driver.get_console_connection(None, inst, "spice-html5")
    with pytest.raises(exception.NotSupportedByDriver):
        driver.get_console_connection(None, inst, "webmks")


def test_snapshot_uploads_a_qcow2_of_the_root_disk(spawned):
    driver, inst = spawned
    uploaded = {}
    driver.snapshot(None, inst, "snap-1",
                    lambda f, disk_format=None: uploaded.update(data=f.read(),
                                                                format=disk_format))
    assert uploaded["data"][:4] == b"QFI\xfb"
    assert uploaded["format"] == "qcow2"  # declared: the record says the base's
    assert driver.get_info(inst).state == PowerState.RUNNING  # paused only meanwhile
    assert not any(n.startswith("snapshot") for n in
                   os.listdir(os.path.join(driver.instances_path, inst["uuid"])))


def test_rescue_and_unrescue(spawned):
    driver, inst = spawned
    directory = os.path.join(driver.instances_path, inst["uuid"])
    driver.rescue(None, inst, {}, {}, None)
    xml = driver._domain(inst).XMLDesc(0)
    assert "disk.rescue" in xml and driver.get_info(inst).state == PowerState.RUNNING
    driver.unrescue(None, inst)
    xml = driver._domain(inst).XMLDesc(0)
    assert "disk.rescue" not in xml and not os.path.exists(
        os.path.join(directory, "disk.rescue"))


@pytest.mark.parametrize("revert", [False, True])
def test_cold_migration_between_hosts(state, revert):
    src, dst = _driver(state, "host1"), _driver(state, "host2")
    inst = _instance(root_gb=1)
    src.spawn(None, inst, state["image"], {})
    info = src.migrate_disk_and_power_off(None, inst, "host2", {"root_gb": 2}, {})
    assert inst["uuid"] not in src.list_instances()
    bigger = dict(inst, root_gb=2, memory_mb=256)
    dst.finish_migration(None, {}, bigger, info, {}, {}, True)
    assert inst["uuid"] in dst.list_instances()
    disk = os.path.join(dst.instances_path, inst["uuid"], "disk")
    assert disks.image_info(disk)["virtual-size"] == 2 << 30
    if revert:
        dst.destroy(None, bigger, {})
        src.finish_revert_migration(None, inst, {}, {})
        assert inst["uuid"] in src.list_instances()
        assert src.get_info(inst).state == PowerState.RUNNING
        src.destroy(None, inst, {})
    else:
        src.confirm_migration(None, {}, inst, {})
        assert not os.path.exists(info["source_dir"])
        dst.destroy(None, bigger, {})
    assert os.listdir(src.instances_path) == ["_base"]


def test_leftovers_are_found(state):
    driver = _driver(state)
    inst = _instance()
    driver.spawn(None, inst, state["image"], {})
    stray = os.path.join(driver.instances_path, str(uuid.uuid4()))
    os.makedirs(stray)
    try:
        assert driver.find_leftovers() == [
            f"instance directory {os.path.basename(stray)} has no domain"]
        disks.remove_dir(os.path.join(driver.instances_path, inst["uuid"]))
        found = driver.find_leftovers()
        assert f"domain instance-{inst['uuid']} has no instance directory" in found
    finally:
        driver.destroy(None, inst, {})
        os.rmdir(stray)


def test_reconnects_when_the_connection_closes(state):
    driver = _driver(state)
    first = driver._host.get_connection()
    first.close()
    second = driver._host.get_connection()
    assert second is not first and second.isAlive()
    assert isinstance(driver.list_instances(), list)


def test_virt_type_kvm_only_where_it_really_works(monkeypatch):
    class QemuConn:
        def getType(self):
            return "QEMU"

        def getDomainCapabilities(self, *args):
            return "<domainCapabilities/>"

    host = host_mod.Host("qemu:///system")
    monkeypatch.setattr(host, "get_connection", lambda: QemuConn())
    monkeypatch.setattr(host_mod.os.path, "exists", lambda p: True)
    monkeypatch.setattr(host_mod.os, "access", lambda p, m: True)
    monkeypatch.setattr(host_mod, "_cpu_flags", lambda: {"sse2", "hypervisor"})
    assert host.detect_virt_type("auto") == "qemu"  # /dev/kvm, but no vmx/svm
    with pytest.raises(exception.ConfigError, match="no vmx/svm"):
        host.detect_virt_type("kvm")
    monkeypatch.setattr(host_mod, "_cpu_flags", lambda: {"sse2", "vmx"})
    assert host.detect_virt_type("auto") == "kvm"
    assert host.detect_virt_type("qemu") == "qemu"


def test_image_properties_choose_nic_model_and_firmware(state):
    driver = _driver(state, **{"libvirt.ovmf_code": "/nonexistent/OVMF_CODE.fd"})
    e1000 = state["images"].create("e1000", io.BytesIO(b"\0" * 4096), disk_format="raw",
                                   properties={"hw_vif_model": "e1000",
                                               "hw_disk_bus": "sata"})
    inst = _instance()
    driver.spawn(None, inst, e1000, NET)
    try:
        xml = driver._domain(inst).XMLDesc(0)
        assert "<model type='e1000'/>" in xml and "bus='sata'" in xml and "dev='sda'" in xml
    finally:
        driver.destroy(None, inst, {})
    uefi = state["images"].create("uefi", io.BytesIO(b"\0" * 4096), disk_format="raw",
                                  properties={"hw_firmware_type": "uefi"})
    with pytest.raises(exception.VirtDriverError, match="apt-get install ovmf"):
        driver.spawn(None, _instance(), uefi, {})
    tree = {"inventories": {}, "traits": set()}
    driver.update_provider_tree(tree, "host1")
    assert "COMPUTE_FIRMWARE_UEFI" not in tree["traits"]


def test_config_drive_is_a_cdrom_with_the_metadata(state):
    from compute_core_plugins.virt.libvirt import configdrive

    driver = _driver(state)
    inst = _instance(config_drive="True", hostname="vm-1", key_name="mykey",
                     key_data="ssh-ed25519 AAAA test", metadata={"role": "web"},
                     user_data="IyEvYmluL3NoCmVjaG8gaGk=")  # "#!/bin/sh\necho hi"
    driver.spawn(None, inst, state["image"], NET)
    try:
        xml = driver._domain(inst).XMLDesc(0)
        assert "device='cdrom'" in xml and "disk.config" in xml and "bus='ide'" in xml
        iso = os.path.join(driver.instances_path, inst["uuid"], "disk.config")
        import json

        meta = json.loads(configdrive.read_file(iso, "/openstack/latest/meta_data.json"))
        assert meta["uuid"] == inst["uuid"] and meta["hostname"] == "vm-1"
        assert meta["meta"] == {"role": "web"}
        assert meta["public_keys"] == {"mykey": "ssh-ed25519 AAAA test"}
        assert configdrive.read_file(iso, "/openstack/latest/user_data") == \
            b"#!/bin/sh\necho hi"
        net = json.loads(configdrive.read_file(iso, "/openstack/latest/network_data.json"))
        assert net["links"][0]["ethernet_mac_address"] == "fa:16:3e:00:00:05"
        with open(iso, "rb") as f:
            f.seek(32768 + 40)
            assert f.read(8) == b"config-2"  # the volume label readers look for
    finally:
        driver.destroy(None, inst, {})


def test_a_guest_deaf_to_acpi_is_rebooted_and_stopped_hard(spawned, monkeypatch):
    driver, inst = spawned
    monkeypatch.setattr(libvirt.virDomain, "shutdown", lambda self: 0)  # ignored
    t0 = time.monotonic()
    driver.reboot(None, inst, {}, "SOFT")
    assert 2 <= time.monotonic() - t0 < 10  # waited, then rebooted hard
    assert driver.get_info(inst).state == PowerState.RUNNING
    t0 = time.monotonic()
    driver.power_off(inst, timeout=1)
    assert 1 <= time.monotonic() - t0 < 10
    assert driver.get_info(inst).state == PowerState.SHUTDOWN


def test_a_refused_acpi_shutdown_is_not_waited_for(spawned, monkeypatch):
    driver, inst = spawned

    def refuse(self):
        raise libvirt.libvirtError("no ACPI here")

    monkeypatch.setattr(libvirt.virDomain, "shutdown", refuse)
    t0 = time.monotonic()
    driver.reboot(None, inst, {}, "SOFT")
    driver.power_off(inst, timeout=30)
    assert time.monotonic() - t0 < 2  # hard at once, no wait for a button nobody pressed
    assert driver.get_info(inst).state == PowerState.SHUTDOWN


def test_serial_consoles_get_ports_of_their_own(state):
    # Nova's options: [serial_console] enabled, port_range, proxyclient_address.
    driver = _driver(state, **{"serial_console.enabled": True,
                               "serial_console.port_range": "10500:10501",
                               "serial_console.proxyclient_address": "127.0.0.2"})
    a, b, c = _instance(), _instance(), _instance()
    driver.spawn(None, a, state["image"], {})
    driver.spawn(None, b, state["image"], {})
    try:
        answers = [driver.get_console_connection(None, i, "serial") for i in (a, b)]
        assert {x["port"] for x in answers} == {10500, 10501}
        assert {x["host"] for x in answers} == {"127.0.0.2"}
        assert driver.supports("supports_console_serial")
        # The range is used up: the third guest cannot get one.
        with pytest.raises(exception.VirtDriverError, match="port_range 10500:10501"):
            driver.spawn(None, c, state["image"], {})
    finally:
        for inst in (a, b, c):
            driver.destroy(None, inst, {})


def test_a_serial_port_something_else_listens_on_is_skipped(state):
    driver = _driver(state, **{"serial_console.enabled": True,
                               "serial_console.port_range": "10510:10512"})
    inst = _instance()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 10510))
        taken.listen()
        driver.spawn(None, inst, state["image"], {})
    try:
        assert driver.get_console_connection(None, inst, "serial")["port"] == 10511
    finally:
        driver.destroy(None, inst, {})


@pytest.mark.parametrize("text", ["20000:10000", "0:10", "10:70000"])
def test_a_serial_port_range_that_is_no_range_is_refused(state, text):
    with pytest.raises(exception.ConfigError, match="port_range"):
        _driver(state, **{"serial_console.port_range": text})


def test_graphics_as_nova_configures_them(state):
    driver = _driver(state, **{"spice.enabled": True, "vnc.server_listen": "0.0.0.0",
                               "vnc.server_proxyclient_address": "192.0.2.7",
                               "spice.server_proxyclient_address": "192.0.2.8"})
    inst = _instance()
    driver.spawn(None, inst, state["image"], {})
    try:
        xml = driver._domain(inst).XMLDesc(0)
        assert "<graphics type='vnc'" in xml and "<graphics type='spice'" in xml
        assert "listen='0.0.0.0'" in xml
    finally:
        driver.destroy(None, inst, {})
    off = _driver(state, **{"vnc.enabled": False})
    inst = _instance()
    off.spawn(None, inst, state["image"], {})
    try:
        assert "<graphics" not in off._domain(inst).XMLDesc(0)
        with pytest.raises(exception.ConsoleTypeUnavailable):
            off.get_console_connection(None, inst, "novnc")
    finally:
        off.destroy(None, inst, {})


def test_stopping_a_suspended_guest_drops_its_saved_state(spawned):
    driver, inst = spawned
    driver.suspend(None, inst)
    driver.power_off(inst, 0)
    assert driver.get_info(inst).state == PowerState.SHUTDOWN
    assert not driver._domain(inst).hasManagedSaveImage(0)


def test_raw_copies_by_option(state):
    driver = _driver(state, **{"libvirt.images_type": "raw"})
    inst = _instance(root_gb=1)
    driver.spawn(None, inst, state["image"], {})
    try:
        info = disks.image_info(os.path.join(driver.instances_path, inst["uuid"], "disk"))
        assert info["format"] == "raw" and "backing-filename" not in info
        assert info["virtual-size"] == 1 << 30
        assert "type='raw'" in driver._domain(inst).XMLDesc(0)
    finally:
        driver.destroy(None, inst, {})


def _blkid(path):
    """{"TYPE": ..., "LABEL": ...} of a file, as blkid reads it."""
    if disks.shutil.which("blkid") is None:
        pytest.skip("blkid is not installed (util-linux)")
    out = disks.subprocess.run(["blkid", "-p", "-o", "export", path], capture_output=True,
                               text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.mark.parametrize(("fs", "label", "template", "command"), [
    ("ext4", "ephemeral0", None, ["mkfs", "-t", "ext4", "-F", "-L", "ephemeral0", "/d/e"]),
    ("vfat", "ephemeral0", None, ["mkfs", "-t", "vfat", "-n", "ephemeral0", "/d/e"]),
    ("xfs", "ephemeral0", None, ["mkfs", "-t", "xfs", "-L", "ephemeral0", "/d/e"]),
    ("ntfs", "ephemeral0", None, ["mkfs", "-t", "ntfs", "-F", "-Q", "-L", "ephemeral0",
                                  "/d/e"]),
    ("swap", None, None, ["mkswap", "/d/e"]),
    ("ext4", "ephemeral0", "mkfs.ext3 -q -L %(fs_label)s %(target)s",
     ["mkfs.ext3", "-q", "-L", "ephemeral0", "/d/e"]),
])
def test_mkfs_commands(fs, label, template, command):
    assert disks.mkfs_command(fs, "/d/e", label, template) == command


def test_ephemeral_format_as_nova_chooses_it():
    # virt_mkfs: by os_type, else its "default"; else default_ephemeral_format;
    # else by os_type (ext4 linux, ntfs windows, vfat otherwise).
    mkfs = ["linux=mkfs.xfs -L %(fs_label)s %(target)s", "default=mkfs.ext3 %(target)s"]
    assert disks.mkfs_template("linux", mkfs) == "mkfs.xfs -L %(fs_label)s %(target)s"
    assert disks.mkfs_template("windows", mkfs) == "mkfs.ext3 %(target)s"
    assert disks.mkfs_template("linux", []) is None
    with pytest.raises(exception.ConfigError, match="virt_mkfs"):
        disks.mkfs_template("linux", ["mkfs.ext4 %(target)s"])
    assert disks.ephemeral_fs("linux", None) == "ext4"
    assert disks.ephemeral_fs("windows", None) == "ntfs"
    assert disks.ephemeral_fs(None, None) == "vfat"
    assert disks.ephemeral_fs(None, "ext3") == "ext3"
    assert disks.ephemeral_base_name(2, "ext4") == "ephemeral_2_" + \
        hashlib.sha256(b"ext4").hexdigest()[:7]
    assert disks.ephemeral_base_name(2, "ext4") != disks.ephemeral_base_name(2, "ext3")
    assert disks.swap_base_name(512) == "swap_512"


def test_ephemeral_and_swap_are_formatted_overlays_on_shared_bases(state):
    linux = state["images"].create("linux", io.BytesIO(b"\0" * (1 << 20)),
                                   disk_format="raw", properties={"os_type": "linux"})
    driver = _driver(state, **{"libvirt.remove_unused_original_minimum_age_seconds": 0})
    flavor = {"name": "m1.eph", "swap": 16}
    first = _instance(ephemeral_gb=1, flavor=flavor, image_ref=linux["id"])
    second = _instance(ephemeral_gb=1, flavor=flavor, image_ref=linux["id"])
    try:
        for inst in (first, second):
            driver.spawn(None, inst, linux, {})
        eph_name = disks.ephemeral_base_name(1, "ext4")
        base_dir = os.path.join(driver.instances_path, "_base")
        assert sorted(os.listdir(base_dir)) == sorted([linux["id"], eph_name, "swap_16"])
        for inst in (first, second):
            directory = os.path.join(driver.instances_path, inst["uuid"])
            eph = disks.image_info(os.path.join(directory, "disk.eph0"))
            assert eph["format"] == "qcow2" and eph["virtual-size"] == 1 << 30
            assert eph["backing-filename"] == os.path.join(base_dir, eph_name)
            swap = disks.image_info(os.path.join(directory, "disk.swap"))
            assert swap["backing-filename"] == os.path.join(base_dir, "swap_16")
            assert swap["virtual-size"] == 16 << 20
            assert set(disks.read_disk_info(directory)["bases"]) == {
                linux["id"], eph_name, "swap_16"}
        found = _blkid(os.path.join(base_dir, eph_name))
        assert (found["TYPE"], found["LABEL"]) == ("ext4", "ephemeral0")
        assert _blkid(os.path.join(base_dir, "swap_16"))["TYPE"] == "swap"
        xml = driver._domain(first).XMLDesc(0)
        assert xml.count("type='qcow2'") == 3
        # In use: kept; unused: removed with the image's base.
        assert driver.manage_image_cache() == []
    finally:
        driver.destroy(None, first, {})
        driver.destroy(None, second, {})
    assert sorted(driver.manage_image_cache()) == sorted([linux["id"], eph_name, "swap_16"])


def test_raw_ephemeral_and_swap_are_formatted_in_place(state):
    driver = _driver(state, **{"libvirt.images_type": "raw",
                               "default_ephemeral_format": "ext3"})
    inst = _instance(ephemeral_gb=1, flavor={"name": "m1.eph", "swap": 8},
                     image_ref=state["image"]["id"])
    driver.spawn(None, inst, state["image"], {})
    try:
        directory = os.path.join(driver.instances_path, inst["uuid"])
        found = _blkid(os.path.join(directory, "disk.eph0"))
        assert (found["TYPE"], found["LABEL"]) == ("ext3", "ephemeral0")
        assert _blkid(os.path.join(directory, "disk.swap"))["TYPE"] == "swap"
        assert disks.image_info(os.path.join(directory, "disk.eph0"))["format"] == "raw"
        assert os.listdir(os.path.join(driver.instances_path, "_base")) == [
            state["image"]["id"]]
        assert driver._domain(inst).XMLDesc(0).count("type='raw'") == 3
    finally:
        driver.destroy(None, inst, {})


def test_diagnostics_in_the_api_shape(spawned):
    driver, inst = spawned
    diag = driver.get_diagnostics(inst)
    assert diag["state"] == "running" and diag["driver"] == "libvirt"
    assert diag["num_cpus"] == 1 and diag["num_disks"] == 3  # root, ephemeral, swap
    assert diag["num_nics"] == 1
    assert diag["nic_details"][0]["mac_address"] == "fa:16:3e:00:00:05"
    assert diag["memory_details"]["maximum"] == 128
    assert diag["config_drive"] is False
    assert set(diag) >= {"hypervisor", "hypervisor_os", "uptime", "cpu_details",
                         "disk_details"}
    driver.pause(inst)
    assert driver.get_diagnostics(inst)["state"] == "paused"
    assert driver.get_host_uptime() is None  # test:// is no hypervisor of this machine
