"""The networks of POST /servers as Nova 34 checks them: a port named once,
never with a fixed IP, not for several servers, existing (400) and free
(409); network entries as before."""
from __future__ import annotations

import types
import uuid

import pytest

from compute_core import exception
from compute_core.api import schemas
from compute_core.api.faults import APIError
from compute_core.api.microversion import APIVersion
from compute_core.api.resources import servers
from compute_core.network import NetworkBackend

NET = "5b0b7d6f-0000-4000-8000-00000000000a"
FREE = "5b0b7d6f-0000-4000-8000-0000000000f1"
BOUND = "5b0b7d6f-0000-4000-8000-0000000000b1"


class Backend:
    def networks(self):
        return [{"id": NET, "name": "private", "cidr": "10.0.0.0/24"}]

    def get_port(self, port_id):
        if port_id == FREE:
            return {"id": FREE, "device_id": None}
        if port_id == BOUND:
            return {"id": BOUND, "device_id": str(uuid.uuid4())}
        raise exception.PortNotFound(port_id=port_id)


def call(backend=None):
    return types.SimpleNamespace(services=types.SimpleNamespace(network=backend or Backend()))


def refused(fn, *args):
    with pytest.raises(APIError) as err:
        fn(*args)
    return err.value.code, err.value.message


def test_ports_and_networks_in_the_order_asked():
    asked = [{"port": FREE, "tag": "a"}, {"uuid": NET, "fixed_ip": "10.0.0.9"},
             {"port": None, "uuid": NET}, {"port": BOUND.replace("b1", "c1"), "uuid": NET}]
    assert servers._networks(call(), asked) == [
        {"port": FREE, "tag": "a"}, {"uuid": NET, "fixed_ip": "10.0.0.9", "tag": None},
        {"uuid": NET, "fixed_ip": None, "tag": None},
        # A network beside a port is the port's: ignored, as Nova does.
        {"port": BOUND.replace("b1", "c1"), "tag": None}]
    assert servers._networks(call(), "auto") == "auto"
    assert servers._networks(call(), None) == "auto"


@pytest.mark.parametrize("asked, message", [
    ([{"port": FREE}, {"uuid": NET}, {"port": FREE}],
     f"Port ID '{FREE}' was specified twice: you cannot attach a port multiple times."),
    ([{"port": FREE, "fixed_ip": "10.0.0.4"}],
     f"Specified Fixed IP '10.0.0.4' cannot be used with port '{FREE}': the two cannot be "
     f"specified together."),
    ([{"port": None}], "Bad network format: missing 'uuid'"),
    ([{"uuid": "nope"}], "Bad networks format: network uuid is not in proper format (nope)"),
])
def test_the_request_itself(asked, message):
    assert refused(servers._networks, call(), asked) == (400, message)


def test_several_servers():
    servers._check_count([{"port": FREE}], 1)
    servers._check_count("auto", 5)
    servers._check_count([{"uuid": NET}], 5)
    assert refused(servers._check_count, [{"uuid": NET}, {"port": FREE}], 2) == (
        400, "Failed to launch instances: Unable to launch multiple instances with a single "
             "configured port ID. Please launch your instance one by one with different "
             "ports.")
    # A fixed IP is Nova's first complaint.
    assert refused(servers._check_count, [{"port": FREE}, {"uuid": NET, "fixed_ip": "10.0.0.5"}],
                   3) == (400, "Failed to launch instances: max_count cannot be greater "
                               "than 1 if an fixed_ip is specified.")


def test_the_port_exists_and_is_free():
    servers._check_ports(call(), [{"uuid": NET}, {"port": FREE}])
    servers._check_ports(call(), "none")
    missing = str(uuid.uuid4())
    assert refused(servers._check_ports, call(), [{"port": FREE}, {"port": missing}]) == (
        400, f"Port id {missing} could not be found.")
    assert refused(servers._check_ports, call(), [{"port": BOUND}]) == (
        409, f"Port {BOUND} is still in use.")


def test_a_backend_without_ports_refuses_them():
    class Addresses(NetworkBackend):
        networks = Backend.networks
        allocate_for_instance = deallocate_for_instance = None

    backend = Addresses(None, None)
    servers._check_ports(call(backend), [{"uuid": NET}])
    assert refused(servers._check_ports, call(backend), [{"port": FREE}]) == (
        400, "Ports are not supported by this cloud's network backend.")


@pytest.mark.parametrize("version, tag_taken", [
    ("2.1", False), ("2.31", False), ("2.32", True), ("2.36", True), ("2.37", False),
    ("2.41", False), ("2.42", True), ("2.104", True)])
def test_a_nic_tag_where_nova_s_schemas_take_it(version, tag_taken):
    schema = servers.CREATE.at(APIVersion(version))

    def body(**nic):
        return {"server": {"name": "a", "flavorRef": "1", "networks": [nic]}}

    schemas.validate(body(port=FREE), schema)
    schemas.validate(body(port=None, uuid=NET), schema)
    if tag_taken:
        schemas.validate(body(port=FREE, tag="eth1"), schema)
        for bad in ("a/b", "", "x" * 61):
            with pytest.raises(APIError, match="tag"):
                schemas.validate(body(port=FREE, tag=bad), schema)
    else:
        with pytest.raises(APIError, match="tag"):
            schemas.validate(body(port=FREE, tag="eth1"), schema)
    with pytest.raises(APIError, match="port"):
        schemas.validate(body(port="nope"), schema)
    if APIVersion(version) >= "2.37":
        with pytest.raises(APIError, match="networks"):
            schemas.validate(body(uuid="nope"), schema)
    else:
        schemas.validate(body(uuid="nope"), schema)  # the handler's 400 then
