"""Live migration of a running QEMU guest between libvirt hosts, through
``os-migrateLive``.

One machine, three libvirt hosts: two private libvirtds (see
:mod:`private_libvirtd`: a mount namespace each, their own host UUID, TCP
on 127.0.0.1) and the machine's own. Compute hosts ``*a`` and ``*b`` sit on
the private ones and share ``instances_path`` (shared storage: only the
memory moves); ``*c`` sits on the machine's libvirtd with an
``instances_path`` of its own, so a move from it is a block migration. The
guest keeps running through the move: its console shows one boot, not two.
Skipped, saying why, where libvirtd, root or mount namespaces are missing.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time

import pytest

from compute_core_plugins.virt.libvirt import tiny_guest
from tests.integration import private_libvirtd
from tests.integration.test_libvirt_guests import URI, Client, _unavailable

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PREFIX = f"lm{os.getpid()}"
HOSTS = (PREFIX + "a", PREFIX + "b", PREFIX + "c")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _driver(cloud, state, host, uri, instances_path, inbound):
    from compute_core import conf as conf_mod
    from compute_core.virt.driver import load_driver

    conf = conf_mod.load(args=[], overrides={
        "compute_driver": "libvirt", "state_path": state,
        "libvirt.connection_uri": uri, "libvirt.instances_path": instances_path,
        "libvirt.live_migration_inbound_addr": inbound,
        "libvirt.image_cache_manager_interval": 0,
        "libvirt.remove_unused_original_minimum_age_seconds": 0})
    driver = load_driver(conf, host)
    driver.images = cloud.images
    return driver


@pytest.fixture(scope="module")
def lm():
    reason = _unavailable() or private_libvirtd.unavailable()
    if reason:
        print(f"SKIP live migration: {reason}")
        pytest.skip(reason)
    from compute_core.cloud import Cloud

    daemons = []
    state = tempfile.mkdtemp(prefix="compute-core-lm-")
    os.chmod(state, 0o755)
    cloud = None
    try:
        for index in (1, 2):
            daemons.append(private_libvirtd.start(f"{PREFIX}-libvirtd{index}", _free_port(),
                                                  index))
        cloud = Cloud(state_dir=state, hosts=[], overrides={
            "compute_driver": "libvirt", "sync_power_state_interval": -1})
        cloud.start()
        shared = os.path.join(state, "shared-instances")
        own = os.path.join(state, "c-instances")
        for host, uri, path, inbound in (
                (HOSTS[0], daemons[0].uri, shared, f"127.0.0.1:{daemons[0].port}"),
                (HOSTS[1], daemons[1].uri, shared, f"127.0.0.1:{daemons[1].port}"),
                (HOSTS[2], URI, own, "127.0.0.1")):
            cloud.add_host(host, driver=_driver(cloud, state, host, uri, path, inbound))
        image = tiny_guest.import_images(cloud.images, os.path.join(state, "guest"))
        client = Client(cloud)
        client.flavor("lm.small", 192, 1)
        client.image = image
        yield client
    finally:
        if cloud is not None:
            for host in cloud.host_names:
                driver = cloud.driver(host)
                for uuid in driver.list_instances():
                    driver.destroy(None, {"uuid": uuid}, {})
            cloud.stop()
        for daemon in daemons:
            daemon.stop()
        shutil.rmtree(state, ignore_errors=True)


def _boot_on(c, name, host):
    sid = c.create(name, flavor="lm.small", availability_zone=f"nova:{host}")
    c.wait(sid, "ACTIVE")
    assert c.host_of(sid) == host
    c.wait_marker(sid)
    return sid


def _live_migrate(c, sid, host):
    c.call("POST", f"/servers/{sid}/action",
           {"os-migrateLive": {"host": host, "block_migration": "auto"}})
    deadline = time.monotonic() + 300
    while True:
        server = c.show(sid)
        if server["OS-EXT-STS:task_state"] is None and server["status"] != "MIGRATING":
            return server
        assert time.monotonic() < deadline, server
        time.sleep(0.5)


def _migration(c, sid):
    moves = c.call("GET", f"/os-migrations?instance_uuid={sid}")["migrations"]
    return [m for m in moves if m["migration_type"] == "live-migration"][0]


def _domains(uri):
    import libvirt

    conn = libvirt.open(uri)
    try:
        return {d.name(): d.state()[0] for d in conn.listAllDomains(0)}
    finally:
        conn.close()


def test_live_migration_on_shared_storage_keeps_the_guest_running(lm):
    c = lm
    a, b = HOSTS[0], HOSTS[1]
    sid = _boot_on(c, "lm-shared", a)
    before = c.console(sid)
    server = _live_migrate(c, sid, b)
    assert server["status"] == "ACTIVE", server.get("fault")
    assert server["OS-EXT-SRV-ATTR:host"] == b
    assert server["OS-EXT-STS:power_state"] == 1
    assert _migration(c, sid)["status"] == "completed"
    name = f"instance-{sid}"
    assert name not in _domains(c.cloud.driver(a)._host.uri)
    assert _domains(c.cloud.driver(b)._host.uri)[name] == 1  # running, defined there
    assert sid in c.cloud.driver(b).list_instances()
    assert sid not in c.cloud.driver(a).list_instances()
    # The same guest, not a new boot: one marker on its console still.
    time.sleep(2)
    after = c.console(sid)
    assert after.startswith(before[:200]) and after.count(tiny_guest.MARKER) == 1
    # and it is driven from its new host
    c.action(sid, {"reboot": {"type": "HARD"}})
    c.wait(sid, "ACTIVE")
    c.wait_marker(sid, 2)
    c.delete(sid)
    for host in (a, b):
        assert sid not in c.cloud.driver(host).list_instances()
    assert not os.path.exists(os.path.join(c.cloud.driver(a).instances_path, sid))


def test_block_migration_copies_the_disks_and_cleans_the_source(lm):
    c = lm
    source, dest = HOSTS[2], HOSTS[0]
    sid = _boot_on(c, "lm-block", source)
    source_dir = os.path.join(c.cloud.driver(source).instances_path, sid)
    dest_dir = os.path.join(c.cloud.driver(dest).instances_path, sid)
    assert os.path.isdir(source_dir) and not os.path.exists(dest_dir)
    server = _live_migrate(c, sid, dest)
    assert server["status"] == "ACTIVE", server.get("fault")
    assert server["OS-EXT-SRV-ATTR:host"] == dest
    assert _migration(c, sid)["status"] == "completed"
    # The disks were copied under the destination's instances_path; the
    # source's files are gone with its domain.
    assert not os.path.exists(source_dir)
    assert os.path.isfile(os.path.join(dest_dir, "disk"))
    xml = c.cloud.driver(dest)._domain({"uuid": sid}).XMLDesc(0)
    assert dest_dir + "/disk" in xml and source_dir not in xml
    assert f"instance-{sid}" not in _domains(URI)
    # The destination's log starts with the move (the source's went with
    # its files): no boot in it, the guest went on running; it reboots here.
    time.sleep(2)
    assert tiny_guest.MARKER not in c.console(sid)
    assert _domains(c.cloud.driver(dest)._host.uri)[f"instance-{sid}"] == 1
    c.action(sid, {"reboot": {"type": "HARD"}})
    c.wait(sid, "ACTIVE")
    c.wait_marker(sid)
    c.delete(sid)
    assert not os.path.exists(dest_dir)
    for host in HOSTS:
        assert c.cloud.driver(host).find_leftovers() == [], host


@contextlib.contextmanager
def _slow_migration(c, sid, source, dest):
    """A live migration of *sid* to *dest* at 1 MiB/s (long enough to watch
    and steer), once it runs and reports its figures."""
    conf = c.cloud.driver(source).conf
    conf.set_override("live_migration_bandwidth", 1, "libvirt")
    try:
        _start_live_migration(c, sid, dest)
        yield _running_migration(c, sid)
    finally:
        conf.clear_override("live_migration_bandwidth", "libvirt")


def _running_migration(c, sid):
    """The server's live migration once it runs and its figures came in."""
    deadline = time.monotonic() + 120
    while True:
        moves = c.call("GET", f"/servers/{sid}/migrations")["migrations"]
        if moves and moves[0]["status"] == "running" and moves[0]["memory_processed"]:
            return moves[0]
        assert time.monotonic() < deadline, moves
        time.sleep(0.3)


def _start_live_migration(c, sid, host):
    c.call("POST", f"/servers/{sid}/action",
           {"os-migrateLive": {"host": host, "block_migration": "auto"}})


def test_abort_leaves_the_guest_running_where_it_was(lm):
    c = lm
    a, b = HOSTS[0], HOSTS[1]
    sid = _boot_on(c, "lm-abort", a)
    with _slow_migration(c, sid, a, b) as move:
        assert move["memory_total"] >= move["memory_processed"] > 0
        assert move["memory_remaining"] is not None
        assert c.show(sid)["status"] == "MIGRATING"
        c.call("DELETE", f"/servers/{sid}/migrations/{move['id']}")
        server = c.wait(sid, "ACTIVE", timeout=120)
    assert server["OS-EXT-SRV-ATTR:host"] == a
    assert _migration(c, sid)["status"] == "cancelled"
    name = f"instance-{sid}"
    assert _domains(c.cloud.driver(a)._host.uri)[name] == 1
    assert name not in _domains(c.cloud.driver(b)._host.uri)
    assert c.console(sid).count(tiny_guest.MARKER) == 1  # not rebooted
    actions = c.call("GET", f"/servers/{sid}/os-instance-actions")["instanceActions"]
    assert [x["action"] for x in actions][:2] == ["live_migration_cancel", "live-migration"]
    c.delete(sid)


def test_force_complete_finishes_the_move_and_the_guest_runs_on(lm):
    c = lm
    a, b = HOSTS[0], HOSTS[1]
    sid = _boot_on(c, "lm-force", a)
    with _slow_migration(c, sid, a, b) as move:
        started = time.monotonic()
        c.call("POST", f"/servers/{sid}/migrations/{move['id']}/action",
               {"force_complete": None})
        server = c.wait(sid, "ACTIVE", timeout=120)
    assert time.monotonic() - started < 60
    assert server["OS-EXT-SRV-ATTR:host"] == b
    assert server["OS-EXT-STS:power_state"] == 1  # paused to converge, running again
    assert _migration(c, sid)["status"] == "completed"
    assert _domains(c.cloud.driver(b)._host.uri)[f"instance-{sid}"] == 1
    assert c.console(sid).count(tiny_guest.MARKER) == 1
    c.delete(sid)


def test_an_aborted_block_migration_leaves_nothing_at_the_destination(lm):
    c = lm
    source, dest = HOSTS[2], HOSTS[0]
    sid = _boot_on(c, "lm-block-abort", source)
    source_dir = os.path.join(c.cloud.driver(source).instances_path, sid)
    dest_dir = os.path.join(c.cloud.driver(dest).instances_path, sid)
    with _slow_migration(c, sid, source, dest) as move:
        assert os.path.isfile(os.path.join(dest_dir, "disk"))  # made for the copy
        assert move["disk_total"] is not None  # reported (0 once the overlays are copied)
        c.call("DELETE", f"/servers/{sid}/migrations/{move['id']}")
        server = c.wait(sid, "ACTIVE", timeout=120)
    assert server["OS-EXT-SRV-ATTR:host"] == source
    assert _migration(c, sid)["status"] == "cancelled"
    assert not os.path.exists(dest_dir)  # rolled back there
    assert os.path.isfile(os.path.join(source_dir, "disk"))
    assert _domains(URI)[f"instance-{sid}"] == 1
    c.delete(sid)
    for host in HOSTS:
        assert c.cloud.driver(host).find_leftovers() == [], host


def test_a_paused_server_moves_paused(lm):
    c = lm
    a, b = HOSTS[0], HOSTS[1]
    sid = _boot_on(c, "lm-paused", a)
    c.action(sid, {"pause": None})
    c.wait(sid, "PAUSED")
    server = _live_migrate(c, sid, b)
    assert (server["status"], server["OS-EXT-SRV-ATTR:host"]) == ("PAUSED", b)
    assert server["OS-EXT-STS:power_state"] == 3
    assert _domains(c.cloud.driver(b)._host.uri)[f"instance-{sid}"] == 3  # paused there
    # The source's libvirtd gave the (shared) disk back to root when the
    # guest left; the destination took it again for its QEMU, which opens
    # it when the guest resumes.
    disk = os.path.join(c.cloud.driver(b).instances_path, sid, "disk")
    assert os.stat(disk).st_uid != 0
    c.action(sid, {"unpause": None})
    assert c.wait(sid, "ACTIVE")["OS-EXT-STS:power_state"] == 1
    c.delete(sid)
