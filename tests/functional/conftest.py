"""Functional tests drive the embedded cloud through its real HTTP API."""
import os

import pytest

from compute_core.testing import api_request, first_image_id


@pytest.fixture(scope="session", autouse=True)
def _roomy_quotas(compute_cloud):
    # Many tests share the session cloud; quota tests use fresh clouds.
    for name in ("instances", "cores", "ram"):
        compute_cloud.conf.set_override(name, -1, group="quota")


@pytest.fixture
def api(compute_cloud):
    """api(method, path, token=..., body=..., version=...) on the session cloud."""
    return lambda method, path, **kw: api_request(compute_cloud, method, path, **kw)


@pytest.fixture(scope="session")
def image_id(compute_cloud):
    return first_image_id(compute_cloud)


def pytest_collection_modifyitems(config, items):
    """The test_inner_* tests of test_third_party_plugins run only in the
    process that test starts once the example distribution is installed
    (it asserts they pass); elsewhere they are deselected, not skipped."""
    if os.environ.get("COMPUTE_CORE_EXAMPLE_PLUGINS_INSTALLED"):
        return
    inner = [item for item in items if item.name.startswith("test_inner_")]
    if inner:
        config.hook.pytest_deselected(items=inner)
        items[:] = [item for item in items if item not in inner]
