"""The fuzz tests drive an embedded cloud of their own through its real HTTP
ports: what they create (flavors, providers, traits ...) never reaches the
session cloud the functional tests share."""
import pytest

from compute_core import Cloud


@pytest.fixture(scope="module")
def fuzz_cloud():
    with Cloud(hosts=1) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def fuzz_image_id(fuzz_cloud):
    from compute_core.testing import first_image_id

    return first_image_id(fuzz_cloud)
