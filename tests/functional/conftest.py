"""Functional tests drive the embedded cloud through its real HTTP API."""
import pytest

from compute_core.testing import api_request


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
    resp = api_request(compute_cloud, "GET", "/images")
    return resp.json()["images"][0]["id"]
