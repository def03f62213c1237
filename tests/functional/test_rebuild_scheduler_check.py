"""A rebuild with a new image is checked by the scheduler, as in Nova
(issue 19): the server's own host must pass the filters that run on a
rebuild (ImagePropertiesFilter, IsolatedHostsFilter...) for the new image,
nothing is claimed; a host that does not leaves the server as Nova 34's
conductor does (ERROR, the old image, the fault and the event in Error).
A rebuild with the same image asks no scheduler. Through the HTTP API."""
import pytest
import requests

from compute_core.db import api_db
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas
from tests.functional.test_lifecycle_actions import MEMBER, act, settled
from tests.functional.test_servers import boot


def _image(cloud, name, **properties):
    """An active image with *properties*, through the image API."""
    headers = {"X-Auth-Token": "admin:admin"}
    image = requests.post(f"{cloud.image_url}/v2/images", headers=headers, timeout=30,
                          json={"name": name, "disk_format": "raw", "container_format": "bare",
                                "visibility": "public", **properties}).json()
    resp = requests.put(f"{cloud.image_url}/v2/images/{image['id']}/file", data=b"r" * 64,
                        timeout=30, headers={**headers,
                                             "Content-Type": "application/octet-stream"})
    assert resp.status_code == 204, resp.text
    return image["id"]


def _set_property(cloud, image_id, name, value):
    resp = requests.patch(
        f"{cloud.image_url}/v2/images/{image_id}", timeout=30,
        headers={"X-Auth-Token": "admin:admin",
                 "Content-Type": "application/openstack-images-v2.1-json-patch"},
        json=[{"op": "add", "path": f"/{name}", "value": value}])
    assert resp.status_code == 200, resp.text


def _rebuild(api, sid, image_id, version="2.1"):
    resp = act(api, sid, {"rebuild": {"imageRef": image_id}}, version=version, token=MEMBER)
    assert resp.status_code == 202, resp.text
    tempest_schemas.check(resp, "servers", "rebuild_server_with_admin_pass", version)
    return resp.json()["server"]


def _last_action(api, sid):
    actions = api("GET", f"/servers/{sid}/os-instance-actions", version="2.84"
                  ).json()["instanceActions"]
    resp = api("GET", f"/servers/{sid}/os-instance-actions/{actions[0]['request_id']}",
               version="2.84")
    return tempest_schemas.check(resp, "servers", "show_instance_action", "2.84")[
        "instanceAction"]


def _calls(cloud, host, sid):
    return [op for op, uuid in cloud.driver(host).calls if uuid == sid]


@pytest.fixture
def api(compute_cloud):
    return lambda m, p, **kw: api_request(compute_cloud, m, p, **kw)


@pytest.mark.parametrize("stopped", [False, True])
def test_a_new_image_the_host_cannot_run_is_refused(compute_cloud, api, stopped):
    cloud = compute_cloud
    base = first_image_id(cloud)
    arm = _image(cloud, f"arm-only-{stopped}", hw_architecture="aarch64")
    sid = boot(api, base, name="rebuilt-checked", token=MEMBER)
    host = wait_for_server(cloud, sid)["OS-EXT-SRV-ATTR:host"]
    if stopped:
        assert act(api, sid, {"os-stop": None}, token=MEMBER).status_code == 202
        settled(cloud, sid, "SHUTOFF")
    allocations = cloud._api.placement.get_allocations(sid)["allocations"]

    assert _rebuild(api, sid, arm)["image"]["id"] == arm  # accepted, then judged
    body = wait_for_server(cloud, sid, ("ERROR",))
    assert body["status"] == "ERROR" and body["OS-EXT-STS:task_state"] is None
    assert body["image"]["id"] == base  # the old image again
    assert api_db.get_request_spec(cloud._api.api_db, sid)["image"]["id"] == base
    assert body["OS-EXT-SRV-ATTR:host"] == host
    assert body["fault"]["message"] == "No valid host was found."
    action = _last_action(api, sid)
    assert action["action"] == "rebuild" and action["message"] == "Error"
    [event] = action["events"]
    assert event["event"] == "conductor_rebuild_server" and event["result"] == "Error"
    assert event["details"] == ("No valid host was found. The server's host does not pass "
                                "ImagePropertiesFilter for the new image.")
    # the guest was not touched, nothing was claimed or dropped
    assert "rebuild" not in _calls(cloud, host, sid)
    assert cloud._api.placement.get_allocations(sid)["allocations"] == allocations
    # the server's image properties are the old image's
    _, db = cloud._api.cells.for_instance(sid)
    from compute_core.db import cell_db
    sysmeta = cell_db.get_instance(db, sid)["system_metadata"]
    assert (sysmeta.get("image_properties") or {}).get("hw_architecture") != "aarch64"
    # an image the host can run: rebuilt from ERROR, it runs (as in Nova)
    _rebuild(api, sid, base)
    assert settled(cloud, sid, "ACTIVE")["image"]["id"] == base
    api("DELETE", f"/servers/{sid}")
    wait_for_server(cloud, sid, ("DELETED",))


def test_the_same_image_skips_the_scheduler(compute_cloud, api):
    """The server's image changed since its boot so that its host no
    longer passes: a rebuild with that same image is not judged (Nova
    asks the scheduler only for a new image); another image is."""
    cloud = compute_cloud
    mutable = _image(cloud, "arch-changes-later")
    sid = boot(api, mutable, name="same-image", token=MEMBER)
    host = wait_for_server(cloud, sid)["OS-EXT-SRV-ATTR:host"]
    _set_property(cloud, mutable, "hw_architecture", "aarch64")
    _rebuild(api, sid, mutable)
    body = settled(cloud, sid, "ACTIVE")
    assert body["image"]["id"] == mutable
    assert "rebuild" in _calls(cloud, host, sid)
    assert _last_action(api, sid)["message"] is None
    # a different image that the host passes is checked and goes through;
    # later moves are scheduled for it
    base = first_image_id(cloud)
    _rebuild(api, sid, base)
    assert settled(cloud, sid, "ACTIVE")["image"]["id"] == base
    assert api_db.get_request_spec(cloud._api.api_db, sid)["image"]["id"] == base
    api("DELETE", f"/servers/{sid}")
    wait_for_server(cloud, sid, ("DELETED",))


@pytest.mark.compute_cloud_config(overrides={
    "filter_scheduler.enabled_filters": ["ComputeFilter", "ImagePropertiesFilter",
                                         "IsolatedHostsFilter"],
    "filter_scheduler.isolated_hosts": ["host1", "host2"],
    "filter_scheduler.isolated_images": ["to-be-set"],
})
def test_isolated_hosts_take_only_isolated_images_on_rebuild(fresh_compute_cloud):
    cloud = fresh_compute_cloud
    api = lambda m, p, **kw: api_request(cloud, m, p, **kw)  # noqa: E731
    isolated = _image(cloud, "isolated")
    other = _image(cloud, "not-isolated")
    cloud.conf.set_override("isolated_images", [isolated], group="filter_scheduler")
    sid = boot(api, isolated, name="isolated", token=MEMBER)
    assert wait_for_server(cloud, sid)["status"] == "ACTIVE"
    _rebuild(api, sid, other)
    body = wait_for_server(cloud, sid, ("ERROR",))
    assert body["image"]["id"] == isolated
    assert _last_action(api, sid)["events"][0]["details"].endswith(
        "does not pass IsolatedHostsFilter for the new image.")
