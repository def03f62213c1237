"""Real QEMU guests through the Compute API, on the libvirt driver.

An embedded Cloud with two compute hosts on this machine's libvirtd
(``qemu:///system``) boots the tiny guest of :mod:`tiny_guest` (built here
from /boot's kernel and busybox-static) by direct kernel boot, and drives it
through its lifecycle over HTTP. The API has no ``os-getConsoleOutput`` yet:
the console log is read through the host's driver, the same method the
action will call. Skipped, with the reason, where libvirtd or the guest's
parts are missing.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from compute_core import exception
from compute_core_plugins.virt.libvirt import tiny_guest

# Real TCG guests on a loaded 2-core machine: minutes, not seconds.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

URI = "qemu:///system"
# Host names of this run's own: several test runs may share this machine's
# libvirtd, and a driver sees (and its clean-up destroys) the domains whose
# metadata names its host.
HOSTS = (f"lv{os.getpid()}a", f"lv{os.getpid()}b")


def _unavailable() -> str | None:
    try:
        import libvirt
    except ImportError:
        return "libvirt-python is not installed (pip install -e .[libvirt])"
    try:
        conn = libvirt.open(URI)
    except libvirt.libvirtError as exc:
        return f"libvirtd is unreachable at {URI}: {exc.get_error_message()} " \
               "(start it: virtlogd -d; libvirtd -d)"
    conn.close()
    missing = tiny_guest.missing()
    if missing:
        return f"cannot build the tiny guest: {missing}"
    return None


@contextlib.contextmanager
def libvirt_cloud(hosts=2, **overrides):
    """A Client of an embedded Cloud of *hosts* compute hosts on this
    machine's libvirtd, with the tiny guest imported as ``client.image``
    and the flavors lv.small and lv.large; skips, printing why, where
    libvirtd or the guest's parts are missing."""
    reason = _unavailable()
    if reason:
        print(f"SKIP libvirt guests: {reason}")
        pytest.skip(reason)
    from compute_core.cloud import Cloud

    # Not under pytest's basetemp: every pytest session makes
    # /tmp/pytest-of-<user> 0700 again (and prunes old runs), which QEMU's
    # user could then not traverse.
    state = tempfile.mkdtemp(prefix="compute-core-libvirt-")
    os.chmod(state, 0o755)
    # Hosts named after this process: runs sharing the libvirtd keep off
    # each other's guests.
    cloud = Cloud(state_dir=state, hosts=list(HOSTS[:hosts]), overrides={
        "compute_driver": "libvirt",
        "libvirt.connection_uri": URI,
        "libvirt.wait_soft_reboot_seconds": 20,
        "libvirt.remove_unused_original_minimum_age_seconds": 0,
        # No polling: power changes the guest makes itself arrive as events.
        "sync_power_state_interval": -1,
        **overrides,
    })
    cloud.start()
    try:
        image = tiny_guest.import_images(cloud.images, os.path.join(state, "guest"))
        client = Client(cloud)
        client.flavor("lv.small", 192, 1)
        client.flavor("lv.large", 256, 2)
        client.flavor("lv.eph", 192, 1, **{"OS-FLV-EXT-DATA:ephemeral": 1, "swap": 32})
        client.image = image
        yield client
    finally:
        # Guests a failed test left: libvirtd would keep them after us.
        for host in cloud.host_names:
            driver = cloud.driver(host)
            for uuid in driver.list_instances():
                driver.destroy(None, {"uuid": uuid}, {})
        cloud.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def lv_cloud():
    with libvirt_cloud() as client:
        yield client


class Client:
    def __init__(self, cloud):
        self.cloud = cloud
        self.url = cloud.compute_url
        self.headers = {"X-Auth-Token": cloud.admin_token,
                        "X-OpenStack-Nova-API-Version": "latest"}
        self.flavors = {}

    def call(self, method, path, body=None, ok=(200, 202, 204)):
        resp = requests.request(method, self.url + path, headers=self.headers, json=body,
                                timeout=60)
        assert resp.status_code in ok, (method, path, resp.status_code, resp.text)
        return resp.json() if resp.content else None

    def flavor(self, name, ram, disk, **extra):
        body = self.call("POST", "/flavors", {"flavor": {"name": name, "ram": ram,
                                                          "vcpus": 1, "disk": disk, **extra}})
        self.flavors[name] = body["flavor"]["id"]

    def create(self, name, image_id=None, flavor="lv.small", **extra):
        body = self.call("POST", "/servers", {"server": {
            "name": name, "imageRef": image_id or self.image["id"],
            "flavorRef": self.flavors[flavor], "networks": "auto", **extra}})
        return body["server"]["id"]

    def show(self, sid):
        return self.call("GET", f"/servers/{sid}")["server"]

    def action(self, sid, body):
        self.call("POST", f"/servers/{sid}/action", body)

    def wait(self, sid, status, timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            server = self.show(sid)
            if server["status"] == status and server.get("OS-EXT-STS:task_state") is None:
                return server
            assert server["status"] != "ERROR", server.get("fault")
            assert time.monotonic() < deadline, f"{sid} is {server['status']}, not {status}"
            time.sleep(0.2)

    def host_of(self, sid):
        return self.show(sid)["OS-EXT-SRV-ATTR:host"]

    def driver_of(self, sid):
        return self.cloud.driver(self.host_of(sid))

    def console(self, sid):
        return self.driver_of(sid).get_console_output(None, {"uuid": sid})

    def wait_marker(self, sid, count=1, timeout=60):
        """Wait until the console log shows the boot marker *count* times."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.console(sid)
            if text.count(tiny_guest.MARKER) >= count:
                return text
            assert time.monotonic() < deadline, \
                f"marker #{count} not on {sid}'s console:\n{text[-2000:]}"
            time.sleep(0.2)

    def delete(self, sid):
        self.call("DELETE", f"/servers/{sid}")
        deadline = time.monotonic() + 60
        while requests.get(f"{self.url}/servers/{sid}", headers=self.headers,
                           timeout=30).status_code != 404:
            assert time.monotonic() < deadline, f"{sid} not deleted"
            time.sleep(0.2)


def _domain(sid):
    import libvirt

    conn = libvirt.open(URI)
    try:
        return conn.lookupByName(f"instance-{sid}").XMLDesc(0)
    except libvirt.libvirtError:
        return None
    finally:
        conn.close()


def test_a_guest_boots_and_lives_its_life_through_the_api(lv_cloud):
    c = lv_cloud
    sid = c.create("life")
    server = c.wait(sid, "ACTIVE")
    assert server["OS-EXT-STS:power_state"] == 1
    text = c.wait_marker(sid)
    assert "disk=vda" in text  # the root disk (a qcow2 overlay) reached the guest
    xml = _domain(sid)
    assert "<domain type='qemu'" in xml or "<domain type=\"qemu\"" in xml
    assert "<name>instance-" + sid in xml
    diag = c.call("GET", f"/servers/{sid}/diagnostics")
    assert diag["state"] == "running" and diag["driver"] == "libvirt"
    assert diag["memory_details"]["maximum"] == 192 and diag["num_disks"] == 1
    # The VNC console a noVNC proxy would tunnel to: an RFB server.
    where = c.driver_of(sid).get_console_connection(None, {"uuid": sid}, "novnc")
    assert where["port"] >= 5900
    with socket.create_connection((where["host"], where["port"]), timeout=10) as sock:
        assert sock.recv(12).startswith(b"RFB ")

    # Soft reboot: the guest handles ACPI (busybox acpid powers off), the
    # driver starts it again; the marker comes a second time.
    c.action(sid, {"reboot": {"type": "SOFT"}})
    c.wait(sid, "ACTIVE")
    text = c.wait_marker(sid, 2)
    assert "power button" in text  # the soft path, not the hard fallback
    c.action(sid, {"reboot": {"type": "HARD"}})
    c.wait(sid, "ACTIVE")
    c.wait_marker(sid, 3)

    c.action(sid, {"os-stop": None})
    server = c.wait(sid, "SHUTOFF")
    assert server["OS-EXT-STS:power_state"] == 4
    c.action(sid, {"os-start": None})
    c.wait(sid, "ACTIVE")
    c.wait_marker(sid, 4)

    c.action(sid, {"pause": None})
    assert c.wait(sid, "PAUSED")["OS-EXT-STS:power_state"] == 3
    c.action(sid, {"unpause": None})
    assert c.wait(sid, "ACTIVE")["OS-EXT-STS:power_state"] == 1

    c.action(sid, {"suspend": None})
    c.wait(sid, "SUSPENDED")
    assert c.driver_of(sid).get_info({"uuid": sid}).state == 7  # a managed save image
    c.action(sid, {"resume": None})
    assert c.wait(sid, "ACTIVE")["OS-EXT-STS:power_state"] == 1

    # The guest powers itself off (ACPI from outside the cloud): libvirt's
    # lifecycle event stops the server, with the periodic sync disabled.
    import libvirt

    conn = libvirt.open(URI)
    conn.lookupByName(f"instance-{sid}").shutdown()
    conn.close()
    server = c.wait(sid, "SHUTOFF", timeout=30)
    assert server["OS-EXT-STS:power_state"] == 4

    c.action(sid, {"os-start": None})
    c.wait(sid, "ACTIVE")
    c.wait_marker(sid, 5)

    # A second disk, attached to the running guest and detached again
    # (driver methods: the API has no volumes yet).
    driver = c.driver_of(sid)
    extra = os.path.join(driver.instances_path, sid, "extra.qcow2")
    from compute_core_plugins.virt.libvirt import disks

    disks.create_blank_disk(extra, "64M")
    dev = driver.attach_disk({"uuid": sid}, extra)
    assert dev == "vdb" and extra in _domain(sid)
    driver.detach_disk({"uuid": sid}, dev)
    assert extra not in _domain(sid)

    # Rescue boots the rescue image with the root disk second; unrescue
    # brings the guest back as it was. (Driver calls: the API has no rescue
    # action yet, so the event sync sees these power changes; the server is
    # deleted next.)
    driver.rescue(None, {"uuid": sid, "image_ref": c.image["id"], "vcpus": 1,
                         "memory_mb": 192, "flavor": {}}, {}, {"id": c.image["id"]}, None)
    assert "disk.rescue" in _domain(sid)
    c.wait_marker(sid, 6)
    driver.unrescue(None, {"uuid": sid})
    assert "disk.rescue" not in _domain(sid)
    c.wait_marker(sid, 7)

    c.delete(sid)
    _assert_gone(c, sid)


def test_snapshot_resize_migrate_and_nothing_left(lv_cloud):
    c = lv_cloud
    sid = c.create("mover")
    c.wait(sid, "ACTIVE")
    c.wait_marker(sid)
    first_host = c.host_of(sid)
    driver = c.driver_of(sid)

    # Snapshot of the root disk through the image backend, then a second
    # server from it (the kernel and command line travel as properties).
    snap_id = "5a1e0000-0000-4000-8000-" + sid[-12:]
    props = dict(c.image["properties"])
    driver.snapshot(None, {"uuid": sid}, snap_id, lambda f, disk_format: c.cloud.images.create(
        "mover-snap", f, disk_format=disk_format, properties=props, image_id=snap_id))
    assert c.cloud.images.get(snap_id)["size"] > 0
    second = c.create("from-snapshot", image_id=snap_id, config_drive=True)
    c.wait(second, "ACTIVE")
    c.wait_marker(second)
    assert "disk.config" in _domain(second)  # the config drive, as a cdrom

    # Resize to the other host (allow_resize_to_same_host is off): the
    # disk is copied and grown, the domain redefined with the new memory.
    c.action(sid, {"resize": {"flavorRef": c.flavors["lv.large"]}})
    c.wait(sid, "VERIFY_RESIZE")
    assert c.host_of(sid) != first_host
    c.wait_marker(sid)
    assert "<memory unit='KiB'>262144</memory>" in _domain(sid)
    c.action(sid, {"confirmResize": None})
    c.wait(sid, "ACTIVE")
    assert not os.path.exists(os.path.join(driver.instances_path, sid + "_resize"))

    # A cold migration back, reverted: the guest returns where it was.
    resized_host = c.host_of(sid)
    c.action(sid, {"migrate": None})
    c.wait(sid, "VERIFY_RESIZE")
    assert c.host_of(sid) == first_host
    c.action(sid, {"revertResize": None})
    c.wait(sid, "ACTIVE")
    assert c.host_of(sid) == resized_host
    c.wait_marker(sid)

    c.delete(sid)
    c.delete(second)
    _assert_gone(c, sid, second)
    # With every instance gone the cached bases go too (age 0 here).
    removed = driver.manage_image_cache()
    assert set(removed) >= {c.image["id"], snap_id}
    assert os.listdir(os.path.join(driver.instances_path, "_base")) == []
    assert driver.find_leftovers() == []


def test_shelve_offload_and_unshelve_from_the_snapshot(lv_cloud):
    """A shelve captures the root disk (qcow2, whatever the base image's
    format: the upload says so) into "<name>-shelved"; the offloaded guest
    is spawned again from it, boots, and the image is deleted."""
    from compute_core.db import cell_db
    from compute_core_plugins.virt.libvirt import disks

    c = lv_cloud
    sid = c.create("shelver")
    c.wait(sid, "ACTIVE")
    c.wait_marker(sid)
    c.action(sid, {"shelve": None})
    c.wait(sid, "SHELVED_OFFLOADED", timeout=180)
    _assert_gone(c, sid)
    _, db = c.cloud._api.cells.for_instance(sid)
    shelved_id = cell_db.get_instance(db, sid)["system_metadata"]["shelved_image_id"]
    image = c.cloud.images.get(shelved_id)
    assert (image["name"], image["disk_format"]) == ("shelver-shelved", "qcow2")
    c.action(sid, {"unshelve": None})
    server = c.wait(sid, "ACTIVE", timeout=180)
    assert server["image"]["id"] == c.image["id"]
    c.wait_marker(sid)
    driver = c.driver_of(sid)
    info = disks.read_disk_info(os.path.join(driver.instances_path, sid))
    assert shelved_id in info["bases"]  # spawned from the snapshot
    with pytest.raises(exception.ImageNotFound):
        c.cloud.images.get(shelved_id)
    c.delete(sid)
    _assert_gone(c, sid)


def _assert_gone(c, *sids):
    for sid in sids:
        assert _domain(sid) is None, f"domain of {sid} still defined"
        for host in c.cloud.host_names:
            driver = c.cloud.driver(host)
            assert sid not in driver.list_instances()
            assert not any(n.startswith(sid) for n in os.listdir(driver.instances_path)), \
                f"files of {sid} left in {driver.instances_path}"
            assert len(driver.image_cache.locks) == 0


def test_the_host_as_placement_and_os_hypervisors_see_it(lv_cloud):
    c = lv_cloud
    import libvirt

    conn = libvirt.open(URI)
    version, cpus = conn.getVersion(), conn.getInfo()[2]
    conn.close()
    # 2.87: the last microversion that shows vcpus, memory and disk.
    hypervisors = requests.get(f"{c.url}/os-hypervisors/detail", timeout=30, headers=dict(
        c.headers, **{"X-OpenStack-Nova-API-Version": "2.87"})).json()["hypervisors"]
    mine = {h["hypervisor_hostname"]: h for h in hypervisors}
    assert set(mine) >= set(HOSTS)
    assert mine[HOSTS[0]]["hypervisor_type"] == "QEMU"
    assert mine[HOSTS[0]]["hypervisor_version"] == version
    assert mine[HOSTS[0]]["vcpus"] == cpus
    headers = {"X-Auth-Token": c.cloud.admin_token, "OpenStack-API-Version": "placement 1.6"}
    placement = c.cloud.placement_url
    rps = requests.get(f"{placement}/resource_providers?name={HOSTS[0]}", headers=headers,
                       timeout=30).json()["resource_providers"]
    traits = requests.get(f"{placement}/resource_providers/{rps[0]['uuid']}/traits",
                          headers=headers, timeout=30).json()["traits"]
    assert {"HW_CPU_X86_SSE2", "COMPUTE_STORAGE_BUS_VIRTIO", "COMPUTE_NET_VIF_MODEL_VIRTIO",
            "COMPUTE_FIRMWARE_BIOS"} <= set(traits)
    # A driver that says which virt type it uses, and means it.
    assert c.cloud.driver(HOSTS[0]).virt_type in ("kvm", "qemu")


def _disconnect_clients_of_this_process():
    """Have libvirtd drop this process's connections (as a restart would,
    without disturbing anybody else's): virt-admin client-disconnect."""
    out = subprocess.run(["virt-admin", "srv-clients-list", "libvirtd"], capture_output=True,
                         text=True, check=True).stdout
    dropped = 0
    for line in out.splitlines()[2:]:
        if not line.strip():
            continue
        client = line.split()[0]
        info = subprocess.run(["virt-admin", "client-info", "libvirtd", client],
                              capture_output=True, text=True).stdout
        fields = dict(ln.split(":", 1) for ln in info.splitlines() if ":" in ln)
        if fields.get("unix_process_id", "").strip() == str(os.getpid()):
            subprocess.run(["virt-admin", "client-disconnect", "libvirtd", client],
                           capture_output=True, check=True)
            dropped += 1
    return dropped


def test_reconnects_and_keeps_its_events_when_libvirtd_drops_it(lv_cloud):
    if shutil.which("virt-admin") is None:
        pytest.skip("virt-admin is not installed (libvirt-clients)")
    c = lv_cloud
    sid = c.create("reconnect")
    c.wait(sid, "ACTIVE")
    assert _disconnect_clients_of_this_process() >= 2  # both hosts' connections
    # The drivers reopen at once (the close callback), events included: a
    # guest stopped from outside shows as SHUTOFF with the power sync off.
    import libvirt

    conn = libvirt.open(URI)
    conn.lookupByName(f"instance-{sid}").destroy()
    conn.close()
    assert c.wait(sid, "SHUTOFF", timeout=30)["OS-EXT-STS:power_state"] == 4
    assert sid in c.driver_of(sid).list_instances()
    c.delete(sid)
    _assert_gone(c, sid)


def test_delete_while_waiting_for_confirmation_leaves_nothing(lv_cloud):
    """A server deleted in VERIFY_RESIZE is confirmed first (as Nova does):
    the source host drops its ``_resize`` copy, the destination its guest."""
    c = lv_cloud
    sid = c.create("resize-delete")
    c.wait(sid, "ACTIVE")
    source = c.driver_of(sid)
    c.action(sid, {"resize": {"flavorRef": c.flavors["lv.large"]}})
    c.wait(sid, "VERIFY_RESIZE")
    assert os.path.isdir(os.path.join(source.instances_path, sid + "_resize"))
    c.delete(sid)
    _assert_gone(c, sid)
    for host in c.cloud.host_names:
        assert c.cloud.driver(host).find_leftovers() == [], host


def _tool(*command):
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed")
    proc = subprocess.run(command, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_ephemeral_and_swap_disks_are_formatted(lv_cloud):
    """The flavor's ephemeral disk is ext4 labelled ephemeral0 (the image is
    os_type linux), its swap disk has a swap signature: qcow2 overlays on
    bases made once in _base, attached to the running guest."""
    c = lv_cloud
    sid = c.create("eph", flavor="lv.eph")
    c.wait(sid, "ACTIVE")
    c.wait_marker(sid)
    driver = c.driver_of(sid)
    directory = os.path.join(driver.instances_path, sid)
    base_dir = os.path.join(driver.instances_path, "_base")
    eph = json.loads(_tool("qemu-img", "info", "-U", "--output=json",
                           os.path.join(directory, "disk.eph0")))
    swap = json.loads(_tool("qemu-img", "info", "-U", "--output=json",
                            os.path.join(directory, "disk.swap")))
    assert eph["format"] == "qcow2" and eph["virtual-size"] == 1 << 30
    assert os.path.basename(eph["backing-filename"]).startswith("ephemeral_1_")
    assert swap["backing-filename"] == os.path.join(base_dir, "swap_32")
    header = _tool("dumpe2fs", "-h", eph["backing-filename"])
    assert "Filesystem volume name:   ephemeral0" in header
    assert "extent" in header  # an ext4 feature
    found = _tool("blkid", "-p", "-o", "export", eph["backing-filename"])
    assert "TYPE=ext4" in found and "LABEL=ephemeral0" in found
    assert "swap file" in _tool("file", swap["backing-filename"])
    xml = _domain(sid)
    assert "disk.eph0" in xml and "disk.swap" in xml
    c.delete(sid)
    _assert_gone(c, sid)
