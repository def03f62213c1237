"""/servers/{id}/os-interface through the HTTP API: list and show the
server's ports, attach one (on a network, at an address, or a free port by
id) and detach it, each response checked against tempest's schemas at 2.1,
2.49 and 2.70; the server's addresses, its host's guest and its instance
actions follow; bad input, wrong states, locks and a port of another
project change nothing."""
from __future__ import annotations

import uuid

import pytest

from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas

IFACES = "interfaces"


def _boot(cloud, api, image_id, name, token=None):
    sid = api("POST", "/servers", token=token, body={"server": {
        "name": name, "imageRef": image_id, "flavorRef": "1"}}).json()["server"]["id"]
    assert wait_for_server(cloud, sid, token=token)["status"] == "ACTIVE"
    return sid


def _ports(api, sid, version="2.1", token=None):
    resp = api("GET", f"/servers/{sid}/os-interface", version=version, token=token)
    return tempest_schemas.check(resp, IFACES, "list_interfaces", version)[
        "interfaceAttachments"]


def _addresses(api, sid):
    nets = api("GET", f"/servers/{sid}/ips").json()["addresses"]
    return sorted((a["addr"], a["OS-EXT-IPS-MAC:mac_addr"]) for net in nets.values()
                  for a in net)


def _events(api, sid, action):
    actions = api("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    found = [a for a in actions if a["action"] == action]
    assert found, actions
    detail = api("GET", f"/servers/{sid}/os-instance-actions/{found[0]['request_id']}",
                 version="2.51").json()["instanceAction"]
    return [(e["event"], e["result"]) for e in detail["events"]]


@pytest.fixture
def server(compute_cloud, api, image_id):
    sid = _boot(compute_cloud, api, image_id, "ifaces")
    yield sid
    api("DELETE", f"/servers/{sid}")
    wait_for_server(compute_cloud, sid, ("DELETED",))


def test_list_show_attach_detach(compute_cloud, api, server):
    sid = server
    [boot_port] = _ports(api, sid)
    net_id = boot_port["net_id"]
    assert boot_port["port_state"] == "ACTIVE" and "tag" not in boot_port
    assert [(boot_port["fixed_ips"][0]["ip_address"], boot_port["mac_addr"])] == \
        _addresses(api, sid)
    assert _ports(api, sid, "2.70")[0]["tag"] is None
    shown = tempest_schemas.check(
        api("GET", f"/servers/{sid}/os-interface/{boot_port['port_id']}"), IFACES,
        "get_create_interfaces", "2.1")["interfaceAttachment"]
    assert shown == boot_port

    # Attach on the network with a tag (2.49), at no address in particular.
    resp = api("POST", f"/servers/{sid}/os-interface", version="2.49",
               body={"interfaceAttachment": {"net_id": net_id, "tag": "data"}})
    new = tempest_schemas.check(resp, IFACES, "get_create_interfaces",
                                "2.49")["interfaceAttachment"]
    assert new["net_id"] == net_id and new["port_id"] != boot_port["port_id"]
    assert new["mac_addr"] != boot_port["mac_addr"]
    tagged = tempest_schemas.check(
        api("GET", f"/servers/{sid}/os-interface/{new['port_id']}", version="2.70"), IFACES,
        "get_create_interfaces", "2.70")["interfaceAttachment"]
    assert tagged == dict(new, tag="data")
    assert [p["port_id"] for p in _ports(api, sid)] == [boot_port["port_id"], new["port_id"]]
    assert (new["fixed_ips"][0]["ip_address"], new["mac_addr"]) in _addresses(api, sid)
    guest = compute_cloud.driver("host1").instances[sid]
    assert {"mac": new["mac_addr"], "port_id": new["port_id"]} in guest["nics"]
    assert _events(api, sid, "attach_interface") == [("compute_attach_interface", "Success")]

    # At 2.70 the create answer has the tag too; an address asked for is taken.
    resp = api("POST", f"/servers/{sid}/os-interface", version="2.70", body={
        "interfaceAttachment": {"net_id": net_id, "fixed_ips": [{"ip_address": "10.0.0.200"}]}})
    third = tempest_schemas.check(resp, IFACES, "get_create_interfaces",
                                  "2.70")["interfaceAttachment"]
    assert third["fixed_ips"][0]["ip_address"] == "10.0.0.200" and third["tag"] is None
    # That address again is a conflict; the server keeps three ports.
    resp = api("POST", f"/servers/{sid}/os-interface", body={
        "interfaceAttachment": {"net_id": net_id, "fixed_ips": [{"ip_address": "10.0.0.200"}]}})
    assert resp.status_code == 409 and "10.0.0.200" in resp.text
    assert len(_ports(api, sid, "2.70")) == 3

    # Detach: 202, the port, its address and the guest's NIC go.
    resp = api("DELETE", f"/servers/{sid}/os-interface/{new['port_id']}")
    tempest_schemas.check(resp, IFACES, "delete_interface", "2.1")
    assert [p["port_id"] for p in _ports(api, sid)] == [boot_port["port_id"],
                                                         third["port_id"]]
    assert (new["fixed_ips"][0]["ip_address"], new["mac_addr"]) not in _addresses(api, sid)
    assert new["mac_addr"] not in [n["mac"] for n in guest["nics"]]
    assert api("GET", f"/servers/{sid}/os-interface/{new['port_id']}").status_code == 404
    assert api("DELETE", f"/servers/{sid}/os-interface/{new['port_id']}").status_code == 404
    assert _events(api, sid, "detach_interface") == [("compute_detach_interface", "Success")]
    # An empty attachment takes the only network.
    resp = api("POST", f"/servers/{sid}/os-interface", body={"interfaceAttachment": {}})
    assert resp.status_code == 200 and resp.json()["interfaceAttachment"]["net_id"] == net_id


BAD = [
    ("2.1", {"interfaceAttachment": {"net_id": "nope"}}, 400, "net_id"),
    ("2.1", {"interfaceAttachment": {"port_id": 5}}, 400, "port_id"),
    ("2.1", {"interfaceAttachment": {"net_id": "%(net)s", "fixed_ips": [
        {"ip_address": "300.1.1.1"}]}}, 400, "fixed_ips/0/ip_address"),
    ("2.1", {"interfaceAttachment": {"net_id": "%(net)s", "fixed_ips": []}}, 400, "fixed_ips"),
    ("2.1", {"interfaceAttachment": {"fixed_ips": [{"ip_address": "10.0.0.9"}]}}, 400,
     "net_id"),
    ("2.1", {"interfaceAttachment": {"net_id": "%(net)s", "port_id": "%(net)s"}}, 400,
     "port_id"),
    ("2.1", {"interfaceAttachment": {"nic": 1}}, 400, "interfaceAttachment"),
    ("2.1", {"interfaces": {}}, 400, "body"),
    ("2.48", {"interfaceAttachment": {"tag": "t"}}, 400, "tag"),
    ("2.49", {"interfaceAttachment": {"tag": "a/b"}}, 400, "tag"),
    ("2.49", {"interfaceAttachment": {"tag": "x" * 61}}, 400, "tag"),
    ("2.1", {"interfaceAttachment": {"net_id": "%(other)s"}}, 404, "%(other)s"),
    ("2.1", {"interfaceAttachment": {"port_id": "%(other)s"}}, 404, "%(other)s"),
    ("2.1", {"interfaceAttachment": {"net_id": "%(net)s", "fixed_ips": [
        {"ip_address": "192.0.2.7"}]}}, 400, "192.0.2.7"),
]


def _fill(value, names):
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value % names if isinstance(value, str) else value


def test_bad_input_names_the_field_and_changes_nothing(compute_cloud, api, server):
    sid = server
    before = _ports(api, sid, "2.70")
    addresses = _addresses(api, sid)
    names = {"net": before[0]["net_id"], "other": str(uuid.uuid4())}
    for version, body, status, named in BAD:
        resp = api("POST", f"/servers/{sid}/os-interface", version=version,
                   body=_fill(body, names))
        assert resp.status_code == status, (body, resp.text)
        assert (named % names) in resp.json()[
            "badRequest" if status == 400 else "itemNotFound"]["message"], resp.text
    assert _ports(api, sid, "2.70") == before and _addresses(api, sid) == addresses
    resp = api("GET", f"/servers/{sid}/os-interface?foo=1", version="2.102")
    assert resp.status_code == 400 and "foo" in resp.text
    assert api("GET", f"/servers/{sid}/os-interface?foo=1", version="2.101").status_code == 200
    assert api("GET", f"/servers/{uuid.uuid4()}/os-interface").status_code == 404
    assert api("GET", f"/servers/{sid}/os-interface/{uuid.uuid4()}").status_code == 404
    resp = api("POST", f"/servers/{sid}/os-interface", body="{nope",
               headers={"Content-Type": "application/json"})
    assert resp.status_code == 400


def test_a_free_port_attached_by_id_stays_after_detach(compute_cloud, api, server):
    sid = server
    free = compute_cloud.network.create_port(project_id="admin")  # the server's project
    resp = api("POST", f"/servers/{sid}/os-interface",
               body={"interfaceAttachment": {"port_id": free["id"]}})
    attached = tempest_schemas.check(resp, IFACES, "get_create_interfaces",
                                     "2.1")["interfaceAttachment"]
    assert attached["port_id"] == free["id"]
    assert attached["fixed_ips"][0]["ip_address"] == free["fixed_ips"][0]["ip_address"]
    # Bound: another server cannot take it.
    other = _boot(compute_cloud, api, first_image_id(compute_cloud), "other")
    try:
        resp = api("POST", f"/servers/{other}/os-interface",
                   body={"interfaceAttachment": {"port_id": free["id"]}})
        assert resp.status_code == 409 and free["id"] in resp.text
        # and sees no such port of its own
        assert api("GET", f"/servers/{other}/os-interface/{free['id']}").status_code == 404
        assert api("DELETE", f"/servers/{other}/os-interface/{free['id']}").status_code == 404
    finally:
        api("DELETE", f"/servers/{other}")
    assert api("DELETE", f"/servers/{sid}/os-interface/{free['id']}").status_code == 202
    assert compute_cloud.network.get_port(free["id"]) == free  # free again
    wait_for_server(compute_cloud, other, ("DELETED",))


def test_a_port_of_another_project_is_not_usable(compute_cloud, api, server):
    """Nova's 400 (PortNotUsable); the server and the port are as they were.
    The ports an attach makes are the server's project's."""
    sid = server
    before = _ports(api, sid, "2.70")
    addresses = _addresses(api, sid)
    theirs = compute_cloud.network.create_port(project_id="demo")
    for version in ("2.1", "2.70"):
        resp = api("POST", f"/servers/{sid}/os-interface", version=version,
                   body={"interfaceAttachment": {"port_id": theirs["id"]}})
        assert resp.status_code == 400, resp.text
        assert resp.json()["badRequest"]["message"] == (
            f"Port {theirs['id']} not usable for instance {sid}.")
    assert _ports(api, sid, "2.70") == before and _addresses(api, sid) == addresses
    assert compute_cloud.network.get_port(theirs["id"]) == theirs
    guest = compute_cloud.driver("host1").instances[sid]
    assert theirs["mac_address"] not in [n["mac"] for n in guest["nics"]]
    # What the server has, and what an attach makes, is the admin's project's.
    resp = api("POST", f"/servers/{sid}/os-interface", body={"interfaceAttachment": {}})
    assert resp.status_code == 200, resp.text
    made = resp.json()["interfaceAttachment"]["port_id"]
    assert {(p["project_id"], p["tenant_id"]) for p in compute_cloud.network.ports(sid)} == {
        ("admin", "admin")}
    assert api("DELETE", f"/servers/{sid}/os-interface/{made}").status_code == 202


def test_states_and_locks(compute_cloud, api, image_id):
    token = compute_cloud.member_token
    sid = _boot(compute_cloud, api, image_id, "ifstates", token=token)
    try:
        attach = lambda: api("POST", f"/servers/{sid}/os-interface", token=token,  # noqa: E731
                             body={"interfaceAttachment": {}})
        for action, status in (("pause", "PAUSED"), ("unpause", "ACTIVE"),
                               ("os-stop", "SHUTOFF")):
            api("POST", f"/servers/{sid}/action", token=token, body={action: None})
            wait_for_server(compute_cloud, sid, (status,), token=token)
            resp = attach()
            assert resp.status_code == 200, (status, resp.text)
            port = resp.json()["interfaceAttachment"]["port_id"]
            resp = api("DELETE", f"/servers/{sid}/os-interface/{port}", token=token)
            assert resp.status_code == 202, (status, resp.text)
        api("POST", f"/servers/{sid}/action", token=token, body={"os-start": None})
        wait_for_server(compute_cloud, sid, ("ACTIVE",), token=token)
        api("POST", f"/servers/{sid}/action", token=token, body={"suspend": None})
        wait_for_server(compute_cloud, sid, ("SUSPENDED",), token=token)
        before = _ports(api, sid, token=token)
        resp = attach()
        assert resp.status_code == 409
        assert resp.json()["conflictingRequest"]["message"] == (
            f"Cannot 'attach_interface' instance {sid} while it is in vm_state suspended")
        resp = api("DELETE", f"/servers/{sid}/os-interface/{before[0]['port_id']}",
                   token=token)
        assert resp.status_code == 409 and "vm_state suspended" in resp.text
        api("POST", f"/servers/{sid}/action", token=token, body={"resume": None})
        wait_for_server(compute_cloud, sid, ("ACTIVE",), token=token)
        # Locked by the admin: the owner is refused, the admin is not.
        assert api("POST", f"/servers/{sid}/action", body={"lock": None}).status_code == 202
        resp = attach()
        assert resp.status_code == 409 and "locked" in resp.text
        resp = api("DELETE", f"/servers/{sid}/os-interface/{before[0]['port_id']}",
                   token=token)
        assert resp.status_code == 409 and "locked" in resp.text
        assert _ports(api, sid, token=token) == before
        resp = api("POST", f"/servers/{sid}/os-interface", body={"interfaceAttachment": {}})
        assert resp.status_code == 200
        # Another project sees no such server.
        assert api("GET", f"/servers/{sid}/os-interface",
                   token="someone:other").status_code == 404
    finally:
        api("POST", f"/servers/{sid}/action", body={"unlock": None})
        api("DELETE", f"/servers/{sid}")
        wait_for_server(compute_cloud, sid, ("DELETED",))


def test_a_failed_plug_frees_the_port(compute_cloud, api, server):
    sid = server
    before = _ports(api, sid)
    addresses = _addresses(api, sid)
    compute_cloud.inject_fault("host1", "attach_interface", sid, count=1,
                               message="the hypervisor said no")
    resp = api("POST", f"/servers/{sid}/os-interface", body={"interfaceAttachment": {}})
    assert resp.status_code == 500
    assert resp.json()["computeFault"]["message"] == (
        f"Failed to attach network adapter device to {sid}: Virt driver failure: the "
        "hypervisor said no")
    assert _ports(api, sid) == before and _addresses(api, sid) == addresses
    assert _events(api, sid, "attach_interface") == [("compute_attach_interface", "Error")]


def test_a_driver_without_the_capability_is_refused(fresh_compute_cloud):
    cloud = fresh_compute_cloud
    driver = cloud.driver("host1")
    driver.capabilities = dict(driver.capabilities, supports_attach_interface=False)
    cloud.stop_host("host1", mark_down=False)
    cloud.start_host("host1")
    api = lambda m, p, **kw: api_request(cloud, m, p, **kw)  # noqa: E731
    sid = _boot(cloud, api, first_image_id(cloud), "noplug")
    [port] = _ports(api, sid)
    calls = list(driver.calls)
    message = ("the virt driver of its host (FakeDriver) does not support it "
               "(supports_attach_interface is false).")
    resp = api("POST", f"/servers/{sid}/os-interface", body={"interfaceAttachment": {}})
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == \
        f"Cannot 'attach_interface' instance {sid}: {message}"
    resp = api("DELETE", f"/servers/{sid}/os-interface/{port['port_id']}")
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == \
        f"Cannot 'detach_interface' instance {sid}: {message}"
    assert _ports(api, sid) == [port] and driver.calls == calls
    api("DELETE", f"/servers/{sid}")
    wait_for_server(cloud, sid, ("DELETED",))


def test_a_backend_without_ports_is_501(compute_cloud, api, server, monkeypatch):
    from compute_core.network import NetworkBackend

    backend = compute_cloud.network
    for name in ("ports", "get_port", "allocate_port"):
        monkeypatch.setattr(backend, name, getattr(NetworkBackend, name).__get__(backend))
    for method, path, body in (("GET", "", None), ("GET", f"/{uuid.uuid4()}", None),
                               ("POST", "", {"interfaceAttachment": {}})):
        resp = api(method, f"/servers/{server}/os-interface{path}", body=body)
        assert resp.status_code == 501, resp.text
        assert resp.json()["notImplemented"]["message"] == \
            "The network backend FlatNetworkBackend does not manage ports."


def test_a_locked_server_refuses_a_detach_before_looking_for_the_port(compute_cloud, api,
                                                                      image_id):
    token = compute_cloud.member_token
    sid = _boot(compute_cloud, api, image_id, "iflocked", token=token)
    try:
        api("POST", f"/servers/{sid}/action", token=token, body={"lock": None})
        resp = api("DELETE", f"/servers/{sid}/os-interface/{uuid.uuid4()}", token=token)
        assert resp.status_code == 409 and "locked" in resp.text
    finally:
        api("POST", f"/servers/{sid}/action", body={"unlock": None})
        api("DELETE", f"/servers/{sid}")
        wait_for_server(compute_cloud, sid, ("DELETED",))
