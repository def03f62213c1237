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
