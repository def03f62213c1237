"""Real clients, unchanged, drive the embedded cloud."""
import json
import os
import subprocess
import sys

import pytest

from compute_core.testing import first_image_id

openstack = pytest.importorskip("openstack", reason="openstacksdk is not installed")


def test_openstacksdk_create_wait_list_delete(openstack_connection):
    conn = openstack_connection
    image = next(conn.compute.images())
    flavor = conn.compute.find_flavor("m1.tiny")
    server = conn.compute.create_server(name="sdk-vm", image_id=image.id, flavor_id=flavor.id,
                                        networks="auto")
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=30, interval=0.1)
    assert server.status == "ACTIVE"
    assert server.id in {s.id for s in conn.compute.servers()}
    assert conn.compute.get_server(server.id).name == "sdk-vm"
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=30, interval=0.1)
    assert server.id not in {s.id for s in conn.compute.servers()}


def test_openstacksdk_admin_views(admin_openstack_connection):
    conn = admin_openstack_connection
    services = list(conn.compute.services())
    assert {"nova-compute", "nova-scheduler", "nova-conductor"} <= {s.binary for s in services}
    assert list(conn.compute.hypervisors(details=True))[0].hypervisor_type == "fake"
    flavor = conn.compute.create_flavor(name="sdk-flavor", ram=128, vcpus=1, disk=1)
    assert conn.compute.get_flavor(flavor.id).name == "sdk-flavor"
    conn.compute.delete_flavor(flavor)


def _osc(*args):
    # OS_CLIENT_CONFIG_FILE / OS_CLOUD come from the compute_cloud fixture.
    out = subprocess.run([sys.executable, "-m", "openstackclient.shell", *args, "-f", "json"],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_openstackclient_with_no_arguments(compute_cloud):
    pytest.importorskip("openstackclient", reason="OpenStackClient is not installed")
    flavors = _osc("flavor", "list")
    assert "m1.tiny" in {f["Name"] for f in flavors}
    created = _osc("server", "create", "--flavor", "m1.tiny", "--image",
                   first_image_id(compute_cloud), "--nic", "auto", "--wait", "osc-vm")
    assert created["status"] == "ACTIVE"
    # `openstack server list` needs a Keystone v3 endpoint even without
    # filters, which the noauth2 embedded cloud does not have; show does not.
    shown = _osc("server", "show", "osc-vm")
    assert shown["status"] == "ACTIVE" and shown["id"] == created["id"]
    subprocess.run([sys.executable, "-m", "openstackclient.shell", "server", "delete",
                    "--wait", "osc-vm"], check=True, timeout=120)
    gone = subprocess.run([sys.executable, "-m", "openstackclient.shell", "server", "show",
                           created["id"]], capture_output=True, text=True, timeout=120)
    assert gone.returncode != 0 and "No Server found" in gone.stderr




@pytest.mark.compute_cloud_hosts(2)
def test_openstackclient_named_hosts(fresh_compute_cloud, monkeypatch, tmp_path):
    """`server create --host` (2.74) and `server migrate --host` (2.56), as
    an admin types them."""
    pytest.importorskip("openstackclient", reason="OpenStackClient is not installed")
    from compute_core.testing import write_clouds_yaml

    cloud = fresh_compute_cloud
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE",
                       write_clouds_yaml(cloud, str(tmp_path), project="admin", user="admin"))
    monkeypatch.setenv("OS_CLOUD", "compute-core")
    hosts = sorted(h["Host"] for h in _osc("compute", "service", "list", "--service",
                                             "nova-compute"))
    assert len(hosts) == 2
    created = _osc("--os-compute-api-version", "2.74", "server", "create", "--flavor", "m1.tiny",
                   "--image", first_image_id(cloud), "--nic", "auto", "--host", hosts[0],
                   "--wait", "placed")
    assert created["OS-EXT-SRV-ATTR:host"] == hosts[0]
    subprocess.run([sys.executable, "-m", "openstackclient.shell", "--os-compute-api-version",
                    "2.56", "server", "migrate", "--host", hosts[1], "--wait", "placed"],
                   check=True, timeout=120, capture_output=True)
    shown = _osc("server", "show", "placed")
    assert (shown["status"], shown["OS-EXT-SRV-ATTR:host"]) == ("VERIFY_RESIZE", hosts[1])
    subprocess.run([sys.executable, "-m", "openstackclient.shell", "server", "resize",
                    "confirm", "placed"], check=True, timeout=120, capture_output=True)
