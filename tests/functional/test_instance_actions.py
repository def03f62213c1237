"""GET /servers/{id}/os-instance-actions[/{request_id}] (issue 19 item 4):
every action and every failure is recorded with its events, and the
shapes at each microversion boundary (2.21, 2.51, 2.58, 2.62, 2.66, 2.84)
are checked against tempest's schemas."""
import time

import pytest

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas
from tests.functional.test_lifecycle_actions import MEMBER, MISSING, act, settled
from tests.functional.test_servers import boot

VERSIONS = ["2.1", "2.21", "2.51", "2.58", "2.62", "2.66", "2.84", "2.100"]


@pytest.fixture(scope="module")
def acted(compute_cloud, image_id):
    """A member's server that was created, stopped, started, locked and
    unlocked: five actions, newest first in listings."""
    api = lambda m, p, **kw: api_request(compute_cloud, m, p, **kw)  # noqa: E731
    sid = boot(api, image_id, name="acted", token=MEMBER)
    assert wait_for_server(compute_cloud, sid)["status"] == "ACTIVE"
    for body, status in (({"os-stop": None}, "SHUTOFF"), ({"os-start": None}, "ACTIVE"),
                         ({"lock": None}, "ACTIVE"), ({"unlock": None}, "ACTIVE")):
        assert act(api, sid, body, token=MEMBER).status_code == 202
        settled(compute_cloud, sid, status)
    yield sid
    api("DELETE", f"/servers/{sid}")
    wait_for_server(compute_cloud, sid, ("DELETED",))


def _v(version):
    return tuple(int(x) for x in version.split("."))


def _actions(api, sid, version, token=MEMBER, query=""):
    return api("GET", f"/servers/{sid}/os-instance-actions{query}", version=version,
               token=token)


@pytest.mark.parametrize("version", VERSIONS)
def test_list_shapes(api, acted, version):
    resp = _actions(api, acted, version)
    body = tempest_schemas.check(resp, "servers", "list_instance_actions", version)
    names = [a["action"] for a in body["instanceActions"]]
    assert names == ["unlock", "lock", "start", "stop", "create"]
    first = body["instanceActions"][0]
    assert first["instance_uuid"] == acted
    assert first["project_id"] == "demo" and first["user_id"] == "demo"
    assert first["message"] is None
    assert ("updated_at" in first) == (_v(version) >= (2, 58))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("token", [MEMBER, "admin:admin"])
def test_show_shapes(api, acted, version, token):
    start = _actions(api, acted, version)
    request_id = [a for a in start.json()["instanceActions"]
                  if a["action"] == "start"][0]["request_id"]
    resp = api("GET", f"/servers/{acted}/os-instance-actions/{request_id}", version=version,
               token=token)
    body = tempest_schemas.check(resp, "servers", "show_instance_action", version)
    action = body["instanceAction"]
    assert action["action"] == "start"
    admin = token != MEMBER
    v = _v(version)
    if not admin and v < (2, 51):
        assert "events" not in action
        return
    [event] = action["events"]
    assert event["event"] == "compute_start_instance"
    assert event["result"] == "Success"
    assert ("traceback" in event) == admin
    assert ("hostId" in event) == (v >= (2, 62))
    assert ("host" in event) == (admin and v >= (2, 62))
    assert ("details" in event) == (admin and v >= (2, 84))
    if admin and v >= (2, 62):
        assert event["host"] == "host1"


def test_unknown_action_and_server(api, acted):
    resp = api("GET", f"/servers/{acted}/os-instance-actions/req-nope", token=MEMBER)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == "Action req-nope not found"
    assert _actions(api, MISSING, "2.1").status_code == 404
    assert _actions(api, acted, "2.1", token="other:other").status_code == 404


def test_paging_and_changes_since_from_2_58(api, acted):
    every = _actions(api, acted, "2.58").json()["instanceActions"]
    resp = _actions(api, acted, "2.58", query="?limit=2")
    body = tempest_schemas.check(resp, "servers", "list_instance_actions", "2.58")
    assert [a["request_id"] for a in body["instanceActions"]] == \
        [a["request_id"] for a in every[:2]]
    [link] = body["links"]
    assert link["rel"] == "next" and f"marker={every[1]['request_id']}" in link["href"]
    resp = _actions(api, acted, "2.58", query=f"?limit=2&marker={every[1]['request_id']}")
    assert [a["request_id"] for a in resp.json()["instanceActions"]] == \
        [a["request_id"] for a in every[2:4]]
    resp = _actions(api, acted, "2.58", query=f"?marker={every[-1]['request_id']}")
    assert resp.json() == {"instanceActions": []}
    # Before 2.58 the query is ignored.
    assert len(_actions(api, acted, "2.57", query="?limit=1").json()["instanceActions"]) == 5
    # changes-since: what changed at or after the time of the lock
    since = every[1]["updated_at"]
    resp = _actions(api, acted, "2.58", query=f"?changes-since={since}")
    assert [a["action"] for a in resp.json()["instanceActions"]] == ["unlock", "lock"]
    # bad queries name the parameter
    for query, field in (("?limit=-1", "limit"), ("?limit=x", "limit"),
                         ("?changes-since=yesterday", "changes-since"),
                         ("?foo=1", "foo"), ("?changes-before=2020-01-01T00:00:00", "changes-before")):
        resp = _actions(api, acted, "2.58", query=query)
        assert resp.status_code == 400, (query, resp.text)
        assert field in resp.json()["badRequest"]["message"]
    resp = _actions(api, acted, "2.58", query="?marker=req-none")
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == "Marker req-none could not be found."


def test_changes_before_from_2_66(api, acted):
    every = _actions(api, acted, "2.66").json()["instanceActions"]
    before = every[3]["updated_at"]  # the stop
    resp = _actions(api, acted, "2.66", query=f"?changes-before={before}")
    assert [a["action"] for a in resp.json()["instanceActions"]] == ["stop", "create"]
    resp = _actions(api, acted, "2.66",
                    query=f"?changes-since={every[0]['updated_at']}&changes-before={before}")
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == \
        "The value of changes-since must be less than or equal to changes-before."


def test_a_deleted_servers_actions_from_2_21(compute_cloud, api, image_id):
    sid = boot(api, image_id, name="gone", token=MEMBER)
    wait_for_server(compute_cloud, sid)
    assert api("DELETE", f"/servers/{sid}", token=MEMBER).status_code == 204
    wait_for_server(compute_cloud, sid, ("DELETED",))
    assert _actions(api, sid, "2.20").status_code == 404
    resp = _actions(api, sid, "2.21")
    body = tempest_schemas.check(resp, "servers", "list_instance_actions", "2.21")
    assert [a["action"] for a in body["instanceActions"]] == ["delete", "create"]
    request_id = body["instanceActions"][0]["request_id"]
    resp = api("GET", f"/servers/{sid}/os-instance-actions/{request_id}", version="2.21")
    events = resp.json()["instanceAction"]["events"]
    assert [e["event"] for e in events] == ["compute_terminate_instance"]
    assert events[0]["result"] == "Success"


def test_a_resize_that_found_no_host_says_so(compute_cloud, api, image_id):
    """On a one-host cloud a resize is accepted (202) and fails in the
    conductor: its action says Error, with the fault message in the
    event's details (admins, 2.84)."""
    sid = boot(api, image_id, name="no-room", token=MEMBER)
    wait_for_server(compute_cloud, sid)
    resp = act(api, sid, {"resize": {"flavorRef": "2"}}, token=MEMBER)
    assert resp.status_code == 202, resp.text
    for _ in range(200):
        actions = _actions(api, sid, "2.84").json()["instanceActions"]
        if actions[0]["message"] == "Error":
            break
        time.sleep(0.05)
    assert actions[0]["action"] == "resize" and actions[0]["message"] == "Error"
    resp = api("GET", f"/servers/{sid}/os-instance-actions/{actions[0]['request_id']}",
               version="2.84")
    body = tempest_schemas.check(resp, "servers", "show_instance_action", "2.84")
    [event] = body["instanceAction"]["events"]
    assert event["event"] == "conductor_migrate_server"
    assert event["result"] == "Error"
    assert event["details"].startswith("No valid host was found")
    # The member sees that it failed, not the details.
    resp = api("GET", f"/servers/{sid}/os-instance-actions/{actions[0]['request_id']}",
               version="2.84", token=MEMBER)
    [event] = resp.json()["instanceAction"]["events"]
    assert event["result"] == "Error" and "details" not in event
    api("DELETE", f"/servers/{sid}")


def test_a_failed_action_on_the_host_is_an_error_event(compute_cloud, api, image_id):
    sid = boot(api, image_id, name="fails", token=MEMBER)
    server = wait_for_server(compute_cloud, sid)
    compute_cloud.inject_fault(server["OS-EXT-SRV-ATTR:host"], "rescue", sid, count=1,
                               message="the rescue image would not boot")
    assert act(api, sid, {"rescue": None}, token=MEMBER).status_code == 200
    settled(compute_cloud, sid, "ACTIVE")
    actions = _actions(api, sid, "2.84").json()["instanceActions"]
    assert (actions[0]["action"], actions[0]["message"]) == ("rescue", "Error")
    resp = api("GET", f"/servers/{sid}/os-instance-actions/{actions[0]['request_id']}",
               version="2.84")
    [event] = resp.json()["instanceAction"]["events"]
    assert event["event"] == "compute_rescue_instance"
    assert event["details"] == "Virt driver failure: the rescue image would not boot"
    assert "VirtDriverError" in event["traceback"]
    api("DELETE", f"/servers/{sid}")


# ---------------------------------------------- soft delete and restore

@pytest.fixture(scope="module")
def reclaiming():
    with Cloud(overrides={"reclaim_instance_interval": 2}) as cloud:
        yield cloud


def test_soft_delete_restore_force_delete_and_reclaim(reclaiming):
    cloud = reclaiming
    api = lambda m, p, **kw: api_request(cloud, m, p, **kw)  # noqa: E731
    image = first_image_id(cloud)
    sid = boot(api, image, name="soft", token=MEMBER)
    wait_for_server(cloud, sid)
    assert api("DELETE", f"/servers/{sid}", token=MEMBER).status_code == 204
    body = settled(cloud, sid, "SOFT_DELETED", token=MEMBER)
    assert body["OS-EXT-STS:power_state"] == 4
    assert act(api, sid, {"restore": None}, token=MEMBER).status_code == 202
    settled(cloud, sid, "ACTIVE", token=MEMBER)
    assert act(api, sid, {"restore": None}, token=MEMBER).json()["conflictingRequest"][
        "message"] == f"Cannot 'restore' instance {sid} while it is in vm_state active"
    actions = api("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    assert [a["action"] for a in actions] == ["restore", "delete", "create"]
    # forceDelete deletes at once
    assert act(api, sid, {"forceDelete": None}, token=MEMBER).status_code == 202
    assert wait_for_server(cloud, sid, ("DELETED",))["status"] == "DELETED"
    # and the host reclaims what stays soft-deleted longer than the interval
    sid = boot(api, image, name="reclaimed", token=MEMBER)
    wait_for_server(cloud, sid)
    api("DELETE", f"/servers/{sid}", token=MEMBER)
    settled(cloud, sid, "SOFT_DELETED", token=MEMBER)
    assert wait_for_server(cloud, sid, ("DELETED",), timeout=30)["status"] == "DELETED"
    assert act(api, MISSING, {"restore": None}).status_code == 404
