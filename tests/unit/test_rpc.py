"""The RPC plumbing of compute_core.rpc: the serializer's primitives and
the fake:// transport's per-topic wake-ups."""
import datetime
import threading
import time

import oslo_messaging as messaging
import pytest

from compute_core import conf as conf_mod
from compute_core import rpc


def test_to_primitive_makes_json_types_and_copies():
    when = datetime.datetime(2026, 12, 2, 5, 30, 1, 250)
    source = {"a": [1, 2.5, True, None, "x"], "when": when, "t": (1, (2, 3)), 7: {"k": when}}
    out = rpc.to_primitive(source)
    assert out == {"a": [1, 2.5, True, None, "x"], "when": "2026-12-02T05:30:01.000250",
                   "t": [1, [2, 3]], "7": {"k": "2026-12-02T05:30:01.000250"}}
    # A copy: the receiver of a fake:// message never shares the sender's objects.
    assert out["a"] is not source["a"]
    out["a"].append(9)
    assert source["a"] == [1, 2.5, True, None, "x"]


def test_to_primitive_hands_other_types_to_oslo():
    class Thing:
        def __init__(self):
            self.size = 3

    assert rpc.to_primitive({"s": {1, 2}}) == {"s": [1, 2]}
    assert rpc.to_primitive([Thing()]) == [{"size": 3}]


class Echo:
    target = messaging.Target(version="1.0")

    def __init__(self):
        self.seen = []

    def echo(self, ctxt, value):
        self.seen.append(value)
        return value


@pytest.fixture
def transport():
    conf = conf_mod.load(args=[], overrides={"transport_url": "fake://"})
    t = rpc.get_transport(conf)
    yield t
    t.cleanup()


def test_call_and_cast_across_topics_are_prompt(transport):
    a, b = Echo(), Echo()
    servers = [rpc.get_server(transport, "topic-a", "h", [a]),
               rpc.get_server(transport, "topic-b", "h", [b])]
    for s in servers:
        s.start()
    try:
        client_a = rpc.get_client(transport, "topic-a", "1.0", timeout=5)
        client_b = rpc.get_client(transport, "topic-b", "1.0", timeout=5)
        when = datetime.datetime(2026, 1, 1)
        start = time.monotonic()
        for i in range(20):
            assert client_a.call({}, "echo", value={"i": i, "when": when}) == \
                {"i": i, "when": "2026-01-01T00:00:00"}
        # 20 round trips well under the fake driver's 50 ms poll step each.
        assert time.monotonic() - start < 0.9
        client_b.cast({}, "echo", value="cast")
        deadline = time.monotonic() + 5
        while not b.seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert b.seen == ["cast"]
        assert len(a.seen) == 20
    finally:
        for s in servers:
            s.stop()
            s.wait()


def test_a_listener_stops_at_once(transport):
    server = rpc.get_server(transport, "topic-c", "h", [Echo()])
    server.start()
    time.sleep(0.05)
    start = time.monotonic()
    stopper = threading.Thread(target=lambda: (server.stop(), server.wait()))
    stopper.start()
    stopper.join(5)
    assert not stopper.is_alive()
    assert time.monotonic() - start < 0.9
