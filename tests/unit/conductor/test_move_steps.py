"""A move step whose compute host does not answer becomes an error answer
(the move then records a fault and puts the allocations back); the source's
power-off step is waited for as long as the guest's clean shutdown may take."""
import types

import oslo_messaging as messaging
import pytest

from compute_core.compute.rpcapi import ComputeRPCClient
from compute_core.conductor.manager import ConductorManager


def test_a_step_that_times_out_is_an_error_answer():
    def migrate_disk_and_power_off(*args):
        raise messaging.MessagingTimeout("no reply from compute.host1")

    answer = ConductorManager._step(migrate_disk_and_power_off, "ctxt", "host1")
    assert answer == {"error": "The compute host did not complete the step: "
                               "no reply from compute.host1"}


def test_a_step_passes_its_answer_through():
    assert ConductorManager._step(lambda *a: {"disk_info": a}, 1, 2) == {"disk_info": (1, 2)}
    assert ConductorManager._step(lambda: None) == {}


class _Client:
    """An RPC client that records what each call was prepared with."""

    def __init__(self, timeout=None):
        self.timeout = timeout
        self.conf = types.SimpleNamespace(rpc_response_timeout=60)
        self.prepared = {}

    def prepare(self, **kwargs):
        self.prepared.update(kwargs)
        return self

    def call(self, ctxt, method, **kwargs):
        return {"method": method, **self.prepared}


@pytest.mark.parametrize("client_timeout, shutdown, timeout, monitor", [
    (None, 0, 60, 60),          # rpc_response_timeout alone
    (None, 600, 660, 60),       # a long os_shutdown_timeout waited beyond it
    (30, 45, 75, 30),           # a client made with its own timeout
])
def test_the_power_off_step_waits_the_shutdown_timeout_beyond_the_rpc_timeout(
        client_timeout, shutdown, timeout, monitor):
    rpc = ComputeRPCClient.__new__(ComputeRPCClient)
    rpc.client = _Client(client_timeout)
    answer = rpc.migrate_disk_and_power_off("ctxt", "h1", {"uuid": "u"}, "h2", {}, shutdown)
    # call_monitor_timeout: a host that died still shows within the usual time
    assert answer["method"] == "migrate_disk_and_power_off"
    assert (answer["timeout"], answer["call_monitor_timeout"]) == (timeout, monitor)
