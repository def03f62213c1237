"""evacuate and os-migrateLive through the HTTP API on a two-host cloud
(issue 19 item 4): the server keeps its id and addresses, placement's
allocations follow it, and the request shapes of each microversion."""
import pytest

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas
from tests.functional.test_lifecycle_actions import MEMBER, MISSING, settled
from tests.functional.test_server_moves import _held
from tests.functional.test_servers import boot


@pytest.fixture(scope="module")
def cloud():
    with Cloud(hosts=2) as c:
        yield c


def _api(cloud):
    return lambda m, p, **kw: api_request(cloud, m, p, **kw)


def _act(cloud, sid, body, version=None, token=None):
    kw = {"token": token} if token else {}
    return api_request(cloud, "POST", f"/servers/{sid}/action", body=body, version=version,
                       **kw)


def _booted(cloud, name):
    sid = boot(_api(cloud), first_image_id(cloud), name=name, token=MEMBER)
    server = wait_for_server(cloud, sid)
    assert server["status"] == "ACTIVE", server
    return sid, _show(cloud, sid)


def _show(cloud, sid, version="2.1"):
    return api_request(cloud, "GET", f"/servers/{sid}", version=version).json()["server"]


def _migrations(cloud, instance_uuid):
    import sqlalchemy as sa

    from compute_core.db import cell_schema

    out = []
    for cell in cloud._api.cells.cells():
        with cloud._api.cells.get(cell["uuid"]).connect() as conn:
            m = cell_schema.migrations
            out += [dict(r._mapping) for r in conn.execute(
                sa.select(m).where(m.c.instance_uuid == instance_uuid))]
    return out


def _other(host):
    return "host2" if host == "host1" else "host1"


def test_live_migration_moves_a_running_server(cloud):
    sid, before = _booted(cloud, "live")
    source = before["OS-EXT-SRV-ATTR:host"]
    resp = _act(cloud, sid, {"os-migrateLive": {"host": None, "block_migration": "auto"}},
                version="2.25")
    assert resp.status_code == 202, resp.text
    tempest_schemas.check(resp, "servers", "server_actions_common_schema", "2.25")
    after = settled(cloud, sid, "ACTIVE")
    assert after["OS-EXT-SRV-ATTR:host"] == _other(source)
    assert after["addresses"] == before["addresses"]
    assert after["OS-EXT-STS:power_state"] == 1
    held, _ = _held(cloud, sid)
    assert list(held) == [_other(source)]
    assert sid in cloud.driver(_other(source)).list_instances()
    assert sid not in cloud.driver(source).list_instances()
    actions = api_request(cloud, "GET", f"/servers/{sid}/os-instance-actions").json()
    assert actions["instanceActions"][0]["action"] == "live-migration"
    request_id = actions["instanceActions"][0]["request_id"]
    events = api_request(cloud, "GET", f"/servers/{sid}/os-instance-actions/{request_id}"
                         ).json()["instanceAction"]["events"]
    assert {e["event"]: e["result"] for e in events} == {
        "conductor_live_migrate_instance": "Success",
        "compute_pre_live_migration": "Success", "compute_live_migration": "Success",
        "compute_post_live_migration_at_destination": "Success"}
    # back, to a named host (judged by the scheduler), at 2.68
    resp = _act(cloud, sid, {"os-migrateLive": {"host": source, "block_migration": False}},
                version="2.68")
    assert resp.status_code == 202, resp.text
    assert settled(cloud, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == source
    api_request(cloud, "DELETE", f"/servers/{sid}")


def test_a_failed_live_migration_leaves_the_server_where_it_was(cloud):
    sid, before = _booted(cloud, "live-fails")
    source = before["OS-EXT-SRV-ATTR:host"]
    cloud.inject_fault(source, "live_migration", sid, count=1, message="link down")
    resp = _act(cloud, sid, {"os-migrateLive": {"host": None, "block_migration": False,
                                                "disk_over_commit": False}})
    assert resp.status_code == 202, resp.text
    after = settled(cloud, sid, "ACTIVE")
    assert after["OS-EXT-SRV-ATTR:host"] == source
    held, _ = _held(cloud, sid)
    assert list(held) == [source]
    actions = api_request(cloud, "GET", f"/servers/{sid}/os-instance-actions").json()
    assert actions["instanceActions"][0]["message"] == "Error"
    api_request(cloud, "DELETE", f"/servers/{sid}")


def test_live_migration_refusals(cloud):
    sid, before = _booted(cloud, "live-refused")
    body = {"os-migrateLive": {"host": None, "block_migration": "auto"}}
    resp = _act(cloud, sid, body, version="2.25", token=MEMBER)
    assert resp.status_code == 403, resp.text
    assert "os_compute_api:os-migrate-server:migrate_live" in resp.text
    # 2.1: three fields required; "auto" from 2.25; force 2.30-2.67
    for version, bad, field in (
            ("2.1", {"host": None, "block_migration": False}, "disk_over_commit"),
            ("2.1", {"host": None, "block_migration": "auto", "disk_over_commit": False},
             "block_migration"),
            ("2.25", {"host": None, "block_migration": False, "disk_over_commit": False},
             "disk_over_commit"),
            ("2.29", {"host": None, "block_migration": False, "force": True}, "force"),
            ("2.68", {"host": None, "block_migration": False, "force": True}, "force")):
        resp = _act(cloud, sid, {"os-migrateLive": bad}, version=version)
        assert resp.status_code == 400, (version, bad, resp.text)
        assert field in resp.json()["badRequest"]["message"]
    resp = _act(cloud, sid, {"os-migrateLive": {"host": None, "block_migration": False,
                                                "force": True}}, version="2.30")
    assert resp.json()["badRequest"]["message"] == \
        "Can't force to a non-provided destination"
    resp = _act(cloud, sid, {"os-migrateLive": {"host": "nohost", "block_migration": False}},
                version="2.25")
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == "Compute host nohost could not be found."
    _act(cloud, sid, {"os-stop": None})
    settled(cloud, sid, "SHUTOFF")
    resp = _act(cloud, sid, {"os-migrateLive": {"host": None, "block_migration": False}},
                version="2.25")
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == \
        f"Cannot 'os-migrateLive' instance {sid} while it is in vm_state stopped"
    resp = _act(cloud, MISSING, {"os-migrateLive": {"host": None, "block_migration": False}},
                version="2.25")
    assert resp.status_code == 404
    api_request(cloud, "DELETE", f"/servers/{sid}")


def test_evacuate_needs_the_host_down(cloud):
    sid, before = _booted(cloud, "evac-up")
    resp = _act(cloud, sid, {"evacuate": {}}, version="2.14")
    assert resp.status_code == 400, resp.text
    assert resp.json()["badRequest"]["message"] == \
        f"Compute service of {before['OS-EXT-SRV-ATTR:host']} is still in use."
    resp = _act(cloud, sid, {"evacuate": {}}, version="2.14", token=MEMBER)
    assert resp.status_code == 403
    # request shapes by version
    for version, bad, field in (("2.1", {}, "onSharedStorage"),
                                ("2.14", {"onSharedStorage": False}, "onSharedStorage"),
                                ("2.28", {"force": True}, "force"),
                                ("2.68", {"force": True}, "force"),
                                ("2.14", {"host": ""}, "host")):
        resp = _act(cloud, sid, {"evacuate": bad}, version=version)
        assert resp.status_code == 400, (version, bad, resp.text)
        assert field in resp.json()["badRequest"]["message"]
    resp = _act(cloud, sid, {"evacuate": {"force": True}}, version="2.29")
    assert resp.json()["badRequest"]["message"] == \
        "Can't force to a non-provided destination"
    resp = _act(cloud, sid, {"evacuate": {"host": "nohost"}}, version="2.14")
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == "Compute host nohost not found."
    resp = _act(cloud, sid, {"evacuate": {"host": before["OS-EXT-SRV-ATTR:host"]}},
                version="2.14")
    assert resp.json()["badRequest"]["message"] == "The target host can't be the same one."
    assert _act(cloud, MISSING, {"evacuate": {}}, version="2.14").status_code == 404
    api_request(cloud, "DELETE", f"/servers/{sid}")


@pytest.fixture
def two_hosts():
    with Cloud(hosts=2) as c:
        yield c


@pytest.mark.parametrize("version", ["2.1", "2.14", "2.29", "2.95"])
def test_evacuate_from_a_down_host(two_hosts, version):
    cloud = two_hosts
    sid, before = _booted(cloud, "evac")
    source = before["OS-EXT-SRV-ATTR:host"]
    cloud.stop_host(source)
    body = {"evacuate": {"onSharedStorage": False}} if version == "2.1" else {"evacuate": {}}
    if version == "2.29":
        body = {"evacuate": {"host": _other(source), "force": True}}
    resp = _act(cloud, sid, body, version=version)
    assert resp.status_code == 200, resp.text
    if version == "2.1":
        assert tempest_schemas.check(resp, "servers", "evacuate_server_with_admin_pass",
                                     version)["adminPass"]
    else:
        tempest_schemas.check(resp, "servers", "evacuate_server", version)
    status = "SHUTOFF" if version == "2.95" else "ACTIVE"
    after = settled(cloud, sid, status)
    assert after["OS-EXT-SRV-ATTR:host"] == _other(source)
    assert after["addresses"] == before["addresses"]
    assert after["id"] == sid
    held, _ = _held(cloud, sid)
    assert list(held) == [_other(source)]
    # The source comes back: it drops its copy and its share of resources.
    [migration] = _migrations(cloud, sid)
    assert (migration["migration_type"], migration["status"]) == ("evacuation", "done")
    assert _held(cloud, migration["uuid"])[0] == {source: {"VCPU": 1, "MEMORY_MB": 512,
                                                           "DISK_GB": 1}}
    cloud.start_host(source)
    assert sid not in cloud.driver(source).list_instances()
    [migration] = _migrations(cloud, sid)
    assert migration["status"] == "completed"
    assert _held(cloud, migration["uuid"])[0] == {}
    actions = api_request(cloud, "GET", f"/servers/{sid}/os-instance-actions").json()
    assert actions["instanceActions"][0]["action"] == "evacuate"
    assert actions["instanceActions"][0]["message"] is None
