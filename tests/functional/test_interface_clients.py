"""os-interface, and boots naming a port, driven by the clients: openstacksdk
(create_server_interface, server_interfaces, get_server_interface,
delete_server_interface, create_server with networks=[{"port": id}]) and
novaclient's nova interface-list, interface-attach, interface-detach and
boot --nic port-id= (which need Keystone: the cloud runs its identity
endpoint); OpenStackClient's --port, which needs a network service."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from compute_core import Cloud
from compute_core.testing import first_image_id

openstack = pytest.importorskip("openstack", reason="openstacksdk is not installed")


@pytest.fixture(scope="module")
def keystone_cloud(tmp_path_factory):
    with Cloud(auth="keystone", state_dir=str(tmp_path_factory.mktemp("ifclients"))) as cloud:
        yield cloud


@pytest.fixture
def sdk_server(keystone_cloud):
    conn = keystone_cloud.connection()
    server = conn.compute.create_server(name="if-sdk", image_id=first_image_id(keystone_cloud),
                                        flavor_id="1", networks="auto")
    server = conn.compute.wait_for_server(server, wait=60)
    yield conn, server
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=60)
    conn.close()


def _project_id(cloud, name):
    """The Keystone id of the project *name* (what a server of it records)."""
    return cloud.identity.project(name=name)["id"]


def _demo_port(cloud):
    """A free port of the project demo (the clients' project here)."""
    return cloud.network.create_port(project_id=_project_id(cloud, "demo"))


def _ids(conn, server):
    return [i.port_id for i in conn.compute.server_interfaces(server)]


def test_openstacksdk_attach_list_show_detach(sdk_server):
    conn, server = sdk_server
    [boot] = list(conn.compute.server_interfaces(server))
    attached = conn.compute.create_server_interface(server, net_id=boot.net_id,
                                                    fixed_ips=[{"ip_address": "10.0.0.77"}])
    assert attached.fixed_ips[0]["ip_address"] == "10.0.0.77"
    assert attached.port_state == "ACTIVE" and attached.mac_addr != boot.mac_addr
    assert _ids(conn, server) == [boot.port_id, attached.port_id]
    shown = conn.compute.get_server_interface(attached.port_id, server=server)
    assert (shown.net_id, shown.fixed_ips) == (boot.net_id, attached.fixed_ips)
    addresses = conn.compute.get_server(server).addresses
    assert "10.0.0.77" in [a["addr"] for net in addresses.values() for a in net]
    conn.compute.delete_server_interface(attached.port_id, server=server)
    assert _ids(conn, server) == [boot.port_id]
    with pytest.raises(openstack.exceptions.NotFoundException):
        conn.compute.get_server_interface(attached.port_id, server=server)


def _nova_env(cloud):
    """The environment of novaclient's nova as the user demo (Keystone)."""
    auth = cloud._password_auth("demo", None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_URL=auth["auth_url"], OS_USERNAME=auth["username"],
               OS_PASSWORD=auth["password"], OS_PROJECT_NAME=auth["project_name"],
               OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
    return env


def _nova(env):
    """nova(*args, ok=True): run nova, check it succeeded (or failed), and
    return what it printed."""
    def nova(*args, ok=True):
        done = subprocess.run(["nova", *args], env=env, capture_output=True, text=True,
                              timeout=120)
        assert (done.returncode == 0) == ok, (args, done.stdout, done.stderr)
        return done.stdout if ok else done.stdout + done.stderr
    return nova


def test_novaclient_interface_commands(keystone_cloud, sdk_server):
    if shutil.which("nova") is None:
        pytest.skip("novaclient's nova command is not installed")
    _, server = sdk_server
    nova = _nova(dict(_nova_env(keystone_cloud), OS_COMPUTE_API_VERSION="2.70"))

    listed = nova("interface-list", server.id)
    [boot] = [line for line in listed.splitlines() if "ACTIVE" in line]
    attached = nova("interface-attach", "--fixed-ip", "10.0.0.88", "--net-id",
                    boot.split("|")[3].strip(), "--tag", "cli", server.id)
    assert "10.0.0.88" in attached and "cli" in attached
    rows = [line for line in nova("interface-list", server.id).splitlines() if "ACTIVE" in line]
    assert len(rows) == 2
    [new] = [row for row in rows if "10.0.0.88" in row]
    port_id = new.split("|")[2].strip()
    nova("interface-detach", server.id, port_id)
    listed = nova("interface-list", server.id)
    assert port_id not in listed and "10.0.0.88" not in listed


# --------------------------------------------- a boot naming a port, by the clients

def test_openstacksdk_boots_a_server_on_a_port(keystone_cloud):
    free = _demo_port(keystone_cloud)
    conn = keystone_cloud.connection()
    try:
        server = conn.compute.create_server(
            name="port-sdk", image_id=first_image_id(keystone_cloud), flavor_id="1",
            networks=[{"port": free["id"]}])
        server = conn.compute.wait_for_server(server, wait=60)
        addresses = [(a["addr"], a["OS-EXT-IPS-MAC:mac_addr"])
                     for net in server.addresses.values() for a in net]
        assert addresses == [(free["fixed_ips"][0]["ip_address"], free["mac_address"])]
        assert _ids(conn, server) == [free["id"]]
        with pytest.raises(openstack.exceptions.ConflictException, match="still in use"):
            conn.compute.create_server(
                name="port-sdk2", image_id=first_image_id(keystone_cloud), flavor_id="1",
                networks=[{"port": free["id"]}])
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=60)
    finally:
        conn.close()
    assert keystone_cloud.network.get_port(free["id"]) == free


def test_openstacksdk_is_refused_a_port_of_another_project(keystone_cloud, sdk_server):
    """Nova's 400 (PortNotUsable) for a boot and for an attach; the port
    stays free, the server keeps its ports."""
    conn, server = sdk_server
    theirs = keystone_cloud.network.create_port(
        project_id=_project_id(keystone_cloud, "admin"))
    before = _ids(conn, server)
    with pytest.raises(openstack.exceptions.BadRequestException,
                       match=f"Port {theirs['id']} not usable for instance {server.id}"):
        conn.compute.create_server_interface(server, port_id=theirs["id"])
    names = [s.name for s in conn.compute.servers()]
    with pytest.raises(openstack.exceptions.BadRequestException,
                       match=f"Port {theirs['id']} not usable for instance"):
        conn.compute.create_server(
            name="port-theirs", image_id=first_image_id(keystone_cloud), flavor_id="1",
            networks=[{"port": theirs["id"]}])
    assert [s.name for s in conn.compute.servers()] == names
    assert _ids(conn, server) == before
    assert keystone_cloud.network.get_port(theirs["id"]) == theirs


def test_novaclient_boots_a_server_on_a_port(keystone_cloud):
    if shutil.which("nova") is None:
        pytest.skip("novaclient's nova command is not installed")
    from openstack.compute.v2.server import Server

    free = _demo_port(keystone_cloud)
    nova = _nova(_nova_env(keystone_cloud))

    booted = nova("--os-compute-api-version", "2.52", "boot", "--flavor", "1", "--image",
                  first_image_id(keystone_cloud), "--nic", f"port-id={free['id']},tag=cli",
                  "--poll", "port-nova")
    [sid] = [line.split("|")[2].strip() for line in booted.splitlines()
             if line.startswith("| id ")]
    listed = nova("interface-list", sid)
    assert free["id"] in listed and free["mac_address"] in listed
    refused = nova("boot", "--flavor", "1", "--image", first_image_id(keystone_cloud),
                   "--nic", f"port-id={free['id']}", "--min-count", "2", "port-nova2", ok=False)
    assert "Unable to launch multiple instances with a single configured port ID" in refused
    nova("delete", sid)
    conn = keystone_cloud.connection()
    try:
        conn.compute.wait_for_delete(Server(id=sid), wait=60)
    finally:
        conn.close()
    assert keystone_cloud.network.get_port(free["id"]) == free


def test_openstackclient_asks_neutron_for_the_port(keystone_cloud, tmp_path):
    """OpenStackClient looks a port up in the network service before it
    sends the boot, and refuses by itself without one in the catalog: this
    cloud has none (use novaclient, openstacksdk or the API)."""
    if shutil.which("openstack") is None:
        pytest.skip("OpenStackClient is not installed")
    from compute_core.testing import write_clouds_yaml

    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=write_clouds_yaml(keystone_cloud, str(tmp_path)),
               OS_CLOUD="compute-core")
    free = _demo_port(keystone_cloud)
    for nic in (["--port", free["id"]], ["--nic", f"port-id={free['id']}"]):
        done = subprocess.run(["openstack", "server", "create", "--image",
                               first_image_id(keystone_cloud), "--flavor", "1", *nic, "osc"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and "network endpoint not enabled" in done.stderr
    assert keystone_cloud.network.get_port(free["id"]) == free
