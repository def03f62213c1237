"""os-interface driven by the clients, unchanged: openstacksdk
(create_server_interface, server_interfaces, get_server_interface,
delete_server_interface) and novaclient's nova interface-list,
interface-attach and interface-detach (which need Keystone: the cloud runs
its identity endpoint)."""
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


def test_novaclient_interface_commands(keystone_cloud, sdk_server):
    if shutil.which("nova") is None:
        pytest.skip("novaclient's nova command is not installed")
    _, server = sdk_server
    auth = keystone_cloud._password_auth("demo", None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_URL=auth["auth_url"], OS_USERNAME=auth["username"],
               OS_PASSWORD=auth["password"], OS_PROJECT_NAME=auth["project_name"],
               OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default",
               OS_COMPUTE_API_VERSION="2.70")

    def nova(*args):
        done = subprocess.run(["nova", *args], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

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
