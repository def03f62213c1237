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
``forked_compute_cloud``
    a copy, for one test, of a cloud seeded once per session (or per xdist
    worker): ``seeded_compute_cloud`` is restored to its seeded snapshot
    before the test (a few milliseconds: ``Cloud.restore``), so each test
    starts from the same flavors, images, servers, hosts and guests, and
    with no fault rules and an empty call log.
``seeded_compute_cloud``
    that session cloud (``--compute-cloud-hosts`` hosts), seeded by the
    ``compute_cloud_seed`` fixture; its ``seed_snapshot`` attribute is
    the snapshot.
``compute_cloud_seed``
    a function ``seed(cloud)`` run once on the seeded cloud; the default
    boots ``--compute-cloud-seed-servers`` servers (default 2, named
    ``seed-1``...) in project demo and waits for them to be ACTIVE.
    Override it in your conftest.py to seed your own flavors, images,
    servers...
``openstack_connection``
    an openstacksdk Connection to the session cloud (project ``demo``).
``admin_openstack_connection``
    the same as the admin user.

``compute_cloud_overrides``
    the ``{"group.option": value}`` overrides of both clouds (default
    ``{}``): override this fixture in your conftest.py to test your own
    plugins (``{"compute_driver": "mydriver", ...}``); the options of a
    plugin wait until it loads.

Options: ``--compute-cloud-hosts=N`` (hosts of the session clouds),
``--compute-cloud-leaks=off|warn|fail`` (also the ``compute_cloud_leaks``
ini setting): at the end of each test using ``fresh_compute_cloud`` or
``forked_compute_cloud``, report the servers, allocations and ports the
test left behind (:meth:`Cloud.leaks`) as a warning or a test error,
``--compute-cloud-config=FILE`` (an oslo.config file read by both clouds;
also the ``compute_cloud_config`` ini setting).
Markers, for ``fresh_compute_cloud``:
``@pytest.mark.compute_cloud_hosts(2, vcpus=4, memory_mb=8192, disk_gb=80)``
(host sizes: any driver whose ``set_host_size`` takes them; the others say
they do not) and ``@pytest.mark.compute_cloud_config(config_file=None,
clock=None, control_api=None, **overrides)`` (a file, the Cloud's clock
and control API, and overrides for this test, on top of the above; a
``group.option`` name with a dot is given as ``overrides={...}``).

Every fixture's cloud binds free ports and its own temporary state, so
the fixtures run unchanged under pytest-xdist (``pytest -n 2``): each
worker has its own session clouds.
"""
from __future__ import annotations

import contextlib
import os
import warnings

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
    group.addoption("--compute-cloud-seed-servers", type=int, default=2,
                    help="servers the default compute_cloud_seed boots (default 2)")
    group.addoption("--compute-cloud-leaks", choices=("off", "warn", "fail"), default=None,
                    help="report servers, allocations and ports a test using "
                         "fresh_compute_cloud or forked_compute_cloud left behind")
    parser.addini("compute_cloud_leaks", "off, warn or fail (see --compute-cloud-leaks)",
                  default="off")


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
        cloud_args = {k: kwargs.pop(k) for k in ("clock", "control_api") if k in kwargs}
        overrides.update(kwargs)
    else:
        cloud_args = {}
    with Cloud(hosts=hosts, host_resources=sizes, config_file=config_file,
               overrides=overrides, **cloud_args) as cloud:
        with _client_env(cloud, str(tmp_path / "clouds")):
            yield cloud
            _check_leaks(request, cloud, None)


def _check_leaks(request, cloud, baseline):
    mode = request.config.getoption("--compute-cloud-leaks") or \
        request.config.getini("compute_cloud_leaks") or "off"
    if mode == "off" or not cloud.running:
        return
    leaks = cloud.leaks(baseline, timeout=5.0)
    if not leaks:
        return
    text = "; ".join(f"{kind}: {', '.join(items)}" for kind, items in leaks.items())
    message = f"{request.node.nodeid} left behind {text}"
    if mode == "fail":
        pytest.fail(message, pytrace=False)
    warnings.warn(LeakWarning(message), stacklevel=1)


class LeakWarning(UserWarning):
    """A test left servers, allocations or ports behind."""


@pytest.fixture(scope="session")
def compute_cloud_seed(request):
    """seed(cloud), run once on the seeded cloud; override to seed your own."""
    count = request.config.getoption("--compute-cloud-seed-servers")

    def seed(cloud):
        image = first_image_id(cloud)
        token = cloud.member_token
        ids = []
        for i in range(count):
            resp = api_request(cloud, "POST", "/servers", token=token, body={"server": {
                "name": f"seed-{i + 1}", "imageRef": image, "flavorRef": "1"}})
            resp.raise_for_status()
            ids.append(resp.json()["server"]["id"])
        for sid in ids:
            if wait_for_server(cloud, sid, token=token)["status"] != "ACTIVE":
                raise RuntimeError(f"seed server {sid} did not become ACTIVE")
    return seed


@pytest.fixture(scope="session")
def seeded_compute_cloud(request, tmp_path_factory, compute_cloud_overrides,
                         compute_cloud_seed):
    from compute_core import Cloud

    hosts = request.config.getoption("--compute-cloud-hosts")
    with Cloud(hosts=hosts, config_file=_config_file(request.config),
               overrides=compute_cloud_overrides) as cloud:
        compute_cloud_seed(cloud)
        with cloud.snapshot() as snap:
            cloud.seed_snapshot = snap
            with _client_env(cloud, str(tmp_path_factory.mktemp("seeded-cloud"))):
                yield cloud


@pytest.fixture
def forked_compute_cloud(request, seeded_compute_cloud):
    cloud = seeded_compute_cloud
    cloud.restore(cloud.seed_snapshot)
    yield cloud
    _check_leaks(request, cloud, cloud.seed_snapshot)


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


__all__ = ["compute_cloud", "fresh_compute_cloud", "forked_compute_cloud",
           "seeded_compute_cloud", "compute_cloud_seed", "LeakWarning", "openstack_connection",
           "admin_openstack_connection", "api_request", "wait_for_server",
           "write_clouds_yaml", "first_image_id", "ServerWaitTimeout"]
