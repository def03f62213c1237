"""The server actions beyond power and moves, through the HTTP API (issue
19 item 4): lock/unlock, rescue, shelve, rebuild, os-resetState,
changePassword, os-getConsoleOutput, trigger_crash_dump, security groups;
each with its happy path, the 409 of a state that does not allow it, the
403 of an admin-only one, the 400 of a bad body naming the field and the
404 of an unknown server. Responses are checked against tempest's schemas.
"""
import pytest

from compute_core.testing import wait_for_server
from tests import tempest_schemas
from tests.functional.test_servers import boot

MEMBER = "demo:demo"
MISSING = "00000000-0000-0000-0000-000000000000"


def act(api, sid, body, **kw):
    return api("POST", f"/servers/{sid}/action", body=body, **kw)


def accepted(api, sid, body, version="2.1", **kw):
    resp = act(api, sid, body, version=version, **kw)
    assert resp.status_code == 202, resp.text
    tempest_schemas.check(resp, "servers", "server_actions_common_schema", version)
    return resp


def conflict(api, sid, body, **kw):
    resp = act(api, sid, body, **kw)
    assert resp.status_code == 409, resp.text
    return resp.json()["conflictingRequest"]["message"]


def bad_request(api, sid, body, **kw):
    resp = act(api, sid, body, **kw)
    assert resp.status_code == 400, resp.text
    return resp.json()["badRequest"]["message"]


def settled(cloud, sid, status, token=None):
    for _ in range(200):
        body = wait_for_server(cloud, sid, (status, "ERROR"), token=token)
        if body["status"] == "ERROR" or body["OS-EXT-STS:task_state"] is None:
            break
    assert body["status"] == status, body
    assert body["OS-EXT-STS:task_state"] is None, body
    return body


@pytest.fixture
def server(compute_cloud, api, image_id):
    """An ACTIVE server of the member's project."""
    sid = boot(api, image_id, name="lifecycle", token=MEMBER)
    assert wait_for_server(compute_cloud, sid)["status"] == "ACTIVE"
    yield sid
    api("POST", f"/servers/{sid}/action", body={"unlock": None})
    api("DELETE", f"/servers/{sid}")
    wait_for_server(compute_cloud, sid, ("DELETED",))


def _show(api, sid, version="2.1", token=None):
    kw = {"token": token} if token else {}
    return api("GET", f"/servers/{sid}", version=version, **kw).json()["server"]


# ------------------------------------------------------------------ lock

def test_lock_refuses_actions_to_the_owner_not_to_admins(compute_cloud, api, server):
    accepted(api, server, {"lock": None}, token=MEMBER)
    body = _show(api, server, "2.9", MEMBER)
    assert body["locked"] is True
    msg = conflict(api, server, {"os-stop": None}, token=MEMBER)
    assert msg == f"Instance {server} is locked"
    assert conflict(api, server, {"rescue": None}, token=MEMBER) == msg
    assert conflict(api, server, {"shelve": None}, token=MEMBER) == msg
    resp = api("DELETE", f"/servers/{server}", token=MEMBER)
    assert resp.status_code == 409
    accepted(api, server, {"unlock": None}, token=MEMBER)
    assert _show(api, server, "2.9", MEMBER)["locked"] is False
    accepted(api, server, {"os-stop": None}, token=MEMBER)
    settled(compute_cloud, server, "SHUTOFF")


def test_locked_reason_from_2_73(api, server):
    version = "2.73"
    accepted(api, server, {"lock": {"locked_reason": "maintenance"}}, version, token=MEMBER)
    resp = api("GET", f"/servers/{server}", version=version, token=MEMBER)
    body = tempest_schemas.check(resp, "servers", "get_server", version)["server"]
    assert (body["locked"], body["locked_reason"]) == (True, "maintenance")
    accepted(api, server, {"unlock": None}, version, token=MEMBER)
    body = _show(api, server, version, MEMBER)
    assert (body["locked"], body["locked_reason"]) == (False, None)
    # Before 2.73 the lock takes any value and no reason.
    accepted(api, server, {"lock": {"whatever": 1}}, "2.72", token=MEMBER)
    assert _show(api, server, version, MEMBER)["locked_reason"] is None
    msg = bad_request(api, server, {"lock": {"locked_reason": ""}}, version="2.73",
                      token=MEMBER)
    assert "locked_reason" in msg
    msg = bad_request(api, server, {"lock": {"reason": "x"}}, version="2.73", token=MEMBER)
    assert "reason" in msg


def test_an_admin_lock_is_lifted_by_admins_only(api, server):
    accepted(api, server, {"lock": None})
    resp = act(api, server, {"unlock": None}, token=MEMBER)
    assert resp.status_code == 403, resp.text
    assert "unlock_override" in resp.json()["forbidden"]["message"]
    accepted(api, server, {"unlock": None})


def test_lock_of_an_unknown_server_is_404(api):
    resp = act(api, MISSING, {"lock": None})
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == f"Instance {MISSING} could not be found."


# ----------------------------------------------------------- resetState

def test_reset_state_is_for_admins(compute_cloud, api, server):
    resp = act(api, server, {"os-resetState": {"state": "error"}}, token=MEMBER)
    assert resp.status_code == 403, resp.text
    assert "os_compute_api:os-admin-actions:reset_state" in resp.text
    accepted(api, server, {"os-resetState": {"state": "error"}})
    body = _show(api, server)
    assert (body["status"], body["OS-EXT-STS:vm_state"]) == ("ERROR", "error")
    accepted(api, server, {"os-resetState": {"state": "active"}})
    assert _show(api, server)["status"] == "ACTIVE"
    assert "state" in bad_request(api, server, {"os-resetState": {"state": "stopped"}})
    assert "state" in bad_request(api, server, {"os-resetState": {}})
    assert act(api, MISSING, {"os-resetState": {"state": "error"}}).status_code == 404


# --------------------------------------------------------------- rescue

def test_rescue_and_unrescue(compute_cloud, api, server):
    resp = act(api, server, {"rescue": {"adminPass": "s3cret"}}, token=MEMBER)
    assert resp.status_code == 200, resp.text
    body = tempest_schemas.check(resp, "servers", "rescue_server_with_admin_pass")
    assert body == {"adminPass": "s3cret"}
    settled(compute_cloud, server, "RESCUE")
    assert conflict(api, server, {"rescue": None}, token=MEMBER) == \
        f"Cannot 'rescue' instance {server} while it is in vm_state rescued"
    assert conflict(api, server, {"os-stop": None}, token=MEMBER) == \
        f"Cannot 'stop' instance {server} while it is in vm_state rescued"
    accepted(api, server, {"unrescue": None}, token=MEMBER)
    settled(compute_cloud, server, "ACTIVE")
    assert conflict(api, server, {"unrescue": None}, token=MEMBER) == \
        f"Cannot 'unrescue' instance {server} while it is in vm_state active"
    # A generated password when none is given.
    resp = act(api, server, {"rescue": None}, token=MEMBER)
    assert resp.status_code == 200 and len(resp.json()["adminPass"]) >= 8
    settled(compute_cloud, server, "RESCUE")


def test_rescue_bad_bodies(api, server, image_id):
    assert "rescue_image_ref" in bad_request(api, server,
                                             {"rescue": {"rescue_image_ref": "nope"}})
    assert "adminPass" in bad_request(api, server, {"rescue": {"adminPass": 3}})
    msg = bad_request(api, server, {"rescue": {"rescue_image_ref": MISSING}})
    assert msg == f"Image {MISSING} could not be found."
    assert act(api, MISSING, {"rescue": None}).status_code == 404


# ------------------------------------------------------------- shelving

def test_shelve_offload_and_unshelve(compute_cloud, api, server):
    """With [DEFAULT] shelved_offload_time = 0 (the default) a shelved
    server is offloaded at once: no host, its allocations freed; unshelve
    schedules it again and it keeps its id and addresses."""
    before = _show(api, server)
    accepted(api, server, {"shelve": None}, token=MEMBER)
    body = settled(compute_cloud, server, "SHELVED_OFFLOADED")
    assert body["OS-EXT-SRV-ATTR:host"] is None
    assert body["addresses"] == before["addresses"]
    assert conflict(api, server, {"shelve": None}, token=MEMBER) == \
        f"Cannot 'shelve' instance {server} while it is in vm_state shelved_offloaded"
    # start checks for a host first, as Nova's does
    assert conflict(api, server, {"os-start": None}, token=MEMBER) == \
        f"Instance {server} is not ready"
    accepted(api, server, {"unshelve": None}, token=MEMBER)
    body = settled(compute_cloud, server, "ACTIVE")
    assert body["OS-EXT-SRV-ATTR:host"] == before["OS-EXT-SRV-ATTR:host"]
    assert body["addresses"] == before["addresses"]
    assert conflict(api, server, {"unshelve": None}, token=MEMBER) == \
        f"Cannot 'unshelve' instance {server} while it is in vm_state active"


def test_shelve_offload_is_for_admins_and_needs_shelved(compute_cloud, api, server):
    resp = act(api, server, {"shelveOffload": None}, token=MEMBER)
    assert resp.status_code == 403, resp.text
    assert conflict(api, server, {"shelveOffload": None}) == \
        f"Cannot 'shelveOffload' instance {server} while it is in vm_state active"


def test_unshelve_bodies_by_version(compute_cloud, api, server):
    host = _show(api, server)["OS-EXT-SRV-ATTR:host"]
    accepted(api, server, {"shelve": None}, token=MEMBER)
    settled(compute_cloud, server, "SHELVED_OFFLOADED")
    # 2.77: {"availability_zone": ...} or null, not {}
    msg = bad_request(api, server, {"unshelve": {}}, version="2.77", token=MEMBER)
    assert "availability_zone" in msg
    msg = bad_request(api, server, {"unshelve": {"availability_zone": "nowhere"}},
                      version="2.77", token=MEMBER)
    assert msg == "The requested availability zone is not available"
    # 2.91: a host is for admins
    resp = act(api, server, {"unshelve": {"host": "host1"}}, version="2.91", token=MEMBER)
    assert resp.status_code == 403, resp.text
    msg = bad_request(api, server, {"unshelve": {"host": "nohost"}}, version="2.91")
    assert "nohost" in msg
    assert "hots" in bad_request(api, server, {"unshelve": {"hots": "x"}}, version="2.91")
    accepted(api, server, {"unshelve": {"availability_zone": "nova", "host": host}}, "2.91")
    assert settled(compute_cloud, server, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == host


@pytest.mark.compute_cloud_hosts(2)
def test_unshelve_to_a_host_checks_zone_then_host_then_both(fresh_compute_cloud):
    """2.91 as Nova orders it: a zone that does not exist is a 400 (even
    with a host), an unknown host a 400, a host outside the zone asked a
    409; none of them changes the offloaded server."""
    from compute_core.testing import api_request, first_image_id

    def api(method, path, **kw):
        return api_request(fresh_compute_cloud, method, path, **kw)

    resp = api("POST", "/os-aggregates", body={"aggregate": {"name": "other",
                                                             "availability_zone": "az2"}})
    assert resp.status_code == 200, resp.text
    agg = resp.json()["aggregate"]["id"]
    hosts = sorted(s["host"] for s in api("GET", "/os-services?binary=nova-compute")
                   .json()["services"])
    api("POST", f"/os-aggregates/{agg}/action", body={"add_host": {"host": hosts[1]}})
    sid = boot(api, first_image_id(fresh_compute_cloud), name="zones", availability_zone="nova")
    assert wait_for_server(fresh_compute_cloud, sid)["status"] == "ACTIVE"
    accepted(api, sid, {"shelve": None})
    settled(fresh_compute_cloud, sid, "SHELVED_OFFLOADED")
    assert bad_request(api, sid, {"unshelve": {"host": hosts[0], "availability_zone":
                                               "nowhere"}}, version="2.91") == \
        "The requested availability zone is not available"
    assert "nohost" in bad_request(api, sid, {"unshelve": {
        "host": "nohost", "availability_zone": "az2"}}, version="2.91")
    # pinned to nova at boot: another zone's host is a conflict, asked or not
    for value in ({"host": hosts[1], "availability_zone": "nova"}, {"host": hosts[1]},
                  {"host": hosts[0], "availability_zone": "az2"}):
        msg = conflict(api, sid, {"unshelve": value}, version="2.91")
        assert "is not in availability zone" in msg, msg
    assert _show(api, sid)["status"] == "SHELVED_OFFLOADED"
    accepted(api, sid, {"unshelve": {"host": hosts[1], "availability_zone": "az2"}}, "2.91")
    assert settled(fresh_compute_cloud, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == hosts[1]
    api("DELETE", f"/servers/{sid}")
    wait_for_server(fresh_compute_cloud, sid, ("DELETED",))


# -------------------------------------------------------------- rebuild

def test_rebuild_keeps_id_and_addresses(compute_cloud, api, server, image_id):
    before = _show(api, server)
    version = "2.90"
    resp = act(api, server, {"rebuild": {"imageRef": image_id, "name": "rebuilt",
                                         "metadata": {"a": "b"}, "adminPass": "pw",
                                         "hostname": "new-host",
                                         "user_data": "aGVsbG8="}},
               version=version, token=MEMBER)
    assert resp.status_code == 202, resp.text
    body = resp.json()["server"]
    assert (body["id"], body["name"], body["adminPass"]) == (server, "rebuilt", "pw")
    assert body["metadata"] == {"a": "b"}
    assert body["user_data"] == "aGVsbG8="
    after = settled(compute_cloud, server, "ACTIVE")
    assert after["addresses"] == before["addresses"]
    assert after["name"] == "rebuilt"
    assert _show(api, server, "2.90")["OS-EXT-SRV-ATTR:hostname"] == "new-host"
    host = after["OS-EXT-SRV-ATTR:host"]
    log = compute_cloud.driver(host).get_console_output(None, {"uuid": server})
    assert f"rebuilt from image {image_id}" in log


@pytest.mark.parametrize("version", ["2.1", "2.9", "2.19", "2.26", "2.47", "2.54", "2.57",
                                     "2.63", "2.71", "2.73", "2.75", "2.96", "2.100"])
def test_rebuild_response_shapes(compute_cloud, api, server, image_id, version):
    resp = act(api, server, {"rebuild": {"imageRef": image_id}}, version=version,
               token=MEMBER)
    assert resp.status_code == 202, resp.text
    tempest_schemas.check(resp, "servers", "rebuild_server_with_admin_pass", version)
    settled(compute_cloud, server, "ACTIVE")


def test_rebuild_refusals(compute_cloud, api, server, image_id):
    assert "imageRef" in bad_request(api, server, {"rebuild": {}})
    assert bad_request(api, server, {"rebuild": {"imageRef": MISSING}}) == \
        "Cannot find image for rebuild"
    # fields of later versions are refused before them
    assert "key_name" in bad_request(api, server,
                                     {"rebuild": {"imageRef": image_id, "key_name": None}},
                                     version="2.53")
    assert "user_data" in bad_request(api, server,
                                      {"rebuild": {"imageRef": image_id, "user_data": "x"}},
                                      version="2.56")
    assert "hostname" in bad_request(api, server,
                                     {"rebuild": {"imageRef": image_id, "hostname": "a1"}},
                                     version="2.89")
    assert "personality" in bad_request(api, server, {"rebuild": {
        "imageRef": image_id, "personality": []}}, version="2.57")
    assert bad_request(api, server, {"rebuild": {
        "imageRef": image_id, "trusted_image_certificates": ["abc"]}}, version="2.63") == \
        "Image certificate validation is not supported."
    assert bad_request(api, server, {"rebuild": {"imageRef": image_id,
                                                 "key_name": "nokey"}},
                       version="2.54") == "Invalid key_name provided."
    accepted(api, server, {"os-stop": None})
    settled(compute_cloud, server, "SHUTOFF")
    resp = act(api, server, {"rebuild": {"imageRef": image_id}})
    assert resp.status_code == 202
    settled(compute_cloud, server, "SHUTOFF")  # a stopped server stays stopped
    accepted(api, server, {"shelve": None})
    settled(compute_cloud, server, "SHELVED_OFFLOADED")
    assert conflict(api, server, {"rebuild": {"imageRef": image_id}}) == \
        f"Cannot 'rebuild' instance {server} while it is in vm_state shelved_offloaded"
    assert act(api, MISSING, {"rebuild": {"imageRef": image_id}}).status_code == 404


# ------------------------------------------------- password, console, dump

def test_change_password(compute_cloud, api, server):
    accepted(api, server, {"changePassword": {"adminPass": "n3w"}}, token=MEMBER)
    host = _show(api, server)["OS-EXT-SRV-ATTR:host"]
    assert "administrator password changed" in \
        compute_cloud.driver(host).get_console_output(None, {"uuid": server})
    assert "adminPass" in bad_request(api, server, {"changePassword": {}})
    assert "adminPass" in bad_request(api, server, {"changePassword": {"adminPass": 1}})
    accepted(api, server, {"os-stop": None})
    settled(compute_cloud, server, "SHUTOFF")
    assert conflict(api, server, {"changePassword": {"adminPass": "x"}}) == \
        f"Cannot 'changePassword' instance {server} while it is in vm_state stopped"


def test_console_output_with_length(compute_cloud, api, server, image_id):
    accepted(api, server, {"reboot": {"type": "HARD"}}, token=MEMBER)
    settled(compute_cloud, server, "ACTIVE")
    resp = act(api, server, {"os-getConsoleOutput": {}}, token=MEMBER)
    assert resp.status_code == 200, resp.text
    out = tempest_schemas.check(resp, "servers", "get_console_output")["output"]
    assert out.splitlines() == [f"{server} booted from image {image_id}", "hard reboot"]
    resp = act(api, server, {"os-getConsoleOutput": {"length": "1"}}, token=MEMBER)
    assert resp.json()["output"] == "hard reboot\n"
    resp = act(api, server, {"os-getConsoleOutput": {"length": -1}}, token=MEMBER)
    assert resp.json()["output"] == out
    resp = act(api, server, {"os-getConsoleOutput": {"length": None}}, token=MEMBER)
    assert resp.json()["output"] == out
    assert "length" in bad_request(api, server, {"os-getConsoleOutput": {"length": -2}})
    assert "length" in bad_request(api, server, {"os-getConsoleOutput": {"length": "x"}})
    assert "lines" in bad_request(api, server, {"os-getConsoleOutput": {"lines": 1}})
    assert act(api, MISSING, {"os-getConsoleOutput": {}}).status_code == 404


def test_trigger_crash_dump_from_2_17(compute_cloud, api, server):
    resp = act(api, server, {"trigger_crash_dump": None}, version="2.16")
    assert resp.status_code == 404, resp.text
    accepted(api, server, {"trigger_crash_dump": None}, "2.17", token=MEMBER)
    host = _show(api, server)["OS-EXT-SRV-ATTR:host"]
    driver = compute_cloud.driver(host)
    for _ in range(100):
        if "NMI received" in driver.get_console_output(None, {"uuid": server}):
            break
        import time
        time.sleep(0.05)
    assert "NMI received" in driver.get_console_output(None, {"uuid": server})
    assert "trigger_crash_dump" in bad_request(api, server, {"trigger_crash_dump": {}},
                                               version="2.17")
    accepted(api, server, {"os-stop": None})
    settled(compute_cloud, server, "SHUTOFF")
    assert conflict(api, server, {"trigger_crash_dump": None}, version="2.17") == \
        f"Cannot 'trigger_crash_dump' instance {server} while it is in vm_state stopped"


# ------------------------------------------------------ security groups

def test_security_groups_of_a_server(compute_cloud, api, server):
    compute_cloud.conf.set_override("security_groups", ["default", "web"],
                                    group="flat_network")
    try:
        resp = api("GET", f"/servers/{server}/os-security-groups", token=MEMBER)
        body = tempest_schemas.check(resp, "security_groups", "list_security_groups")
        assert [g["name"] for g in body["security_groups"]] == ["default"]
        accepted(api, server, {"addSecurityGroup": {"name": "web"}}, token=MEMBER)
        resp = api("GET", f"/servers/{server}/os-security-groups", token=MEMBER)
        assert [g["name"] for g in resp.json()["security_groups"]] == ["default", "web"]
        assert [g["name"] for g in _show(api, server)["security_groups"]] == ["default", "web"]
        assert bad_request(api, server, {"addSecurityGroup": {"name": "web"}}) == \
            f"Security group web is already associated with the instance {server}"
        resp = act(api, server, {"addSecurityGroup": {"name": "nope"}})
        assert resp.status_code == 404
        assert resp.json()["itemNotFound"]["message"] == "Security group nope not found."
        assert "name" in bad_request(api, server, {"addSecurityGroup": {}})
        assert bad_request(api, server, {"addSecurityGroup": {"name": "  "}}) == \
            "Security group name cannot be empty"
        accepted(api, server, {"removeSecurityGroup": {"name": "web"}}, token=MEMBER)
        assert [g["name"] for g in _show(api, server)["security_groups"]] == ["default"]
        assert api("GET", f"/servers/{MISSING}/os-security-groups").status_code == 404
    finally:
        compute_cloud.conf.clear_override("security_groups", group="flat_network")


def test_other_projects_see_nothing(api, server):
    resp = act(api, server, {"lock": None}, token="other:other")
    assert resp.status_code == 404
    resp = api("GET", f"/servers/{server}/os-instance-actions", token="other:other")
    assert resp.status_code == 404


# ---------------------------------------------------------- capabilities

_CAPABLE = {
    "supports_rescue": ({"rescue": None}, "rescue", "2.1"),
    "supports_rebuild": (None, "rebuild", "2.1"),
    "supports_set_admin_password": ({"changePassword": {"adminPass": "x"}},
                                    "changePassword", "2.1"),
    "supports_trigger_crash_dump": ({"trigger_crash_dump": None}, "trigger_crash_dump",
                                    "2.17"),
    "supports_console_log": ({"os-getConsoleOutput": {}}, "os-getConsoleOutput", "2.1"),
}


def test_a_driver_without_the_capabilities_is_refused(fresh_compute_cloud):
    """Each new driver operation is a declared capability: a host whose
    driver lacks it gets a 409 before it is asked."""
    from compute_core.testing import api_request, first_image_id

    cloud = fresh_compute_cloud
    driver = cloud.driver("host1")
    driver.capabilities = dict(driver.capabilities, **dict.fromkeys(_CAPABLE, False))
    cloud.stop_host("host1", mark_down=False)
    cloud.start_host("host1")
    image = first_image_id(cloud)
    api = lambda m, p, **kw: api_request(cloud, m, p, **kw)  # noqa: E731
    sid = boot(api, image, name="incapable")
    assert wait_for_server(cloud, sid)["status"] == "ACTIVE"
    calls_before = list(driver.calls)
    for capability, (body, action, version) in _CAPABLE.items():
        body = body or {"rebuild": {"imageRef": image}}
        resp = act(api, sid, body, version=version)
        assert resp.status_code == 409, (capability, resp.text)
        assert resp.json()["conflictingRequest"]["message"] == (
            f"Cannot '{action}' instance {sid}: the virt driver of its host (FakeDriver) "
            f"does not support it ({capability} is false).")
    body = _show(api, sid)
    assert body["status"] == "ACTIVE" and body["OS-EXT-STS:task_state"] is None
    assert driver.calls == calls_before


# ------------------------------------------- shelved servers kept on a host

@pytest.mark.compute_cloud_config(overrides={"shelved_offload_time": -1})
def test_shelved_servers_keep_their_host_until_offloaded(fresh_compute_cloud):
    from compute_core.testing import api_request, first_image_id

    cloud = fresh_compute_cloud
    api = lambda m, p, **kw: api_request(cloud, m, p, **kw)  # noqa: E731
    sid = boot(api, first_image_id(cloud), name="kept", token=MEMBER)
    wait_for_server(cloud, sid)
    accepted(api, sid, {"shelve": None}, token=MEMBER)
    body = settled(cloud, sid, "SHELVED")
    assert body["OS-EXT-SRV-ATTR:host"] == "host1"
    assert body["OS-EXT-STS:power_state"] == 4
    # a zone or host is only for an offloaded server (2.77, 2.91)
    assert conflict(api, sid, {"unshelve": {"availability_zone": "nova"}}, version="2.77",
                    token=MEMBER).startswith("The unshelve action failed")
    accepted(api, sid, {"unshelve": None}, token=MEMBER)
    assert settled(cloud, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "host1"
    accepted(api, sid, {"shelve": None}, token=MEMBER)
    settled(cloud, sid, "SHELVED")
    accepted(api, sid, {"shelveOffload": None})
    body = settled(cloud, sid, "SHELVED_OFFLOADED")
    assert body["OS-EXT-SRV-ATTR:host"] is None
    assert sid not in cloud.driver("host1").list_instances()
    actions = [a["action"] for a in api("GET", f"/servers/{sid}/os-instance-actions"
                                        ).json()["instanceActions"]]
    assert actions == ["shelveOffload", "shelve", "unshelve", "shelve", "create"]


@pytest.mark.compute_cloud_config(overrides={"shelved_offload_time": 1,
                                             "shelved_poll_interval": 1})
def test_the_host_offloads_what_stays_shelved(fresh_compute_cloud):
    from compute_core.testing import api_request, first_image_id

    cloud = fresh_compute_cloud
    api = lambda m, p, **kw: api_request(cloud, m, p, **kw)  # noqa: E731
    sid = boot(api, first_image_id(cloud), name="offloaded-later", token=MEMBER)
    wait_for_server(cloud, sid)
    accepted(api, sid, {"shelve": None}, token=MEMBER)
    settled(cloud, sid, "SHELVED")
    body = wait_for_server(cloud, sid, ("SHELVED_OFFLOADED",), timeout=30)
    assert body["status"] == "SHELVED_OFFLOADED"
