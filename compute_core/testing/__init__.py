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

``compute_cloud_overrides``
    the ``{"group.option": value}`` overrides of both clouds (default
    ``{}``): override this fixture in your conftest.py to test your own
    plugins (``{"compute_driver": "mydriver", ...}``); the options of a
    plugin wait until it loads.

Options: ``--compute-cloud-hosts=N`` (hosts of the session cloud),
``--compute-cloud-config=FILE`` (an oslo.config file read by both clouds;
also the ``compute_cloud_config`` ini setting).
Markers, for ``fresh_compute_cloud``:
``@pytest.mark.compute_cloud_hosts(2, vcpus=4, memory_mb=8192, disk_gb=80)``
(host sizes: any driver whose ``set_host_size`` takes them; the others say
they do not) and ``@pytest.mark.compute_cloud_config(config_file=None,
**overrides)`` (a file and overrides for this test, on top of the above;
a ``group.option`` name with a dot is given as ``overrides={...}``).
"""
from __future__ import annotations

import contextlib
import os

import pytest

from compute_core.testing.helpers import (  # noqa: F401
    ServerWaitTimeout, api_request, first_image_id, wait_for_server, write_clouds_yaml)

CLOUD_NAME = "compute-core"


def pytest_addoption(parser):
    group = parser.getgroup("compute_core", "compute_core embedded cloud")
    group.addoption("--compute-cloud-hosts", type=int, default=1,
                    help="fake compute hosts of the session compute_cloud (default 1)")
    group.addoption("--compute-cloud-config", default=None, metavar="FILE",
                    help="an oslo.config file the compute_core clouds read (your plugins' "
                         "options, [DEFAULT] compute_driver, ...)")
    parser.addini("compute_cloud_config", "an oslo.config file the compute_core clouds read",
                  default=None)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "compute_cloud_hosts(n, vcpus=, memory_mb=, disk_gb=): hosts and host "
                   "size of the fresh_compute_cloud fixture")
    config.addinivalue_line(
        "markers", "compute_cloud_config(config_file=None, overrides=None, **options): "
                   "configuration of the fresh_compute_cloud fixture")


def _config_file(config):
    path = config.getoption("--compute-cloud-config") or config.getini("compute_cloud_config")
    if path and not os.path.isabs(path):
        path = os.path.join(str(config.rootpath), path)
    return path or None


@pytest.fixture(scope="session")
def compute_cloud_overrides():
    """Overrides of the clouds the fixtures start; override in conftest.py."""
    return {}


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
def compute_cloud(request, tmp_path_factory, compute_cloud_overrides):
    from compute_core import Cloud

    hosts = request.config.getoption("--compute-cloud-hosts")
    with Cloud(hosts=hosts, config_file=_config_file(request.config),
               overrides=compute_cloud_overrides) as cloud:
        with _client_env(cloud, str(tmp_path_factory.mktemp("compute-cloud"))):
            yield cloud


@pytest.fixture
def fresh_compute_cloud(request, tmp_path, compute_cloud_overrides):
    from compute_core import Cloud

    marker = request.node.get_closest_marker("compute_cloud_hosts")
    hosts, sizes = 1, {}
    if marker is not None:
        if marker.args:
            hosts = int(marker.args[0])
        unknown = set(marker.kwargs) - {"vcpus", "memory_mb", "disk_gb"}
        if unknown:
            raise pytest.UsageError(f"compute_cloud_hosts takes vcpus, memory_mb, disk_gb, "
                                    f"not {', '.join(sorted(unknown))}")
        sizes = dict(marker.kwargs)
    config_file = _config_file(request.config)
    overrides = dict(compute_cloud_overrides)
    marker = request.node.get_closest_marker("compute_cloud_config")
    if marker is not None:
        kwargs = dict(marker.kwargs)
        config_file = kwargs.pop("config_file", None) or config_file
        overrides.update(kwargs.pop("overrides", None) or {})
        overrides.update(kwargs)
    with Cloud(hosts=hosts, host_resources=sizes, config_file=config_file,
               overrides=overrides) as cloud:
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
