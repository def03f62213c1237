"""POST /servers with networks naming a port, through the HTTP API, as Nova
34 with Neutron answers: the free port (made with the network backend's
create_port, or left free by an os-interface detach) becomes the server's
NIC, beside NICs on networks; it is unbound, not deleted, when the server
or the interface goes, and is free again as soon as the boot fails for
good. Requests Nova refuses change nothing."""
from __future__ import annotations

import re
import time
import uuid

import pytest

from compute_core.db import api_db, cell_db
from compute_core.testing import api_request, first_image_id, wait_for_server

# The projects of the admin's token (what api() sends) and the member's.
ADMIN, DEMO = "admin", "demo"


def _boot(api, image_id, networks, version="2.52", expect=202, token=None, **server):
    resp = api("POST", "/servers", version=version, token=token, body={"server": {
        "name": server.pop("name", "ported"), "imageRef": image_id, "flavorRef": "1",
        "networks": networks, **server}})
    assert resp.status_code == expect, resp.text
    return resp.json()["server"]["id"] if expect == 202 else resp.json()


def _delete(cloud, api, sid):
    api("DELETE", f"/servers/{sid}")
    wait_for_server(cloud, sid, ("DELETED",))


def _nics(server):
    return [(a["addr"], a["OS-EXT-IPS-MAC:mac_addr"]) for net in server["addresses"].values()
            for a in net]


def _ip(port):
    return port["fixed_ips"][0]["ip_address"]


@pytest.fixture
def free_port(compute_cloud):
    return compute_cloud.network.create_port(project_id=ADMIN)


@pytest.fixture
def net_id(compute_cloud):
    return compute_cloud.network.networks()[0]["id"]


def test_a_port_and_a_network_make_two_nics(compute_cloud, api, image_id, free_port, net_id):
    sid = _boot(api, image_id, [{"port": free_port["id"], "tag": "data"}, {"uuid": net_id}])
    server = wait_for_server(compute_cloud, sid)
    assert server["status"] == "ACTIVE"
    nics = _nics(server)
    assert nics[0] == (_ip(free_port), free_port["mac_address"]) and len(nics) == 2
    # os-interface shows the port as the server's, bound, with its tag (2.70).
    ifaces = api("GET", f"/servers/{sid}/os-interface", version="2.70").json()[
        "interfaceAttachments"]
    mine = {i["port_id"]: i for i in ifaces}
    assert set(mine) >= {free_port["id"]} and len(mine) == 2
    assert mine[free_port["id"]] == {
        "port_id": free_port["id"], "net_id": net_id, "mac_addr": free_port["mac_address"],
        "port_state": "ACTIVE", "tag": "data",
        "fixed_ips": [{"subnet_id": free_port["fixed_ips"][0]["subnet_id"],
                       "ip_address": _ip(free_port)}]}
    # The virt driver got both NICs, the port's MAC first.
    guest = compute_cloud.driver("host1").instances[sid]
    assert [n["mac"] for n in guest["nics"]] == [mac for _, mac in nics]
    [made] = [p for p in mine if p != free_port["id"]]

    # Bound: another boot with it is Nova's 409, and makes no server.
    before = api("GET", "/servers").json()["servers"]
    body = _boot(api, image_id, [{"port": free_port["id"]}], expect=409)
    assert body["conflictingRequest"]["message"] == f"Port {free_port['id']} is still in use."
    assert api("GET", "/servers").json()["servers"] == before

    # Deleted: the user's port is free again, as it was; the other is gone.
    _delete(compute_cloud, api, sid)
    assert compute_cloud.network.get_port(free_port["id"]) == free_port
    assert compute_cloud.network.ports(sid) == []
    with pytest.raises(Exception, match=made):
        compute_cloud.network.get_port(made)


def test_before_2_37_and_at_2_1(compute_cloud, api, image_id, free_port):
    sid = _boot(api, image_id, [{"port": free_port["id"]}], version="2.1")
    assert _nics(wait_for_server(compute_cloud, sid)) == [(_ip(free_port),
                                                            free_port["mac_address"])]
    _delete(compute_cloud, api, sid)
    assert compute_cloud.network.get_port(free_port["id"]) == free_port


def test_refused_as_nova_refuses(compute_cloud, api, image_id, free_port, net_id):
    missing = str(uuid.uuid4())
    port = free_port["id"]
    cases = [
        ({"networks": [{"port": missing}]}, f"Port id {missing} could not be found."),
        ({"networks": [{"port": port}, {"uuid": net_id}, {"port": port}]},
         f"Port ID '{port}' was specified twice: you cannot attach a port multiple times."),
        ({"networks": [{"port": port, "fixed_ip": "10.0.0.240"}]},
         f"Specified Fixed IP '10.0.0.240' cannot be used with port '{port}': the two "
         f"cannot be specified together."),
        ({"networks": [{"port": port}], "max_count": 2},
         "Failed to launch instances: Unable to launch multiple instances with a single "
         "configured port ID. Please launch your instance one by one with different ports."),
        ({"networks": [{"port": port}], "min_count": 2},
         "Failed to launch instances: Unable to launch multiple instances with a single "
         "configured port ID. Please launch your instance one by one with different ports."),
        ({"networks": [{"uuid": net_id, "fixed_ip": "10.0.0.240"}], "max_count": 2},
         "Failed to launch instances: max_count cannot be greater than 1 if an fixed_ip is "
         "specified."),
        ({"networks": [{"port": "nope"}]}, "networks"),
        ({"networks": [{"port": port, "tag": "a/b"}]}, "tag"),
    ]
    before = api("GET", "/servers").json()["servers"]
    for server, message in cases:
        networks = server.pop("networks")
        body = _boot(api, image_id, networks, expect=400, **server)
        assert message in body["badRequest"]["message"], (networks, body)
    assert api("GET", "/servers").json()["servers"] == before
    assert compute_cloud.network.get_port(port) == free_port


def _all_servers(api):
    return api("GET", "/servers?all_tenants=1").json()["servers"]


def test_a_port_of_another_project_is_not_usable(compute_cloud, api, image_id, net_id):
    """Nova's PortNotUsable (400), before anything is recorded; the
    owner's servers boot on it, and the ports a boot makes are its
    server's project's."""
    demo = compute_cloud.member_token
    theirs = compute_cloud.network.create_port(project_id=DEMO)
    assert (theirs["project_id"], theirs["tenant_id"]) == (DEMO, DEMO)
    before = _all_servers(api)
    for networks in ([{"port": theirs["id"]}], [{"uuid": net_id}, {"port": theirs["id"]}]):
        body = _boot(api, image_id, networks, expect=400)
        message = body["badRequest"]["message"]
        assert re.fullmatch(rf"Port {theirs['id']} not usable for instance "
                            r"[0-9a-f]{8}-[0-9a-f-]{27}\.", message), message
    assert _all_servers(api) == before
    assert compute_cloud.network.get_port(theirs["id"]) == theirs

    sid = _boot(api, image_id, [{"port": theirs["id"]}, {"uuid": net_id}], token=demo)
    assert wait_for_server(compute_cloud, sid, token=demo)["status"] == "ACTIVE"
    ports = compute_cloud.network.ports(sid)
    assert [p["id"] for p in ports][0] == theirs["id"] and len(ports) == 2
    assert {(p["project_id"], p["tenant_id"]) for p in ports} == {(DEMO, DEMO)}
    # Bound to the owner's server: the admin's boot is the in-use 409 first.
    body = _boot(api, image_id, [{"port": theirs["id"]}], expect=409)
    assert body["conflictingRequest"]["message"] == f"Port {theirs['id']} is still in use."
    api("DELETE", f"/servers/{sid}", token=demo)
    wait_for_server(compute_cloud, sid, ("DELETED",), token=demo)
    assert compute_cloud.network.get_port(theirs["id"]) == theirs


def test_a_port_of_another_project_is_refused_at_2_1(compute_cloud, api, image_id):
    theirs = compute_cloud.network.create_port(project_id=DEMO)
    before = _all_servers(api)
    body = _boot(api, image_id, [{"port": theirs["id"]}], version="2.1", expect=400)
    assert "not usable for instance" in body["badRequest"]["message"]
    assert _all_servers(api) == before
    assert compute_cloud.network.get_port(theirs["id"]) == theirs


def test_a_port_freed_by_a_detach_boots_another_server(compute_cloud, api, image_id,
                                                       free_port):
    first = _boot(api, image_id, [{"port": free_port["id"]}], name="first")
    wait_for_server(compute_cloud, first)
    second = _boot(api, image_id, "auto", name="second")
    wait_for_server(compute_cloud, second)
    try:
        # A port the user brought is unbound by a detach, not deleted.
        resp = api("DELETE", f"/servers/{first}/os-interface/{free_port['id']}")
        assert resp.status_code == 202
        assert compute_cloud.network.get_port(free_port["id"]) == free_port
        assert wait_for_server(compute_cloud, first)["addresses"] == {}
        # Attached to a running server and detached again, still the same port.
        resp = api("POST", f"/servers/{second}/os-interface",
                   body={"interfaceAttachment": {"port_id": free_port["id"]}})
        assert resp.status_code == 200, resp.text
        assert api("DELETE", f"/servers/{second}/os-interface/"
                             f"{free_port['id']}").status_code == 202
        third = _boot(api, image_id, [{"port": free_port["id"]}], name="third")
        assert _nics(wait_for_server(compute_cloud, third)) == [
            (_ip(free_port), free_port["mac_address"])]
        _delete(compute_cloud, api, third)
    finally:
        _delete(compute_cloud, api, first)
        _delete(compute_cloud, api, second)
    assert compute_cloud.network.get_port(free_port["id"]) == free_port


def test_a_boot_with_no_valid_host_leaves_the_port_free(compute_cloud, api, image_id,
                                                        free_port):
    flavor = api("POST", "/flavors", body={"flavor": {
        "name": f"huge-{uuid.uuid4().hex[:6]}", "ram": 10 ** 7, "vcpus": 1,
        "disk": 1}}).json()["flavor"]["id"]
    try:
        sid = _boot(api, image_id, [{"port": free_port["id"]}], flavorRef=flavor)
        server = wait_for_server(compute_cloud, sid)
        assert server["status"] == "ERROR"
        assert server["fault"]["message"].startswith("No valid host was found")
        assert compute_cloud.network.get_port(free_port["id"]) == free_port
        # Free: another server may take it at once.
        other = _boot(api, image_id, [{"port": free_port["id"]}], name="next")
        assert wait_for_server(compute_cloud, other)["status"] == "ACTIVE"
        _delete(compute_cloud, api, sid)
        _delete(compute_cloud, api, other)
    finally:
        api("DELETE", f"/flavors/{flavor}")
    assert compute_cloud.network.get_port(free_port["id"]) == free_port


def test_a_nic_that_cannot_be_made_frees_the_port(compute_cloud, api, image_id, free_port,
                                                  net_id):
    """The port is bound, then the next NIC's address is taken meanwhile:
    the build fails (ERROR, its fault says why) and the port is free."""
    holder = _boot(api, image_id, [{"uuid": net_id, "fixed_ip": "10.0.0.241"}],
                   name="holder")
    wait_for_server(compute_cloud, holder)
    sid = _boot(api, image_id, [{"port": free_port["id"]},
                                {"uuid": net_id, "fixed_ip": "10.0.0.241"}])
    server = wait_for_server(compute_cloud, sid)
    assert server["status"] == "ERROR" and "10.0.0.241" in server["fault"]["message"]
    assert compute_cloud.network.get_port(free_port["id"]) == free_port
    _delete(compute_cloud, api, sid)
    _delete(compute_cloud, api, holder)


def _given_back(cloud, api, sid, port, made):
    """The ERROR server *sid* has no ports or addresses left: *port* (the
    user's) is free as it was, the ports in *made* are deleted."""
    assert cloud.network.get_port(port["id"]) == port
    assert cloud.network.ports(sid) == []
    for port_id in made:
        with pytest.raises(Exception, match=port_id):
            cloud.network.get_port(port_id)
    assert api("GET", f"/servers/{sid}").json()["server"]["addresses"] == {}
    assert api("GET", f"/servers/{sid}/ips").json()["addresses"] == {}


def _reboot_on(cloud, api, image_id, port):
    """Another server boots on the freed *port* (then goes)."""
    other = _boot(api, image_id, [{"port": port["id"]}], name="next")
    assert _nics(wait_for_server(cloud, other)) == [(_ip(port), port["mac_address"])]
    _delete(cloud, api, other)
    assert cloud.network.get_port(port["id"]) == port


def _made_ports(cloud, sid, port, nics=2):
    """The ids of the ports the build of *sid* made beside the user's
    *port*, read once its *nics* ports are bound."""
    deadline = time.monotonic() + 20
    while True:
        ports = [p["id"] for p in cloud.network.ports(sid)]
        if len(ports) == nics:
            assert port["id"] in ports
            return [p for p in ports if p != port["id"]]
        assert time.monotonic() < deadline, "the build never bound the port"
        time.sleep(0.01)


def test_a_failed_spawn_gives_the_port_back_at_once(compute_cloud, api, image_id, free_port,
                                                    net_id):
    """The host fails the build for good (no host left to try): as Nova,
    the user's port is unbound before the server shows ERROR, the port the
    boot made is deleted, and the server has no addresses."""
    compute_cloud.set_spawn_delay("host1", 0.3)  # time to see the ports bound
    try:
        sid = _boot(api, image_id, [{"port": free_port["id"]}, {"uuid": net_id}],
                    metadata={"fake_fail": "spawn"})
        made = _made_ports(compute_cloud, sid, free_port)
        assert len(made) == 1
        server = wait_for_server(compute_cloud, sid)
    finally:
        compute_cloud.set_spawn_delay("host1", 0)
    assert server["status"] == "ERROR" and "spawn" in server["fault"]["message"]
    _given_back(compute_cloud, api, sid, free_port, made)
    assert api("GET", f"/servers/{sid}/os-interface").json()["interfaceAttachments"] == []
    _reboot_on(compute_cloud, api, image_id, free_port)
    _delete(compute_cloud, api, sid)
    assert compute_cloud.network.get_port(free_port["id"]) == free_port


@pytest.mark.compute_cloud_hosts(2)
def test_reschedules_that_run_out_give_the_port_back(fresh_compute_cloud, monkeypatch):
    """The spawn fails on the first host, and no alternate can be claimed:
    the conductor sets ERROR (Nova's "Exceeded maximum number of retries")
    and the port is free at once."""
    cloud = fresh_compute_cloud
    api = lambda m, p, **kw: api_request(cloud, m, p, **kw)  # noqa: E731
    image_id = first_image_id(cloud)
    free = cloud.network.create_port(project_id=ADMIN)
    conductor = next(b.service.endpoints[0] for b in cloud._services
                     if b.service.name == "compute-conductor")
    claims = []
    monkeypatch.setattr(conductor.placement, "claim",
                        lambda *args: claims.append(args[0]) and False)
    for host in ("host1", "host2"):
        cloud.set_spawn_delay(host, 0.3)
    net_id = cloud.network.networks()[0]["id"]
    sid = _boot(api, image_id, [{"port": free["id"]}, {"uuid": net_id}],
                metadata={"fake_fail": "spawn"})
    made = _made_ports(cloud, sid, free)
    server = wait_for_server(cloud, sid)
    assert server["status"] == "ERROR", server
    assert server["fault"]["message"] == \
        "Exceeded maximum number of retries. No valid host was found."
    assert claims == [sid]  # the alternate, refused
    _given_back(cloud, api, sid, free, made)
    monkeypatch.undo()
    for host in ("host1", "host2"):
        cloud.set_spawn_delay(host, 0)
    _reboot_on(cloud, api, image_id, free)
    _delete(cloud, api, sid)


def test_a_build_stopped_before_mapping_gives_the_port_back_when_deleted(
        fresh_compute_cloud, monkeypatch):
    """The conductor stops after binding the port and writing the cell row,
    before mapping it (a process killed there): deleting that server frees
    the port."""
    cloud = fresh_compute_cloud

    def killed(db, uuid, cell_id):
        raise SystemExit("conductor killed")

    monkeypatch.setattr(api_db, "finish_build", killed)
    free = cloud.network.create_port(project_id=ADMIN)
    resp = api_request(cloud, "POST", "/servers", body={"server": {
        "name": "half", "imageRef": first_image_id(cloud), "flavorRef": "1",
        "networks": [{"port": free["id"]}]}})
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    _, db = cloud._api.cells.for_host("host1")
    deadline = time.monotonic() + 20
    while not cell_db.list_instances(db, {"uuid": sid}):
        assert time.monotonic() < deadline, "cell row not written"
        time.sleep(0.05)
    assert cloud.network.get_port(free["id"])["device_id"] == sid
    assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 204
    assert cloud.network.get_port(free["id"]) == free
