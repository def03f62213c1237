"""Resize and cold migration through the HTTP API, with the allocations
placement holds at each step: during a move the source host's share belongs
to the migration record (consumer type MIGRATION) and the instance holds the
destination's; confirming drops the source share, reverting gives it back."""
import pytest
import requests

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests.functional.test_servers import boot


@pytest.fixture(scope="module")
def cloud():
    with Cloud(hosts=2) as c:
        yield c


@pytest.fixture(scope="module")
def image(cloud):
    return first_image_id(cloud)


def _allocations(cloud, consumer):
    resp = requests.get(f"{cloud.placement_url}/allocations/{consumer}",
                        headers={"X-Auth-Token": "admin:admin",
                                 "OpenStack-API-Version": "placement 1.38"}, timeout=10)
    return resp.json()


def _providers(cloud):
    resp = requests.get(f"{cloud.placement_url}/resource_providers",
                        headers={"X-Auth-Token": "admin:admin"}, timeout=10)
    return {p["uuid"]: p["name"] for p in resp.json()["resource_providers"]}


def _held(cloud, consumer):
    """{host name: resources} the consumer holds, and its consumer type."""
    names = _providers(cloud)
    body = _allocations(cloud, consumer)
    return ({names[rp].split(".")[0]: a["resources"] for rp, a in body["allocations"].items()},
            body.get("consumer_type"))


def _migration(cloud, instance_uuid):
    from compute_core.db import cell_db

    for cell in cloud._api.cells.cells():
        cell_uuid = cell["uuid"]
        found = cell_db.migration_of_instance(
            cloud._api.cells.get(cell_uuid), instance_uuid,
            ["pre-migrating", "migrating", "post-migrating", "finished", "confirmed",
             "reverted", "error", "reverting"])
        if found:
            return found
    return None


def _act(cloud, sid, body, token="admin:admin", version=None):
    return api_request(cloud, "POST", f"/servers/{sid}/action", body=body, token=token,
                       version=version)


def _booted(cloud, image, name, flavor="1"):
    sid = boot(lambda m, p, **kw: api_request(cloud, m, p, **kw), image, name=name,
               flavor=flavor)
    server = wait_for_server(cloud, sid)
    assert server["status"] == "ACTIVE", server
    return sid, server["OS-EXT-SRV-ATTR:host"]


def _settled(cloud, sid, status):
    for _ in range(300):
        server = wait_for_server(cloud, sid, (status, "ERROR"))
        if server["status"] == "ERROR" or server["OS-EXT-STS:task_state"] is None:
            break
    assert server["status"] == status, server
    assert server["OS-EXT-STS:task_state"] is None
    return server


def _other(host):
    return {"host1": "host2", "host2": "host1"}[host]


def test_resize_confirm_moves_allocations_to_the_migration_then_drops_them(cloud, image):
    sid, source = _booted(cloud, image, "resize-confirm")
    assert _held(cloud, sid) == ({source: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}},
                                 "INSTANCE")
    resp = _act(cloud, sid, {"resize": {"flavorRef": "2"}})
    assert resp.status_code == 202, resp.text
    server = _settled(cloud, sid, "VERIFY_RESIZE")
    dest = server["OS-EXT-SRV-ATTR:host"]
    assert dest == _other(source)
    assert server["flavor"]["id"] == "2"
    migration = _migration(cloud, sid)
    assert (migration["status"], migration["migration_type"]) == ("finished", "resize")
    assert (migration["source_compute"], migration["dest_compute"]) == (source, dest)
    # The instance holds the new flavor on the destination, the migration
    # record the old one on the source.
    assert _held(cloud, sid) == ({dest: {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}},
                                 "INSTANCE")
    assert _held(cloud, migration["uuid"]) == (
        {source: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}, "MIGRATION")
    assert sid not in cloud.driver(source).list_instances() or \
        cloud.driver(source).get_info({"uuid": sid}).state != 1  # powered off on the source
    assert sid in cloud.driver(dest).list_instances()

    resp = _act(cloud, sid, {"confirmResize": None})
    assert resp.status_code == 204, resp.text
    server = _settled(cloud, sid, "ACTIVE")
    assert server["OS-EXT-SRV-ATTR:host"] == dest
    assert _held(cloud, migration["uuid"])[0] == {}
    assert _held(cloud, sid)[0] == {dest: {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}}
    assert sid not in cloud.driver(source).list_instances()
    assert _migration(cloud, sid)["status"] == "confirmed"
    # Not waiting for a confirmation any more.
    resp = _act(cloud, sid, {"confirmResize": None})
    assert resp.status_code == 409, resp.text
    assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 204
    wait_for_server(cloud, sid, ("DELETED",))
    assert _held(cloud, sid)[0] == {}


def test_migrate_and_revert_gives_the_source_allocations_back(cloud, image):
    sid, source = _booted(cloud, image, "migrate-revert")
    # a member of the server's project may not migrate it; another project does not see it
    assert _act(cloud, sid, {"migrate": None}, token="demo:admin").status_code == 403
    assert _act(cloud, sid, {"migrate": None}, token="demo:demo").status_code == 404
    resp = _act(cloud, sid, {"migrate": None})
    assert resp.status_code == 202, resp.text
    server = _settled(cloud, sid, "VERIFY_RESIZE")
    dest = server["OS-EXT-SRV-ATTR:host"]
    assert dest != source
    migration = _migration(cloud, sid)
    assert migration["migration_type"] == "migration"
    assert _held(cloud, migration["uuid"])[1] == "MIGRATION"

    resp = _act(cloud, sid, {"revertResize": None})
    assert resp.status_code == 202, resp.text
    server = _settled(cloud, sid, "ACTIVE")
    assert server["OS-EXT-SRV-ATTR:host"] == source
    assert server["flavor"]["id"] == "1"
    assert _held(cloud, sid) == ({source: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}},
                                 "INSTANCE")
    assert _held(cloud, migration["uuid"])[0] == {}
    assert sid not in cloud.driver(dest).list_instances()
    assert cloud.driver(source).get_info({"uuid": sid}).state == 1  # running again
    assert _migration(cloud, sid)["status"] == "reverted"
    assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 204
    wait_for_server(cloud, sid, ("DELETED",))


def test_delete_while_waiting_for_confirmation_leaves_nothing(cloud, image):
    sid, source = _booted(cloud, image, "resize-delete")
    assert _act(cloud, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    server = _settled(cloud, sid, "VERIFY_RESIZE")
    dest = server["OS-EXT-SRV-ATTR:host"]
    migration = _migration(cloud, sid)
    assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 204
    wait_for_server(cloud, sid, ("DELETED",))
    assert _held(cloud, sid)[0] == {}
    assert _held(cloud, migration["uuid"])[0] == {}
    assert sid not in cloud.driver(source).list_instances()
    assert sid not in cloud.driver(dest).list_instances()
    _no_source_copy(cloud, sid, source, migration)


def _no_source_copy(cloud, sid, source, migration):
    """The move is confirmed: the source keeps no copy of the guest, the
    migration record holds nothing, and its delete records a confirmResize."""
    assert sid not in cloud.driver(source).moving_out
    assert _held(cloud, migration["uuid"])[0] == {}
    assert _migration(cloud, sid)["status"] == "confirmed"
    actions = api_request(cloud, "GET", f"/servers/{sid}/os-instance-actions",
                          version="2.21").json()["instanceActions"]
    assert [a["action"] for a in actions][:2] == ["delete", "confirmResize"]


def test_delete_in_verify_resize_with_the_destination_down_drops_the_source_copy(cloud,
                                                                                 image):
    sid, source = _booted(cloud, image, "resize-delete-dest-down")
    assert _act(cloud, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    dest = _settled(cloud, sid, "VERIFY_RESIZE")["OS-EXT-SRV-ATTR:host"]
    migration = _migration(cloud, sid)
    cloud.stop_host(dest)
    try:
        # A local delete (its host is down), yet the source host is up: it
        # drops its copy as a confirmation would.
        assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 204
        wait_for_server(cloud, sid, ("DELETED",))
        assert _held(cloud, sid)[0] == {}
        _no_source_copy(cloud, sid, source, migration)
    finally:
        cloud.start_host(dest)


def test_delete_in_verify_resize_with_the_source_down_frees_its_share(cloud, image):
    sid, source = _booted(cloud, image, "resize-delete-source-down")
    assert _act(cloud, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    dest = _settled(cloud, sid, "VERIFY_RESIZE")["OS-EXT-SRV-ATTR:host"]
    migration = _migration(cloud, sid)
    cloud.stop_host(source)
    try:
        assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 204
        wait_for_server(cloud, sid, ("DELETED",))
        assert sid not in cloud.driver(dest).list_instances()
        assert _held(cloud, sid)[0] == {}
        # Its share is freed; the copy it keeps is not dropped, and the
        # migration says so.
        assert _held(cloud, migration["uuid"])[0] == {}
        assert _migration(cloud, sid)["status"] == "error"
        assert sid in cloud.driver(source).moving_out
    finally:
        cloud.start_host(source)


def test_soft_delete_in_verify_resize_confirms_first():
    """With [DEFAULT] reclaim_instance_interval the delete is a soft one:
    the resize is confirmed first all the same (as Nova does), so the server
    waits SOFT_DELETED on its new host alone and its reclaim leaves nothing."""
    with Cloud(hosts=2, overrides={"reclaim_instance_interval": 2}) as c:
        img = first_image_id(c)
        sid, source = _booted(c, img, "resize-soft-delete")
        assert _act(c, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
        dest = _settled(c, sid, "VERIFY_RESIZE")["OS-EXT-SRV-ATTR:host"]
        migration = _migration(c, sid)
        assert api_request(c, "DELETE", f"/servers/{sid}").status_code == 204
        server = wait_for_server(c, sid, ("SOFT_DELETED",))
        assert server["OS-EXT-SRV-ATTR:host"] == dest
        _no_source_copy(c, sid, source, migration)
        assert _held(c, sid)[0] == {dest: {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}}
        assert wait_for_server(c, sid, ("DELETED",), timeout=30)["status"] == "DELETED"
        assert _held(c, sid)[0] == {}
        assert sid not in c.driver(dest).list_instances()


def test_a_failing_destination_leaves_the_server_there_in_error(cloud, image):
    """As Nova's finish_resize leaves it: ERROR on the destination with the
    new flavor and its allocations there; the source's share freed."""
    sid, source = _booted(cloud, image, "resize-fails")
    dest = _other(source)
    cloud.inject_fault(dest, "finish_migration", sid, count=1, message="dest disk on fire")
    assert _act(cloud, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    server = wait_for_server(cloud, sid, ("ERROR",))
    assert "dest disk on fire" in server["fault"]["message"]
    assert server["OS-EXT-SRV-ATTR:host"] == dest
    assert server["flavor"]["id"] == "2"
    assert _held(cloud, sid) == ({dest: {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}},
                                 "INSTANCE")
    migration = _migration(cloud, sid)
    assert migration["status"] == "error"
    assert _held(cloud, migration["uuid"])[0] == {}
    assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 204
    wait_for_server(cloud, sid, ("DELETED",))
    assert _held(cloud, sid)[0] == {}


def test_no_other_host_keeps_the_server_where_it_is(image):
    with Cloud(hosts=1) as one:
        img = first_image_id(one)
        sid, source = _booted(one, img, "nowhere")
        assert _act(one, sid, {"migrate": None}).status_code == 202
        server = wait_for_server(one, sid, ("ACTIVE",), timeout=30)
        for _ in range(100):
            server = api_request(one, "GET", f"/servers/{sid}").json()["server"]
            if server["OS-EXT-STS:task_state"] is None:
                break
        assert server["status"] == "ACTIVE" and server["OS-EXT-STS:task_state"] is None
        assert _migration(one, sid)["status"] == "error"
        assert _held(one, sid) == ({source: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}},
                                   "INSTANCE")


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"resize": {"flavorRef": "1"}}, 400, "must change flavor"),
    ({"resize": {"flavorRef": "no-such"}}, 400, "could not be found"),
    ({"resize": {}}, 400, "flavorRef"),
    ({"resize": {"flavorRef": "2", "color": "red"}}, 400, "color"),
    ({"migrate": {"host": "no-such-host"}}, 400, "Compute host no-such-host could not be found"),
    ({"migrate": {"host": "bad host!"}}, 400, "host"),
    ({"migrate": {"host": "h", "color": "red"}}, 400, "color"),
    ({"confirmResize": None}, 409, "vm_state active"),
    ({"revertResize": None}, 409, "vm_state active"),
])
def test_bad_moves_are_refused_and_change_nothing(cloud, image, body, status, words):
    sid, source = _booted(cloud, image, "bad-move")
    try:
        resp = _act(cloud, sid, body, version="2.56")
        assert resp.status_code == status, resp.text
        assert words in resp.text
        server = api_request(cloud, "GET", f"/servers/{sid}").json()["server"]
        assert (server["status"], server["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
        assert _held(cloud, sid)[0] == {source: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}
    finally:
        api_request(cloud, "DELETE", f"/servers/{sid}")
        wait_for_server(cloud, sid, ("DELETED",))


def test_openstacksdk_resize_and_confirm(cloud, image):
    conn = cloud.connection()
    server = conn.compute.create_server(name="sdk-resize", image_id=image, flavor_id="1",
                                        networks="auto")
    server = conn.compute.wait_for_server(server, wait=30, interval=0.1)
    conn.compute.resize_server(server, "2")
    server = conn.compute.wait_for_server(server, status="VERIFY_RESIZE", wait=30,
                                          interval=0.1)
    conn.compute.confirm_server_resize(server)
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=30, interval=0.1)
    assert server.flavor.id == "2" or server.flavor.original_name == "m1.small"
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=30, interval=0.1)
