"""The flat network backend's ports: stable ids per address, one port bound
or freed at a time, free ports made ahead and attached by id, each of one
project, which only that project's servers may have."""
from __future__ import annotations

import uuid

import pytest

from compute_core import conf as conf_mod
from compute_core import exception
from compute_core.db import migration
from compute_core.db.engines import Database
from compute_core.network import address_entry
from compute_core_plugins.network.flat import FlatNetworkBackend

VM1 = "11111111-0000-4000-8000-000000000001"
VM2 = "11111111-0000-4000-8000-000000000002"
PROJECT = "project-a"


@pytest.fixture
def backend(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/api.sqlite")
    migration.upgrade(db, "api")
    conf = conf_mod.load(args=[], overrides={"flat_network.cidr": "192.168.7.0/29"})
    yield FlatNetworkBackend(conf, db)
    db.dispose()


def test_boot_addresses_are_ports_with_stable_ids(backend):
    nets = backend.allocate_for_instance(VM1, "auto", project_id=PROJECT)
    [entry] = nets["private"]
    [port] = backend.ports(VM1)
    assert port["fixed_ips"] == [{"subnet_id": backend.subnet_id, "ip_address": entry["addr"]}]
    assert port["mac_address"] == entry["OS-EXT-IPS-MAC:mac_addr"]
    assert (port["network_id"], port["status"], port["device_id"]) == (backend.id, "ACTIVE", VM1)
    uuid.UUID(port["id"])
    assert backend.get_port(port["id"]) == port
    assert backend.ports(VM1) == [port]  # the same id every time
    assert address_entry(port) == ("private", entry)


def test_allocate_and_deallocate_one_port(backend):
    backend.allocate_for_instance(VM1, "auto", project_id=PROJECT)
    port = backend.allocate_port(VM1, tag="eth1", project_id=PROJECT)
    assert port["tag"] == "eth1" and port["device_id"] == VM1
    assert [p["id"] for p in backend.ports(VM1)][1] == port["id"]
    first = backend.ports(VM1)[0]
    assert port["mac_address"] != first["mac_address"]
    backend.deallocate_port(VM1, port["id"])
    assert backend.ports(VM1) == [first]
    with pytest.raises(exception.PortNotFound):
        backend.get_port(port["id"])
    with pytest.raises(exception.PortNotFound):
        backend.deallocate_port(VM1, port["id"])
    with pytest.raises(exception.PortNotFound):  # not a port of VM2
        backend.deallocate_port(VM2, first["id"])
    assert backend.ports(VM1) == [first]


def test_requested_address_network_and_exhaustion(backend):
    port = backend.allocate_port(VM1, network_id=backend.id, fixed_ip="192.168.7.5",
                                 project_id=PROJECT)
    assert port["fixed_ips"][0]["ip_address"] == "192.168.7.5"
    with pytest.raises(exception.FixedIpAlreadyInUse, match="192.168.7.5"):
        backend.allocate_port(VM2, fixed_ip="192.168.7.5", project_id=PROJECT)
    with pytest.raises(exception.Invalid, match="not in network"):
        backend.allocate_port(VM2, fixed_ip="10.9.9.9", project_id=PROJECT)
    other = str(uuid.uuid4())
    with pytest.raises(exception.NetworkNotFound, match=other):
        backend.allocate_port(VM2, network_id=other, project_id=PROJECT)
    # /29: .1 is the gateway, .2-.6 are hosts; .5 is taken.
    taken = [backend.allocate_port(VM2, project_id=PROJECT)["fixed_ips"][0]["ip_address"]
             for _ in range(4)]
    assert sorted(taken) == ["192.168.7.2", "192.168.7.3", "192.168.7.4", "192.168.7.6"]
    with pytest.raises(exception.NoMoreFixedIps):
        backend.allocate_port(VM2, project_id=PROJECT)
    assert len(backend.ports(VM2)) == 4


def test_a_free_port_is_attached_by_id_and_outlives_its_server(backend):
    free = backend.create_port(project_id=PROJECT)
    assert (free["status"], free["device_id"]) == ("DOWN", None)
    bound = backend.allocate_port(VM1, port_id=free["id"], tag="t", project_id=PROJECT)
    assert (bound["status"], bound["device_id"], bound["tag"]) == ("ACTIVE", VM1, "t")
    with pytest.raises(exception.PortInUse):
        backend.allocate_port(VM2, port_id=free["id"], project_id=PROJECT)
    with pytest.raises(exception.PortNotFound):
        backend.allocate_port(VM2, port_id=str(uuid.uuid4()), project_id=PROJECT)
    backend.deallocate_port(VM1, free["id"])
    assert backend.get_port(free["id"]) == free  # free again, same address
    backend.allocate_port(VM2, port_id=free["id"], project_id=PROJECT)
    backend.deallocate_for_instance(VM2)
    assert backend.get_port(free["id"]) == free
    assert backend.ports(VM2) == []


# ------------------------------------------------ ports asked for at boot

def _nics(nets):
    return [(e["addr"], e["OS-EXT-IPS-MAC:mac_addr"]) for e in nets["private"]]


def test_a_boot_takes_a_free_port_as_its_nic_and_leaves_it_free(backend):
    free = backend.create_port(project_id=PROJECT)
    nets = backend.allocate_for_instance(VM1, [{"port": free["id"], "tag": "data"}],
                                         project_id=PROJECT)
    assert _nics(nets) == [(free["fixed_ips"][0]["ip_address"], free["mac_address"])]
    [bound] = backend.ports(VM1)
    assert (bound["id"], bound["device_id"], bound["status"], bound["tag"]) == (
        free["id"], VM1, "ACTIVE", "data")
    with pytest.raises(exception.PortInUse, match=free["id"]):
        backend.allocate_for_instance(VM2, [{"port": free["id"]}], project_id=PROJECT)
    assert backend.ports(VM2) == []
    backend.deallocate_for_instance(VM1)  # the server is deleted
    assert backend.get_port(free["id"]) == free


def test_one_nic_per_entry_in_the_order_asked(backend):
    free = backend.create_port(project_id=PROJECT)
    nets = backend.allocate_for_instance(VM1, [
        {"uuid": backend.id, "tag": "a"}, {"port": free["id"]},
        {"uuid": backend.id, "fixed_ip": "192.168.7.6"}], project_id=PROJECT)
    nics = _nics(nets)
    assert [ip for ip, _ in nics] == ["192.168.7.3", free["fixed_ips"][0]["ip_address"],
                                      "192.168.7.6"]
    # The first NIC's MAC is the instance's, as before; every MAC differs.
    assert nics[0][1] == "fa:16:3e:11:11:11" and len({mac for _, mac in nics}) == 3
    ports = {p["fixed_ips"][0]["ip_address"]: p for p in backend.ports(VM1)}
    assert ports["192.168.7.3"]["tag"] == "a" and len(ports) == 3
    # Deleting the server frees the user's port and drops the two it made.
    backend.deallocate_for_instance(VM1)
    assert backend.ports(VM1) == [] and backend.get_port(free["id"]) == free
    made = [p["id"] for ip, p in ports.items() if p["id"] != free["id"]]
    for port_id in made:
        with pytest.raises(exception.PortNotFound):
            backend.get_port(port_id)


def test_a_failed_boot_allocation_takes_nothing(backend):
    free = backend.create_port(project_id=PROJECT)
    taken = backend.allocate_port(VM2, fixed_ip="192.168.7.6", project_id=PROJECT)
    for requested in ([{"port": free["id"]}, {"uuid": backend.id, "fixed_ip": "192.168.7.6"}],
                      [{"port": free["id"]}, {"port": str(uuid.uuid4())}],
                      [{"uuid": backend.id}, {"uuid": str(uuid.uuid4())}]):
        with pytest.raises((exception.FixedIpAlreadyInUse, exception.PortNotFound,
                            exception.Invalid)):
            backend.allocate_for_instance(VM1, requested, project_id=PROJECT)
        assert backend.ports(VM1) == [] and backend.get_port(free["id"]) == free
    assert backend.ports(VM2) == [taken]


def test_a_build_run_again_starts_afresh_once_released(backend):
    """Recovery releases an interrupted build before it runs it again."""
    free = backend.create_port(project_id=PROJECT)
    asked = [{"port": free["id"]}, {"uuid": backend.id}]
    first = backend.allocate_for_instance(VM1, asked, project_id=PROJECT)
    backend.deallocate_for_instance(VM1)
    again = backend.allocate_for_instance(VM1, asked, project_id=PROJECT)
    assert len(backend.ports(VM1)) == 2 and _nics(first)[0] == _nics(again)[0]
    backend.deallocate_for_instance(VM1)
    assert backend.allocate_for_instance(VM1, "none", project_id=PROJECT) == {}
    assert backend.ports(VM1) == [] and backend.get_port(free["id"]) == free


def test_auto_and_none_are_unchanged(backend):
    nets = backend.allocate_for_instance(VM1, "auto", project_id=PROJECT)
    assert _nics(nets) == [("192.168.7.2", "fa:16:3e:11:11:11")]
    assert backend.allocate_for_instance(VM2, "none", project_id=PROJECT) == {}
    assert backend.allocate_for_instance(VM2, [], project_id=PROJECT) == {}
    assert backend.ports(VM2) == []


# ------------------------------------------------------- owning projects

def test_every_port_has_its_project_as_neutron_shows_it(backend):
    free = backend.create_port(project_id="project-b")
    assert (free["project_id"], free["tenant_id"]) == ("project-b", "project-b")
    backend.allocate_for_instance(VM1, [{"uuid": backend.id}, {"uuid": backend.id}],
                                  project_id=PROJECT)
    backend.allocate_port(VM1, project_id=PROJECT)
    made = backend.ports(VM1)
    assert len(made) == 3
    assert {(p["project_id"], p["tenant_id"]) for p in made} == {(PROJECT, PROJECT)}
    # Bound and freed again, a port keeps its project.
    backend.allocate_port(VM2, port_id=free["id"], project_id="project-b")
    assert backend.get_port(free["id"])["project_id"] == "project-b"
    backend.deallocate_for_instance(VM2)
    assert backend.get_port(free["id"]) == free


def test_a_port_of_another_project_is_not_usable_and_nothing_is_taken(backend):
    theirs = backend.create_port(project_id="project-b")
    message = f"Port {theirs['id']} not usable for instance {VM1}."
    for requested in ([{"port": theirs["id"]}],
                      [{"uuid": backend.id}, {"port": theirs["id"]}]):
        with pytest.raises(exception.PortNotUsable) as exc:
            backend.allocate_for_instance(VM1, requested, project_id=PROJECT)
        assert exc.value.message == message and exc.value.code == 400
        assert backend.ports(VM1) == [] and backend.get_port(theirs["id"]) == theirs
    backend.allocate_for_instance(VM1, "auto", project_id=PROJECT)
    before = backend.ports(VM1)
    with pytest.raises(exception.PortNotUsable, match=message):
        backend.allocate_port(VM1, port_id=theirs["id"], project_id=PROJECT)
    assert backend.ports(VM1) == before and backend.get_port(theirs["id"]) == theirs
    # Its own project's server takes it.
    backend.allocate_port(VM2, port_id=theirs["id"], project_id="project-b")
    assert backend.get_port(theirs["id"])["device_id"] == VM2


def test_another_project_s_port_bound_elsewhere_is_not_usable_first(backend):
    """Nova checks the owner before whether the port is in use."""
    theirs = backend.create_port(project_id="project-b")
    backend.allocate_port(VM2, port_id=theirs["id"], project_id="project-b")
    with pytest.raises(exception.PortNotUsable):
        backend.allocate_port(VM1, port_id=theirs["id"], project_id=PROJECT)


def test_a_port_free_before_ports_had_owners_serves_any_project(backend):
    """A free port the 0005 migration found has no project: any project's
    server may have it, as before."""
    legacy = backend.create_port(project_id=PROJECT)
    with backend.api_db.begin() as conn:
        conn.exec_driver_sql("UPDATE fixed_ips SET project_id = NULL")
    legacy = backend.get_port(legacy["id"])
    assert (legacy["project_id"], legacy["tenant_id"]) == (None, None)
    backend.allocate_for_instance(VM1, [{"port": legacy["id"]}], project_id="project-b")
    backend.deallocate_for_instance(VM1)
    backend.allocate_port(VM2, port_id=legacy["id"], project_id="project-c")
    assert backend.get_port(legacy["id"])["project_id"] is None
