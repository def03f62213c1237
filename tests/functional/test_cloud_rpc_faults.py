"""Fault rules on RPC methods (issue 24 item 6): each step of a resize
fails, and the server, the migration and the allocations end as Nova
leaves them."""
import pytest
import requests

from compute_core import Cloud, exception
from compute_core.testing import api_request, wait_for_server
from tests.functional.double_helpers import act, boot_active, seeded_cloud, until
from tests.functional.test_server_moves import _held, _migration, _settled

OLD = {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}       # flavor 1
NEW = {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}     # flavor 2


@pytest.fixture(scope="module")
def seeded():
    yield from seeded_cloud(hosts=3, control_api=True)


@pytest.fixture
def cloud(seeded):
    cloud, snap = seeded
    cloud.restore(snap)
    return cloud


_boot, _act, _until = boot_active, act, until


def _resized(cloud, name="r"):
    sid, source = _boot(cloud, name)
    _act(cloud, sid, {"resize": {"flavorRef": "2"}})
    server = _settled(cloud, sid, "VERIFY_RESIZE")
    return sid, source, server["OS-EXT-SRV-ATTR:host"]


def test_prep_resize_refused_once_reschedules(cloud):
    sid, source = _boot(cloud, "web-1")
    rule = cloud.faults.add(operation="rpc:compute.prep_resize", match={"name": "web-.*"},
                            count=1, message="no room here")
    _act(cloud, sid, {"resize": {"flavorRef": "2"}})
    server = _settled(cloud, sid, "VERIFY_RESIZE")
    dest = server["OS-EXT-SRV-ATTR:host"]
    refused = [c.path.split(".", 1)[1] for c in cloud.calls(route="compute.prep_resize")]
    assert len(refused) == 2 and refused[1] == dest and source not in refused
    assert rule.fired == 1 and cloud.faults.log[0]["target"] == sid
    assert cloud.calls(route="compute.prep_resize")[0].status == "InjectedFault"
    assert _held(cloud, sid) == ({dest: NEW}, "INSTANCE")
    assert _held(cloud, _migration(cloud, sid)["uuid"]) == ({source: OLD}, "MIGRATION")


def test_prep_resize_refused_everywhere_leaves_the_server_active(cloud):
    sid, source = _boot(cloud, "stays")
    cloud.faults.add(operation="rpc:prep_resize", message="no room anywhere")
    _act(cloud, sid, {"resize": {"flavorRef": "2"}})
    server = _settled(cloud, sid, "ACTIVE")
    assert server["OS-EXT-SRV-ATTR:host"] == source and server["flavor"]["id"] == "1"
    assert len(cloud.faults.log) == 2                     # both other hosts asked
    migration = _migration(cloud, sid)
    assert migration["status"] == "error"
    assert _held(cloud, sid) == ({source: OLD}, "INSTANCE")
    assert _held(cloud, migration["uuid"])[0] == {}
    assert cloud.driver(source).get_info({"uuid": sid}).state == 1   # never stopped


def test_resize_instance_fails_on_the_source(cloud):
    sid, source = _boot(cloud, "src")
    cloud.faults.add(operation="rpc:compute.resize_instance", match={"host": source})
    assert cloud.faults.rules[0].operation == "rpc:compute.migrate_disk_and_power_off"
    _act(cloud, sid, {"resize": {"flavorRef": "2"}})
    server = _settled(cloud, sid, "ERROR")
    assert "Injected rpc:compute.migrate_disk_and_power_off fault" in \
        server["fault"]["message"]
    assert server["OS-EXT-SRV-ATTR:host"] == source and server["flavor"]["id"] == "1"
    migration = _migration(cloud, sid)
    assert migration["status"] == "error"
    assert _held(cloud, sid) == ({source: OLD}, "INSTANCE")
    assert _held(cloud, migration["uuid"])[0] == {}


def test_finish_resize_fails_on_the_destination(cloud):
    sid, source = _boot(cloud, "dst")
    cloud.faults.add(operation="rpc:compute.finish_resize", mode="error-but-do-it")
    _act(cloud, sid, {"resize": {"flavorRef": "2"}})
    server = _settled(cloud, sid, "ERROR")
    dest = server["OS-EXT-SRV-ATTR:host"]
    assert dest != source and server["flavor"]["id"] == "2"
    migration = _migration(cloud, sid)
    assert migration["status"] == "error"
    assert _held(cloud, sid) == ({dest: NEW}, "INSTANCE")
    assert _held(cloud, migration["uuid"])[0] == {}
    # error-but-do-it: the guest did start there; a hard reboot recovers it
    assert cloud.driver(dest).get_info({"uuid": sid}).state == 1
    _act(cloud, sid, {"reboot": {"type": "HARD"}})
    assert wait_for_server(cloud, sid, ("ACTIVE",))["OS-EXT-SRV-ATTR:host"] == dest


def test_confirm_resize_fails_on_the_source(cloud):
    sid, source, dest = _resized(cloud)
    cloud.faults.add(operation="rpc:compute.confirm_resize")
    _act(cloud, sid, {"confirmResize": None})
    server = _settled(cloud, sid, "ERROR")
    assert server["OS-EXT-SRV-ATTR:host"] == dest
    migration = _migration(cloud, sid)
    assert migration["status"] == "error"
    # the source's share stays held by the migration, as in Nova
    assert _held(cloud, sid) == ({dest: NEW}, "INSTANCE")
    assert _held(cloud, migration["uuid"]) == ({source: OLD}, "MIGRATION")


def test_revert_resize_fails_on_the_destination(cloud):
    sid, source, dest = _resized(cloud)
    cloud.faults.add(operation="rpc:compute.revert_resize")
    _act(cloud, sid, {"revertResize": None})
    server = _settled(cloud, sid, "ERROR")
    assert server["OS-EXT-SRV-ATTR:host"] == dest and server["flavor"]["id"] == "2"
    migration = _migration(cloud, sid)
    assert migration["status"] == "error"
    assert _held(cloud, sid) == ({dest: NEW}, "INSTANCE")
    assert _held(cloud, migration["uuid"]) == ({source: OLD}, "MIGRATION")


def test_finish_revert_resize_fails_on_the_source(cloud):
    sid, source, dest = _resized(cloud)
    cloud.faults.add(operation="rpc:compute.finish_revert_resize")
    _act(cloud, sid, {"revertResize": None})
    server = _settled(cloud, sid, "ERROR")
    assert server["OS-EXT-SRV-ATTR:host"] == source and server["flavor"]["id"] == "1"
    assert _migration(cloud, sid)["status"] == "error"
    assert _held(cloud, sid) == ({source: OLD}, "INSTANCE")


def test_conductor_method_by_metadata_and_a_lost_cast(cloud):
    sid, _ = _boot(cloud, "lost", metadata={"tier": "db"})
    other, _ = _boot(cloud, "kept", metadata={"tier": "web"})
    cloud.faults.add(operation="rpc:conductor.migrate_server",
                     match={"metadata": {"tier": "db"}, "project": "demo|admin"})
    for server in (sid, other):
        _act(cloud, server, {"migrate": None})
    assert _settled(cloud, other, "VERIFY_RESIZE")
    # the cast raised before the conductor did anything: the server waits
    # in resize_prep (what a conductor that died on the message leaves)
    server = api_request(cloud, "GET", f"/servers/{sid}").json()["server"]
    assert server["OS-EXT-STS:task_state"] == "resize_prep"
    assert [e["target"] for e in cloud.faults.log] == [sid]
    assert cloud.calls(route="conductor.migrate_server", status="InjectedFault")


def test_rpc_latency_on_the_virtual_clock():
    with Cloud(clock="virtual") as cloud:
        sid, _ = _boot(cloud, "slow")
        cloud.faults.add(operation="rpc:compute.stop_instance", latency=600, mode="error",
                         count=1)
        _act(cloud, sid, {"os-stop": None})
        _until(lambda: cloud.faults.log)
        server = api_request(cloud, "GET", f"/servers/{sid}").json()["server"]
        assert server["OS-EXT-STS:task_state"] == "powering-off"     # held 600 s
        cloud.clock.advance(600)
        rpc = _until(lambda: cloud.calls(route="compute.stop_instance"))
        assert rpc[0].status == "InjectedFault" and rpc[0].duration < 60  # wall seconds


def test_rpc_rules_are_checked(cloud):
    for operation in ("rpc:compute.no_such_step", "rpc:nova.prep_resize", "rpc:",
                      "rpc:scheduler.prep_resize"):
        with pytest.raises(exception.Invalid):
            cloud.faults.add(operation=operation)
    with pytest.raises(exception.Invalid):
        cloud.faults.add(operation="rpc:prep_resize", match={"path": "/x"})
    resp = requests.post(cloud.compute_endpoint + "/cloud-control/faults",
                         headers={"X-Auth-Token": cloud.admin_token}, timeout=10,
                         json={"fault": {"operation": "rpc:compute.bogus"}})
    assert resp.status_code == 400 and "bogus" in resp.json()["error"]["message"]


def test_rpc_fault_from_the_control_api(cloud):
    sid, source = _boot(cloud, "rest-1")
    resp = requests.post(cloud.compute_endpoint + "/cloud-control/faults",
                         headers={"X-Auth-Token": cloud.admin_token}, timeout=10,
                         json={"fault": {"operation": "rpc:compute.prep_resize",
                                         "match": {"name": "rest-.*"}, "probability": 1,
                                         "seed": 7}})
    assert resp.status_code == 201, resp.text
    _act(cloud, sid, {"resize": {"flavorRef": "2"}})
    assert _settled(cloud, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == source
    listed = requests.get(cloud.compute_endpoint + "/cloud-control/faults",
                          headers={"X-Auth-Token": cloud.admin_token}, timeout=10).json()
    assert listed["faults"][0]["fired"] == 2
    assert {e["target"] for e in listed["log"]} == {sid}
