"""compute_core.rpc over a real RabbitMQ (a virtual host of its own): calls,
casts and replies, and the same again after the broker closed every
connection (as a broker restart does), so compute_core's adapters on
oslo.messaging's RabbitMQ connections (rpc._RabbitConnection) keep its
reconnection. Skipped when RabbitMQ or rabbitmqctl is unavailable."""
from __future__ import annotations

import datetime
import shutil
import subprocess
import threading
import time

import oslo_messaging as messaging
import pytest

from compute_core import conf as conf_mod
from compute_core import rpc
from compute_core.compute.rpcapi import ComputeRPCClient
from tests.integration.conftest import RabbitVirtualHost, rabbitmq_unreachable_reason, \
    unique_token

pytestmark = pytest.mark.skipif(
    bool(rabbitmq_unreachable_reason()) or not shutil.which("rabbitmqctl"),
    reason=rabbitmq_unreachable_reason() or "rabbitmqctl is not installed")


class Echo:
    target = messaging.Target(version="1.0")

    def __init__(self):
        self.casts = []
        self.cast_seen = threading.Event()

    def echo(self, ctxt, value):
        return value

    def note(self, ctxt, value):
        self.casts.append(value)
        self.cast_seen.set()


@pytest.fixture
def rabbit_transport():
    vhost = RabbitVirtualHost(f"cc_rpcrabbit_{unique_token()}")
    if not vhost.create():
        pytest.skip("rabbitmqctl could not create a virtual host")
    conf = conf_mod.load(overrides={
        "transport_url": f"rabbit://guest:guest@127.0.0.1:5672/{vhost.name}",
        # Reconnect at once rather than after oslo.messaging's 1 s delay.
        "oslo_messaging_rabbit.kombu_reconnect_delay": 0.1})
    transport = rpc.get_transport(conf)
    try:
        yield transport, vhost.name
    finally:
        transport.cleanup()
        vhost.delete()


def _close_all_connections(vhost):
    subprocess.run(["rabbitmqctl", "-q", "close_all_connections", "-p", vhost,
                    "test: as a broker restart would"], check=True, capture_output=True,
                   timeout=60)


def test_calls_casts_and_replies_survive_the_broker_closing_every_connection(
        rabbit_transport):
    transport, vhost = rabbit_transport
    endpoint = Echo()
    server = rpc.get_server(transport, "rpcrabbit", "h", [endpoint])
    server.start()
    try:
        client = rpc.get_client(transport, "rpcrabbit", "1.0", timeout=60)
        when = datetime.datetime(2026, 12, 4, 23, 0)
        for i in range(20):
            assert client.call({}, "echo", value={"i": i, "when": when}) == \
                {"i": i, "when": "2026-12-04T23:00:00"}
        # A call shorter than the heartbeat timeout sets the socket's
        # timeout to its own and back (the adapter must not skip that).
        assert client.prepare(timeout=5).call({}, "echo", value="short") == "short"

        _close_all_connections(vhost)
        start = time.monotonic()
        # The publishing, listening and reply connections all reconnect.
        for i in range(20):
            assert client.call({}, "echo", value=i) == i
        client.cast({}, "note", value="after")
        assert endpoint.cast_seen.wait(30)
        assert endpoint.casts == ["after"]
        assert time.monotonic() - start < 60
    finally:
        server.stop()
        server.wait()


class SlowPowerOff:
    """A compute host whose power-off step takes *seconds* (a guest's clean
    shutdown)."""

    target = messaging.Target(version="1.10")

    def __init__(self, seconds):
        self.seconds = seconds

    def migrate_disk_and_power_off(self, ctxt, instance, dest, flavor):
        time.sleep(self.seconds)
        return {"disk_info": {"source": "h1"}}


def test_the_power_off_step_outlives_rpc_response_timeout_but_not_a_dead_host(
        rabbit_transport):
    # The conductor's call for a resize's power-off waits the shutdown
    # timeout beyond rpc_response_timeout (here 2 s); oslo.messaging's
    # call-monitor heartbeats keep it alive through our RabbitMQ adapters,
    # and their absence shows a host that does not answer within 2 s.
    transport, _ = rabbit_transport
    transport.conf.set_override("rpc_response_timeout", 2)
    server = rpc.get_server(transport, "compute.h1", "h1", [SlowPowerOff(5)])
    server.start()
    try:
        compute = ComputeRPCClient(transport)
        start = time.monotonic()
        answer = compute.migrate_disk_and_power_off({}, "h1", {"uuid": "u"}, "h2", {}, 30)
        assert answer == {"disk_info": {"source": "h1"}}
        assert 5 <= time.monotonic() - start < 20
        start = time.monotonic()
        with pytest.raises(messaging.MessagingTimeout):
            compute.migrate_disk_and_power_off({}, "h9", {"uuid": "u"}, "h2", {}, 600)
        assert time.monotonic() - start < 20     # not the 602 s of the call's timeout
    finally:
        server.stop()
        server.wait()
        transport.conf.clear_override("rpc_response_timeout")
