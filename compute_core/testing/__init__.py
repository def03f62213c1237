"""pytest plugin: a real compute endpoint for any test suite.

Registered through the ``pytest11`` entry point, so it is active whenever
compute_core is installed (or with ``-p compute_core.testing``). The helpers
of :mod:`compute_core.testing.helpers` (wait_for_server, api_request,
write_clouds_yaml) are re-exported here.

Fixtures:

``compute_cloud``
    one cloud for the whole session; while it runs, ``OS_CLIENT_CONFIG_FILE``
    and ``OS_CLOUD`` point at a clouds.yaml for it, so openstacksdk and
    OpenStackClient (even as a subprocess) find it with no arguments.
``fresh_compute_cloud``
    a new cloud for one test (host sizes from the ``compute_cloud_hosts``
    marker), with its own clouds.yaml in the environment during the test.
``openstack_connection``
    an openstacksdk Connection to the session cloud (project ``demo``).
``admin_openstack_connection``
    the same as the admin user.

Options: ``--compute-cloud-hosts=N`` (hosts of the session cloud).
Marker: ``@pytest.mark.compute_cloud_hosts(2, vcpus=4, memory_mb=8192, disk_gb=80)``.
"""
from __future__ import annotations

import contextlib

import pytest

from compute_core.testing.helpers import (  # noqa: F401
    ServerWaitTimeout, api_request, first_image_id, wait_for_server, write_clouds_yaml)

CLOUD_NAME = "compute-core"


def pytest_addoption(parser):
    group = parser.getgroup("compute_core", "compute_core embedded cloud")
    group.addoption("--compute-cloud-hosts", type=int, default=1,
                    help="fake compute hosts of the session compute_cloud (default 1)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "compute_cloud_hosts(n, vcpus=, memory_mb=, disk_gb=): hosts and host "
                   "size of the fresh_compute_cloud fixture")


@contextlib.contextmanager
def _client_env(cloud, directory):
    path = write_clouds_yaml(cloud, directory, name=CLOUD_NAME)
    mp = pytest.MonkeyPatch()
    mp.setenv("OS_CLIENT_CONFIG_FILE", path)
    mp.setenv("OS_CLOUD", CLOUD_NAME)
    try:
        yield path
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def compute_cloud(request, tmp_path_factory):
    from compute_core import Cloud

    hosts = request.config.getoption("--compute-cloud-hosts")
    with Cloud(hosts=hosts) as cloud:
        with _client_env(cloud, str(tmp_path_factory.mktemp("compute-cloud"))):
            yield cloud


@pytest.fixture
def fresh_compute_cloud(request, tmp_path):
    from compute_core import Cloud

    marker = request.node.get_closest_marker("compute_cloud_hosts")
    hosts, sizes = 1, {}
    if marker is not None:
        if marker.args:
            hosts = int(marker.args[0])
        sizes = {k: v for k, v in marker.kwargs.items() if k in ("vcpus", "memory_mb", "disk_gb")}
    with Cloud(hosts=hosts, host_resources=sizes) as cloud:
        with _client_env(cloud, str(tmp_path / "clouds")):
            yield cloud


@pytest.fixture
def openstack_connection(compute_cloud):
    pytest.importorskip("openstack", reason="openstacksdk is not installed")
    conn = compute_cloud.connection(project="demo")
    yield conn
    conn.close()


@pytest.fixture
def admin_openstack_connection(compute_cloud):
    pytest.importorskip("openstack", reason="openstacksdk is not installed")
    conn = compute_cloud.connection(project="admin", user="admin")
    yield conn
    conn.close()


__all__ = ["compute_cloud", "fresh_compute_cloud", "openstack_connection",
           "admin_openstack_connection", "api_request", "wait_for_server",
           "write_clouds_yaml", "first_image_id", "ServerWaitTimeout"]
