"""The pytest plugin, proven from outside: a separate project in a temporary
directory uses only the plugin's fixtures, run by pytest in a subprocess."""
import subprocess
import sys
import textwrap

DEPLOYER = '''
"""A tiny tool under test: boots a server and waits, as real tooling does."""
import openstack


class DeployError(Exception):
    pass


def deploy(conn, name, flavor="m1.tiny"):
    image = next(conn.compute.images())
    server = conn.compute.create_server(name=name, image_id=image.id,
                                        flavor_id=conn.compute.find_flavor(flavor).id,
                                        networks="auto")
    server = conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"],
                                          wait=30, interval=0.1)
    return server


def safe_deploy(conn, name):
    try:
        return deploy(conn, name)
    except openstack.exceptions.ResourceFailure as exc:
        raise DeployError(f"{name} failed: {exc}") from None


def teardown(conn, name):
    server = conn.compute.find_server(name)
    if server:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=30, interval=0.1)
'''

TESTS = '''
import os
import subprocess
import sys

import openstack
import pytest

import deployer


def test_deploy_and_teardown(openstack_connection):
    server = deployer.deploy(openstack_connection, "app-1")
    assert server.status == "ACTIVE"
    deployer.teardown(openstack_connection, "app-1")
    assert openstack_connection.compute.find_server("app-1") is None


def test_clouds_yaml_in_environment(compute_cloud):
    conn = openstack.connect()  # no arguments: OS_CLOUD / OS_CLIENT_CONFIG_FILE
    assert [f.name for f in conn.compute.flavors() if f.name == "m1.tiny"]


def test_server_going_to_error_is_handled(fresh_compute_cloud):
    fresh_compute_cloud.inject_fault("host1", "spawn", message="disk on fire")
    conn = fresh_compute_cloud.connection()
    with pytest.raises(deployer.DeployError):
        deployer.safe_deploy(conn, "doomed")
    server = conn.compute.find_server("doomed")
    assert server.status == "ERROR"
    assert "disk on fire" in conn.compute.get_server(server.id).fault["message"]


@pytest.mark.compute_cloud_hosts(2, vcpus=1, memory_mb=1024, disk_gb=10)
def test_marker_sizes_hosts(fresh_compute_cloud):
    import requests

    resp = requests.get(fresh_compute_cloud.compute_url + "/os-hypervisors/detail",
                        headers={"X-Auth-Token": fresh_compute_cloud.admin_token})
    hvs = resp.json()["hypervisors"]
    assert len(hvs) == 2 and {h["vcpus"] for h in hvs} == {1}
'''


def _run_project(path, summary):
    """Run pytest on the project in *path* as its own process."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(path), str(path)],
        cwd=path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary in result.stdout


def test_external_project_uses_the_plugin(tmp_path):
    (tmp_path / "deployer.py").write_text(textwrap.dedent(DEPLOYER))
    (tmp_path / "test_deployer.py").write_text(textwrap.dedent(TESTS))
    _run_project(tmp_path, "4 passed")


def test_plugin_option_is_registered(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert "--compute-cloud-hosts" in result.stdout


CONFIGURED_CONFTEST = '''
import pytest


@pytest.fixture(scope="session")
def compute_cloud_overrides():
    return {"filter_scheduler.enabled_filters": ["ComputeFilter"],
            "fake_driver.vcpus": 6}
'''

CONFIGURED_TESTS = '''
import pytest
import requests


def _hypervisors(cloud):
    resp = requests.get(cloud.compute_url + "/os-hypervisors/detail",
                        headers={"X-Auth-Token": cloud.admin_token})
    return resp.json()["hypervisors"]


def test_session_cloud_takes_the_file_and_the_overrides(compute_cloud):
    assert compute_cloud.conf.quota.instances == 3                       # the ini's file
    assert compute_cloud.conf.filter_scheduler.enabled_filters == ["ComputeFilter"]
    assert {h["vcpus"] for h in _hypervisors(compute_cloud)} == {6}      # overrides


@pytest.mark.compute_cloud_config(overrides={"quota.instances": 7}, reserved_host_cpus=1)
def test_marker_adds_to_them(fresh_compute_cloud):
    conf = fresh_compute_cloud.conf
    assert conf.quota.instances == 7 and conf.reserved_host_cpus == 1
    assert conf.filter_scheduler.enabled_filters == ["ComputeFilter"]


@pytest.mark.compute_cloud_hosts(1, vcpus=2)
def test_marker_sizes_win_over_driver_options(fresh_compute_cloud):
    assert {h["vcpus"] for h in _hypervisors(fresh_compute_cloud)} == {2}
'''


def test_a_project_configures_the_clouds(tmp_path):
    """A plugin author's project: a config file named in its pytest.ini, its
    own overrides fixture, and the marker for one test."""
    (tmp_path / "cloud.conf").write_text("[quota]\ninstances = 3\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\ncompute_cloud_config = cloud.conf\n")
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFIGURED_CONFTEST))
    (tmp_path / "test_configured.py").write_text(textwrap.dedent(CONFIGURED_TESTS))
    _run_project(tmp_path, "3 passed")
