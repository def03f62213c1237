"""Fixtures shared by the unit tests."""
import pytest

from compute_core import conf as conf_mod
from compute_core import rpc


@pytest.fixture
def transport():
    """An in-process fake:// RPC transport, cleaned up after the test."""
    conf = conf_mod.load(args=[], overrides={"transport_url": "fake://"})
    t = rpc.get_transport(conf)
    yield t
    t.cleanup()
