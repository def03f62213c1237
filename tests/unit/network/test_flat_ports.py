"""The flat network backend's ports: stable ids per address, one port bound
or freed at a time, free ports made ahead and attached by id."""
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


@pytest.fixture
def backend(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/api.sqlite")
    migration.upgrade(db, "api")
    conf = conf_mod.load(args=[], overrides={"flat_network.cidr": "192.168.7.0/29"})
    yield FlatNetworkBackend(conf, db)
    db.dispose()


def test_boot_addresses_are_ports_with_stable_ids(backend):
    nets = backend.allocate_for_instance(VM1, "auto")
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
    backend.allocate_for_instance(VM1, "auto")
    port = backend.allocate_port(VM1, tag="eth1")
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
    port = backend.allocate_port(VM1, network_id=backend.id, fixed_ip="192.168.7.5")
    assert port["fixed_ips"][0]["ip_address"] == "192.168.7.5"
    with pytest.raises(exception.FixedIpAlreadyInUse, match="192.168.7.5"):
        backend.allocate_port(VM2, fixed_ip="192.168.7.5")
    with pytest.raises(exception.Invalid, match="not in network"):
        backend.allocate_port(VM2, fixed_ip="10.9.9.9")
    other = str(uuid.uuid4())
    with pytest.raises(exception.NetworkNotFound, match=other):
        backend.allocate_port(VM2, network_id=other)
    # /29: .1 is the gateway, .2-.6 are hosts; .5 is taken.
    taken = [backend.allocate_port(VM2)["fixed_ips"][0]["ip_address"] for _ in range(4)]
    assert sorted(taken) == ["192.168.7.2", "192.168.7.3", "192.168.7.4", "192.168.7.6"]
    with pytest.raises(exception.NoMoreFixedIps):
        backend.allocate_port(VM2)
    assert len(backend.ports(VM2)) == 4


def test_a_free_port_is_attached_by_id_and_outlives_its_server(backend):
    free = backend.create_port()
    assert (free["status"], free["device_id"]) == ("DOWN", None)
    bound = backend.allocate_port(VM1, port_id=free["id"], tag="t")
    assert (bound["status"], bound["device_id"], bound["tag"]) == ("ACTIVE", VM1, "t")
    with pytest.raises(exception.PortInUse):
        backend.allocate_port(VM2, port_id=free["id"])
    with pytest.raises(exception.PortNotFound):
        backend.allocate_port(VM2, port_id=str(uuid.uuid4()))
    backend.deallocate_port(VM1, free["id"])
    assert backend.get_port(free["id"]) == free  # free again, same address
    backend.allocate_port(VM2, port_id=free["id"])
    backend.deallocate_for_instance(VM2)
    assert backend.get_port(free["id"]) == free
    assert backend.ports(VM2) == []


# ------------------------------------------------ ports asked for at boot

def _nics(nets):
    return [(e["addr"], e["OS-EXT-IPS-MAC:mac_addr"]) for e in nets["private"]]


def test_a_boot_takes_a_free_port_as_its_nic_and_leaves_it_free(backend):
    free = backend.create_port()
    nets = backend.allocate_for_instance(VM1, [{"port": free["id"], "tag": "data"}])
    assert _nics(nets) == [(free["fixed_ips"][0]["ip_address"], free["mac_address"])]
    [bound] = backend.ports(VM1)
    assert (bound["id"], bound["device_id"], bound["status"], bound["tag"]) == (
        free["id"], VM1, "ACTIVE", "data")
    with pytest.raises(exception.PortInUse, match=free["id"]):
        backend.allocate_for_instance(VM2, [{"port": free["id"]}])
    assert backend.ports(VM2) == []
    backend.deallocate_for_instance(VM1)  # the server is deleted
    assert backend.get_port(free["id"]) == free


def test_one_nic_per_entry_in_the_order_asked(backend):
    free = backend.create_port()
    nets = backend.allocate_for_instance(VM1, [
        {"uuid": backend.id, "tag": "a"}, {"port": free["id"]},
        {"uuid": backend.id, "fixed_ip": "192.168.7.6"}])
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
    free = backend.create_port()
    taken = backend.allocate_port(VM2, fixed_ip="192.168.7.6")
    for requested in ([{"port": free["id"]}, {"uuid": backend.id, "fixed_ip": "192.168.7.6"}],
                      [{"port": free["id"]}, {"port": str(uuid.uuid4())}],
                      [{"uuid": backend.id}, {"uuid": str(uuid.uuid4())}]):
        with pytest.raises((exception.FixedIpAlreadyInUse, exception.PortNotFound,
                            exception.Invalid)):
            backend.allocate_for_instance(VM1, requested)
        assert backend.ports(VM1) == [] and backend.get_port(free["id"]) == free
    assert backend.ports(VM2) == [taken]


def test_a_build_run_again_starts_afresh_once_released(backend):
    """Recovery releases an interrupted build before it runs it again."""
    free = backend.create_port()
    first = backend.allocate_for_instance(VM1, [{"port": free["id"]}, {"uuid": backend.id}])
    backend.deallocate_for_instance(VM1)
    again = backend.allocate_for_instance(VM1, [{"port": free["id"]}, {"uuid": backend.id}])
    assert len(backend.ports(VM1)) == 2 and _nics(first)[0] == _nics(again)[0]
    backend.deallocate_for_instance(VM1)
    assert backend.allocate_for_instance(VM1, "none") == {}
    assert backend.ports(VM1) == [] and backend.get_port(free["id"]) == free


def test_auto_and_none_are_unchanged(backend):
    nets = backend.allocate_for_instance(VM1, "auto")
    assert _nics(nets) == [("192.168.7.2", "fa:16:3e:11:11:11")]
    assert backend.allocate_for_instance(VM2, "none") == {}
    assert backend.allocate_for_instance(VM2, []) == {}
    assert backend.ports(VM2) == []
