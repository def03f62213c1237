"""Shelve takes a snapshot, as Nova's does (issue 19): the root disk goes
into the image "<name>-shelved" through the image backend, the server
records shelved_image_id / shelved_at / shelved_host, unshelve spawns from
that image (what the guest wrote survives) and then deletes it, and a
deleted shelved server takes its image along. Through the HTTP API on the
embedded cloud, with the fake driver's disk."""
import time

import pytest
import requests

from compute_core.compute import states
from compute_core.db import cell_db
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas
from tests.functional.test_lifecycle_actions import MEMBER, accepted, conflict, settled
from tests.functional.test_servers import boot


def _image(cloud, image_id):
    return requests.get(f"{cloud.image_url}/v2/images/{image_id}", timeout=30,
                        headers={"X-Auth-Token": MEMBER})


def _sysmeta(cloud, sid):
    _, db = cloud._api.cells.for_instance(sid)
    return cell_db.get_instance(db, sid)["system_metadata"]


def _events(api, sid, action):
    actions = api("GET", f"/servers/{sid}/os-instance-actions", token=MEMBER,
                  version="2.51").json()["instanceActions"]
    request_id = next(a["request_id"] for a in actions if a["action"] == action)
    resp = api("GET", f"/servers/{sid}/os-instance-actions/{request_id}", version="2.51")
    body = tempest_schemas.check(resp, "servers", "show_instance_action", "2.51")
    return {e["event"]: e["result"] for e in body["instanceAction"]["events"]}


def _eventually(check, timeout=30):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _allocations(cloud, sid):
    return cloud._api.placement.get_allocations(sid)["allocations"]


@pytest.fixture
def api(compute_cloud):
    return lambda m, p, **kw: api_request(compute_cloud, m, p, **kw)


def test_shelve_snapshots_and_unshelve_spawns_from_it(compute_cloud, api):
    cloud = compute_cloud
    base = first_image_id(cloud)
    sid = boot(api, base, name="shelf", token=MEMBER)
    host = wait_for_server(cloud, sid)["OS-EXT-SRV-ATTR:host"]
    driver = cloud.driver(host)
    driver.write_disk(sid, b"data the guest wrote before its shelve\n")
    disk_before = driver.disk(sid)

    accepted(api, sid, {"shelve": None}, token=MEMBER)
    body = settled(cloud, sid, "SHELVED_OFFLOADED")
    assert body["image"]["id"] == base  # the server still names its own image
    sysmeta = _sysmeta(cloud, sid)
    shelved_id = sysmeta["shelved_image_id"]
    assert sysmeta["shelved_host"] == host and sysmeta["shelved_at"]
    image = _image(cloud, shelved_id).json()
    assert image["name"] == "shelf-shelved" and image["status"] == "active"
    assert image["image_type"] == "snapshot" and image["instance_uuid"] == sid
    assert image["base_image_ref"] == base and image["owner"] == "demo"
    data = requests.get(f"{cloud.image_url}/v2/images/{shelved_id}/file", timeout=30,
                        headers={"X-Auth-Token": MEMBER}).content
    assert data == disk_before  # the root disk as it was, written data included
    # offloaded: the guest is gone and so is its claim
    assert sid not in driver.list_instances()
    assert not _allocations(cloud, sid)
    events = _events(api, sid, "shelve")
    assert events == {"compute_shelve_instance": "Success",
                      "compute_shelve_offload_instance": "Success"}

    accepted(api, sid, {"unshelve": None}, token=MEMBER)
    body = settled(cloud, sid, "ACTIVE")
    new_host = body["OS-EXT-SRV-ATTR:host"]
    disk_after = cloud.driver(new_host).disk(sid)
    # spawned from the snapshot: its header names the shelved image, and
    # what the guest wrote is there
    assert f"image {shelved_id}\n".encode() in disk_after
    assert disk_after.endswith(b"data the guest wrote before its shelve\n")
    assert body["image"]["id"] == base
    assert _allocations(cloud, sid)
    # the snapshot is deleted and the shelved_* keys are gone
    _eventually(lambda: _image(cloud, shelved_id).status_code == 404)
    assert not {"shelved_image_id", "shelved_at", "shelved_host"} & set(_sysmeta(cloud, sid))
    assert _events(api, sid, "unshelve") == {"conductor_unshelve_instance": "Success",
                                             "compute_unshelve_instance": "Success"}

    # shelve again, then delete: the new snapshot goes with the server
    accepted(api, sid, {"shelve": None}, token=MEMBER)
    settled(cloud, sid, "SHELVED_OFFLOADED")
    second = _sysmeta(cloud, sid)["shelved_image_id"]
    assert second != shelved_id and _image(cloud, second).status_code == 200
    assert api("DELETE", f"/servers/{sid}", token=MEMBER).status_code == 204
    wait_for_server(cloud, sid, ("DELETED",))
    assert _image(cloud, second).status_code == 404


def test_a_failed_capture_leaves_the_server_and_no_image(compute_cloud, api):
    cloud = compute_cloud
    sid = boot(api, first_image_id(cloud), name="shelf-fails", token=MEMBER)
    host = wait_for_server(cloud, sid)["OS-EXT-SRV-ATTR:host"]
    before = {i["id"] for i in cloud._api.images.list()}
    cloud.inject_fault(host, "snapshot", sid, count=1)
    accepted(api, sid, {"shelve": None}, token=MEMBER)
    # the guest was powered off before the capture failed: SHUTOFF, no task
    _eventually(lambda: api("GET", f"/servers/{sid}").json()["server"]
                ["OS-EXT-STS:task_state"] is None)
    body = api("GET", f"/servers/{sid}").json()["server"]
    assert body["OS-EXT-STS:vm_state"] == states.ACTIVE
    assert body["OS-EXT-SRV-ATTR:host"] == host
    assert "shelved_image_id" not in _sysmeta(cloud, sid)
    assert {i["id"] for i in cloud._api.images.list()} == before
    assert _events(api, sid, "shelve") == {"compute_shelve_instance": "Error"}
    api("DELETE", f"/servers/{sid}")
    wait_for_server(cloud, sid, ("DELETED",))


def _shelved_on_host(cloud, name):
    """(api, a member's server named *name*, shelved and kept on its host)."""
    api = lambda m, p, **kw: api_request(cloud, m, p, **kw)  # noqa: E731
    sid = boot(api, first_image_id(cloud), name=name, token=MEMBER)
    wait_for_server(cloud, sid)
    accepted(api, sid, {"shelve": None}, token=MEMBER)
    settled(cloud, sid, "SHELVED")
    return api, sid


@pytest.mark.compute_cloud_config(overrides={"shelved_offload_time": -1})
def test_shelved_on_its_host_then_unshelved_and_deleted(fresh_compute_cloud):
    """Kept on its host (shelved_offload_time -1): the snapshot is taken
    all the same; unshelve powers the guest on and deletes it; deleting a
    SHELVED server deletes its snapshot."""
    cloud = fresh_compute_cloud
    api, sid = _shelved_on_host(cloud, "kept")
    shelved_id = _sysmeta(cloud, sid)["shelved_image_id"]
    assert _image(cloud, shelved_id).json()["name"] == "kept-shelved"
    assert conflict(api, sid, {"shelve": None}, token=MEMBER) == \
        f"Cannot 'shelve' instance {sid} while it is in vm_state shelved"
    accepted(api, sid, {"unshelve": None}, token=MEMBER)
    settled(cloud, sid, "ACTIVE")
    _eventually(lambda: _image(cloud, shelved_id).status_code == 404)
    assert "shelved_image_id" not in _sysmeta(cloud, sid)

    accepted(api, sid, {"shelve": None}, token=MEMBER)
    settled(cloud, sid, "SHELVED")
    shelved_id = _sysmeta(cloud, sid)["shelved_image_id"]
    assert api("DELETE", f"/servers/{sid}", token=MEMBER).status_code == 204
    wait_for_server(cloud, sid, ("DELETED",))
    assert _image(cloud, shelved_id).status_code == 404


@pytest.mark.compute_cloud_config(overrides={"shelved_offload_time": -1})
def test_unshelve_without_its_snapshot_is_an_error(fresh_compute_cloud):
    """The shelve's image deleted behind the server's back: unshelve of the
    offloaded server fails as Nova's does (ERROR, with the fault)."""
    cloud = fresh_compute_cloud
    api, sid = _shelved_on_host(cloud, "orphaned")
    accepted(api, sid, {"shelveOffload": None})
    settled(cloud, sid, "SHELVED_OFFLOADED")
    shelved_id = _sysmeta(cloud, sid)["shelved_image_id"]
    cloud._api.images.delete(shelved_id)
    accepted(api, sid, {"unshelve": None}, token=MEMBER)
    body = wait_for_server(cloud, sid, ("ERROR",))
    assert body["status"] == "ERROR"
    assert body["fault"]["message"] == \
        f"Unshelve attempted but the image {shelved_id} cannot be found."
    assert _events(api, sid, "unshelve") == {"conductor_unshelve_instance": "Error"}


def test_a_driver_without_snapshots_shelves_without_one(fresh_compute_cloud):
    """A host whose driver declares no supports_snapshot: the shelve takes
    no snapshot (as before), unshelve spawns from the server's image."""
    cloud = fresh_compute_cloud
    driver = cloud.driver("host1")
    driver.capabilities = dict(driver.capabilities, supports_snapshot=False)
    cloud.stop_host("host1", mark_down=False)
    cloud.start_host("host1")
    api = lambda m, p, **kw: api_request(cloud, m, p, **kw)  # noqa: E731
    base = first_image_id(cloud)
    before = {i["id"] for i in cloud._api.images.list()}
    sid = boot(api, base, name="no-snapshot", token=MEMBER)
    wait_for_server(cloud, sid)
    accepted(api, sid, {"shelve": None}, token=MEMBER)
    settled(cloud, sid, "SHELVED_OFFLOADED")
    assert "shelved_image_id" not in _sysmeta(cloud, sid)
    assert {i["id"] for i in cloud._api.images.list()} == before
    assert ("snapshot", sid) not in driver.calls
    accepted(api, sid, {"unshelve": None}, token=MEMBER)
    settled(cloud, sid, "ACTIVE")
    assert f"image {base}\n".encode() in driver.disk(sid)
