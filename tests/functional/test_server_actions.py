"""POST /servers/{id}/action: the power actions, through the HTTP API.

Each action is accepted (202) from the vm_states Nova accepts it from and
refused (409 conflictingRequest, Nova's wording) from the others; an action
the host's driver declares it cannot do is refused before the host is asked.
"""
import threading
import time

import pytest

from compute_core.testing import api_request, first_image_id, wait_for_server
from tests.functional.test_servers import boot


def act(api, sid, body, **kw):
    return api("POST", f"/servers/{sid}/action", body=body, **kw)


def accepted(api, sid, body):
    resp = act(api, sid, body)
    assert resp.status_code == 202, resp.text
    assert resp.text == ""


def conflict(api, sid, body):
    resp = act(api, sid, body)
    assert resp.status_code == 409, resp.text
    return resp.json()["conflictingRequest"]["message"]


@pytest.fixture
def server(compute_cloud, api, image_id):
    sid = boot(api, image_id, name="actions")
    assert wait_for_server(compute_cloud, sid)["status"] == "ACTIVE"
    yield sid
    api("DELETE", f"/servers/{sid}")
    wait_for_server(compute_cloud, sid, ("DELETED",))


def settled(cloud, sid, status):
    body = wait_for_server(cloud, sid, (status, "ERROR"))
    assert body["status"] == status, body
    assert body["OS-EXT-STS:task_state"] is None
    return body


def test_stop_and_start(compute_cloud, api, server):
    accepted(api, server, {"os-stop": None})
    body = settled(compute_cloud, server, "SHUTOFF")
    assert body["OS-EXT-STS:vm_state"] == "stopped"
    assert body["OS-EXT-STS:power_state"] == 4
    assert conflict(api, server, {"os-stop": None}) == \
        f"Cannot 'stop' instance {server} while it is in vm_state stopped"
    assert conflict(api, server, {"pause": None}) == \
        f"Cannot 'pause' instance {server} while it is in vm_state stopped"
    accepted(api, server, {"os-start": None})
    body = settled(compute_cloud, server, "ACTIVE")
    assert body["OS-EXT-STS:power_state"] == 1
    assert conflict(api, server, {"os-start": None}) == \
        f"Cannot 'start' instance {server} while it is in vm_state active"


def test_stop_sets_powering_off_before_the_host_answers(compute_cloud, api, server,
                                                       monkeypatch):
    host = api("GET", f"/servers/{server}").json()["server"]["OS-EXT-SRV-ATTR:host"]
    driver = compute_cloud.driver(host)
    release = threading.Event()
    real_power_off = driver.power_off

    def slow_power_off(instance, timeout=0, retry_interval=0):
        release.wait(10)
        real_power_off(instance, timeout, retry_interval)

    monkeypatch.setattr(driver, "power_off", slow_power_off)
    try:
        accepted(api, server, {"os-stop": None})
        body = api("GET", f"/servers/{server}").json()["server"]
        assert body["OS-EXT-STS:task_state"] == "powering-off"
        assert body["status"] == "ACTIVE"
        assert conflict(api, server, {"os-start": None}) == \
            f"Cannot 'start' instance {server} while it is in vm_state active"
        assert conflict(api, server, {"os-stop": None}) == \
            f"Cannot 'stop' instance {server} while it is in task_state powering-off"
        assert conflict(api, server, {"reboot": {"type": "SOFT"}}) == \
            f"Cannot 'reboot' instance {server} while it is in task_state powering-off"
    finally:
        release.set()
    settled(compute_cloud, server, "SHUTOFF")
    assert ("power_off", server) in driver.calls


def test_reboot_soft_and_hard(compute_cloud, api, server):
    accepted(api, server, {"reboot": {"type": "SOFT"}})
    settled(compute_cloud, server, "ACTIVE")
    accepted(api, server, {"reboot": {"type": "hard"}})
    settled(compute_cloud, server, "ACTIVE")
    host = api("GET", f"/servers/{server}").json()["server"]["OS-EXT-SRV-ATTR:host"]
    assert [c for c in compute_cloud.driver(host).calls if c == ("reboot", server)] == \
        [("reboot", server)] * 2
    # A soft reboot needs an active server; a hard one also gets a stopped
    # server going again.
    accepted(api, server, {"os-stop": None})
    settled(compute_cloud, server, "SHUTOFF")
    assert conflict(api, server, {"reboot": {"type": "SOFT"}}) == \
        f"Cannot 'reboot' instance {server} while it is in vm_state stopped"
    accepted(api, server, {"reboot": {"type": "HARD"}})
    assert settled(compute_cloud, server, "ACTIVE")["OS-EXT-STS:power_state"] == 1


def test_pause_and_unpause(compute_cloud, api, server):
    accepted(api, server, {"pause": None})
    body = settled(compute_cloud, server, "PAUSED")
    assert body["OS-EXT-STS:vm_state"] == "paused"
    assert body["OS-EXT-STS:power_state"] == 3
    assert conflict(api, server, {"pause": None}) == \
        f"Cannot 'pause' instance {server} while it is in vm_state paused"
    assert conflict(api, server, {"suspend": None}) == \
        f"Cannot 'suspend' instance {server} while it is in vm_state paused"
    accepted(api, server, {"unpause": None})
    assert settled(compute_cloud, server, "ACTIVE")["OS-EXT-STS:power_state"] == 1
    assert conflict(api, server, {"unpause": None}) == \
        f"Cannot 'unpause' instance {server} while it is in vm_state active"


def test_suspend_and_resume(compute_cloud, api, server):
    accepted(api, server, {"suspend": {}})
    body = settled(compute_cloud, server, "SUSPENDED")
    assert body["OS-EXT-STS:vm_state"] == "suspended"
    assert body["OS-EXT-STS:power_state"] == 7
    assert conflict(api, server, {"os-stop": None}) == \
        f"Cannot 'stop' instance {server} while it is in vm_state suspended"
    accepted(api, server, {"resume": None})
    settled(compute_cloud, server, "ACTIVE")
    assert conflict(api, server, {"resume": None}) == \
        f"Cannot 'resume' instance {server} while it is in vm_state active"


def test_a_failing_driver_leaves_the_server_as_it_was(compute_cloud, api, server):
    host = api("GET", f"/servers/{server}").json()["server"]["OS-EXT-SRV-ATTR:host"]
    compute_cloud.inject_fault(host, "pause", server, count=1, message="pause jammed")
    accepted(api, server, {"pause": None})
    deadline = time.monotonic() + 10  # the task_state clears when the host gives up
    while time.monotonic() < deadline:
        body = api("GET", f"/servers/{server}").json()["server"]
        if body["OS-EXT-STS:task_state"] is None:
            break
        time.sleep(0.02)
    assert body["status"] == "ACTIVE" and body["OS-EXT-STS:task_state"] is None
    accepted(api, server, {"pause": None})  # the next one works
    settled(compute_cloud, server, "PAUSED")


def test_unknown_server_is_404(api):
    resp = act(api, "2b1b5a4c-7d6e-4a0f-9a55-000000000000", {"os-stop": None})
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == \
        "Instance 2b1b5a4c-7d6e-4a0f-9a55-000000000000 could not be found."


def test_another_projects_server_is_404(compute_cloud, api, server):
    resp = act(api, server, {"os-stop": None}, token="alt:alt")
    assert resp.status_code == 404


@pytest.mark.parametrize("body,words", [
    ({"os-reboot": None}, "There is no such action: os-reboot"),
    ({}, "Malformed request body"),
    ({"reboot": {"type": "WARM"}}, "Invalid input for field/attribute reboot/type."),
    ({"reboot": {}}, "Invalid input for field/attribute reboot."),
    ({"reboot": None}, "Invalid input for field/attribute reboot."),
    ({"reboot": {"type": "SOFT", "force": True}},
     "Invalid input for field/attribute reboot."),
    ({"pause": None, "resume": None}, "Invalid input for field/attribute body."),
])
def test_bad_bodies_are_400_naming_the_field(api, server, body, words):
    resp = act(api, server, body)
    assert resp.status_code == 400, resp.text
    assert words in resp.json()["badRequest"]["message"]


def test_body_that_is_not_json_is_400(api, server):
    resp = act(api, server, "{not json")
    assert resp.status_code == 400


def test_other_methods_are_405(api, server):
    resp = api("GET", f"/servers/{server}/action")
    assert resp.status_code == 405
    assert resp.headers["Allow"] == "POST"


def test_action_on_a_building_server_is_409(fresh_compute_cloud):
    cloud = fresh_compute_cloud
    image = first_image_id(cloud)
    cloud.set_spawn_delay("host1", 1.0)
    resp = api_request(cloud, "POST", "/servers", body={"server": {
        "name": "slow", "imageRef": image, "flavorRef": "1"}})
    sid = resp.json()["server"]["id"]
    resp = api_request(cloud, "POST", f"/servers/{sid}/action", body={"os-stop": None})
    assert resp.status_code == 409
    message = resp.json()["conflictingRequest"]["message"]
    assert message in (f"Instance {sid} is not ready",
                       f"Cannot 'stop' instance {sid} while it is in vm_state building")
    wait_for_server(cloud, sid)


def test_driver_without_the_capability_is_refused_without_asking_the_host(
        fresh_compute_cloud):
    cloud = fresh_compute_cloud
    driver = cloud.driver("host1")
    # The host restarts with a driver that declares it cannot pause; the
    # compute service reports that to the API through its node's stats.
    driver.capabilities = dict(driver.capabilities, supports_pause=False)
    cloud.stop_host("host1", mark_down=False)
    cloud.start_host("host1")
    image = first_image_id(cloud)
    resp = api_request(cloud, "POST", "/servers", body={"server": {
        "name": "nopause", "imageRef": image, "flavorRef": "1"}})
    sid = resp.json()["server"]["id"]
    assert wait_for_server(cloud, sid)["status"] == "ACTIVE"
    calls_before = list(driver.calls)
    resp = api_request(cloud, "POST", f"/servers/{sid}/action", body={"pause": None})
    assert resp.status_code == 409, resp.text
    message = resp.json()["conflictingRequest"]["message"]
    assert message == (f"Cannot 'pause' instance {sid}: the virt driver of its host "
                       "(FakeDriver) does not support it (supports_pause is false).")
    body = api_request(cloud, "GET", f"/servers/{sid}").json()["server"]
    assert body["status"] == "ACTIVE" and body["OS-EXT-STS:task_state"] is None
    assert driver.calls == calls_before  # the host was never asked
    # What the driver can do still works.
    resp = api_request(cloud, "POST", f"/servers/{sid}/action", body={"suspend": None})
    assert resp.status_code == 202
    assert wait_for_server(cloud, sid, ("SUSPENDED",))["OS-EXT-STS:power_state"] == 7
    api_request(cloud, "DELETE", f"/servers/{sid}")
    wait_for_server(cloud, sid, ("DELETED",))
