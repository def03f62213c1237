"""The RPC plumbing of compute_core.rpc: the serializer's primitives and
the fake:// transport's per-topic wake-ups."""
import contextlib
import datetime
import threading
import time

import oslo_messaging as messaging
import pytest

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


class Gate:
    """An endpoint whose method waits for the test to open it."""

    target = messaging.Target(version="1.0")

    def __init__(self):
        self.entered = threading.Event()
        self.open = threading.Event()

    def hold(self, ctxt, fail=False):
        self.entered.set()
        self.open.wait(10)
        if fail:
            raise ValueError("failed on purpose")


def _until(look, timeout=5.0):
    end = time.monotonic() + timeout
    while not look() and time.monotonic() < end:
        time.sleep(0.005)
    return look()


@pytest.mark.parametrize("fail", [False, True])
def test_a_message_counts_from_its_queue_until_it_is_handled(transport, fail):
    """pending_messages covers a message queued, taken off its queue and
    being handled, until the server replied (for a cast too, and when the
    method raised): a cloud's wait_idle needs no second look."""
    gate = Gate()
    server = rpc.get_server(transport, "topic-g", "h", [gate])
    client = rpc.get_client(transport, "topic-g", "1.0", timeout=5)
    server.start()
    client.cast({}, "hold", fail=fail)
    try:
        assert gate.entered.wait(5)
        assert rpc.pending_messages(transport) == 1      # taken, being handled
        gate.open.set()
        assert _until(lambda: rpc.pending_messages(transport) == 0)
    finally:
        server.stop()
        server.wait()


def test_a_stopped_listener_leaves_no_count(transport):
    gate = Gate()
    server = rpc.get_server(transport, "topic-s", "h", [gate])
    server.start()
    rpc.get_client(transport, "topic-s", "1.0").cast({}, "hold")
    assert gate.entered.wait(5)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(0.2)
    gate.open.set()
    stopper.join(5)
    server.wait()
    assert rpc.pending_messages(transport) == 0


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


@contextlib.contextmanager
def capped_conductor_api(transport, conductor, cap):
    """A ConductorAPI whose client sends no version above *cap*, talking to
    *conductor* (an endpoint) served on the fake transport."""
    from compute_core.conductor import rpcapi as conductor_rpcapi

    server = rpc.get_server(transport, conductor_rpcapi.TOPIC, "c", [conductor])
    server.start()
    try:
        api = conductor_rpcapi.ConductorAPI(transport, timeout=5)
        api.client = messaging.get_rpc_client(
            transport, messaging.Target(topic=conductor_rpcapi.TOPIC,
                                        version=conductor_rpcapi.VERSION),
            serializer=rpc.ContextSerializer(), timeout=5, version_cap=cap)
        yield api
    finally:
        server.stop()
        server.wait()


class OldConductor:
    """A conductor of RPC 1.2: instance_update knows no return_instance."""
    target = messaging.Target(version="1.2")

    def __init__(self):
        self.calls = []

    def instance_update(self, ctxt, instance_uuid, values, expected_task_state="__any__",
                        event=None):
        self.calls.append((instance_uuid, values, event))
        return {"uuid": instance_uuid, **values}


class NewConductor(OldConductor):
    target = messaging.Target(version="1.3")

    def instance_update(self, ctxt, instance_uuid, values, expected_task_state="__any__",
                        event=None, return_instance=True):
        self.calls.append((instance_uuid, values, event, return_instance))
        return {"uuid": instance_uuid, **values} if return_instance else None


@pytest.mark.parametrize("cap,endpoint,expected", [
    ("1.2", OldConductor, {"uuid": "u1", "task_state": "spawning"}),
    ("1.3", NewConductor, None),
])
def test_instance_update_without_read_back_speaks_the_conductors_version(
        transport, cap, endpoint, expected):
    conductor = endpoint()
    with capped_conductor_api(transport, conductor, cap) as api:
        event = {"event": "e", "result": None, "host": "h", "finish": False}
        got = api.instance_update({}, "u1", {"task_state": "spawning"}, "scheduling", event,
                                  return_instance=False)
        assert got == expected
        assert conductor.calls[0][:3] == ("u1", {"task_state": "spawning"}, event)
        if cap == "1.3":
            assert conductor.calls[0][3] is False


class DeleteConductor:
    """Records the delete path's calls; *version* 1.4 knows no event on
    instance_get / instance_destroy."""

    def __init__(self, version):
        self.target = messaging.Target(version=version)
        self.calls = []

    def instance_get(self, ctxt, instance_uuid, **event):
        self.calls.append(("get", event.get("event")))
        return {"uuid": instance_uuid}

    def instance_destroy(self, ctxt, instance_uuid, **event):
        start = (event["start_event"],) if "start_event" in event else ()
        self.calls.append(("destroy", event.get("event"), *start))

    def action_event(self, ctxt, instance_uuid, event, result=None, host=None, tb=None,
                     finish=False):
        self.calls.append(("event", (event, finish)))


@pytest.mark.parametrize("cap", ["1.4", "1.5"])
def test_a_delete_records_its_events_with_get_and_destroy_from_1_5(transport, cap):
    conductor = DeleteConductor(cap)
    with capped_conductor_api(transport, conductor, cap) as api:
        start = {"event": "compute_terminate_instance", "host": "h"}
        finish = dict(start, result="Success", finish=True)
        assert api.instance_get({}, "u1", event=start) == {"uuid": "u1"}
        api.instance_destroy({}, "u1", event=finish)
        assert api.instance_get({}, "u2") == {"uuid": "u2"}
    if cap == "1.5":
        assert conductor.calls == [("get", start), ("destroy", finish), ("get", None)]
    else:  # the events in calls of their own, each before its method
        assert conductor.calls == [("event", ("compute_terminate_instance", False)),
                                   ("get", None),
                                   ("event", ("compute_terminate_instance", True)),
                                   ("destroy", None), ("get", None)]


@pytest.mark.parametrize("cap", ["1.11", "1.12"])
def test_a_delete_is_one_call_to_a_1_12_conductor(transport, cap):
    """From 1.12 the delete's start event rides on instance_destroy; an
    older conductor gets it in a call of its own first."""
    conductor = DeleteConductor(cap)
    with capped_conductor_api(transport, conductor, cap) as api:
        start = {"event": "compute_terminate_instance", "host": "h"}
        finish = dict(start, result="Success", finish=True)
        assert api.destroys_with_start() is (cap == "1.12")
        api.instance_destroy({}, "u1", event=finish, start_event=start)
    if cap == "1.12":
        assert conductor.calls == [("destroy", finish, start)]
    else:
        assert conductor.calls == [("event", ("compute_terminate_instance", False)),
                                   ("destroy", finish)]


class EventConductor:
    """action_event as conductors of *version* take it (details from 1.7)."""

    def __init__(self, version):
        self.target = messaging.Target(version=version)
        self.calls = []

    def action_event(self, ctxt, instance_uuid, event, result=None, host=None, tb=None,
                     finish=False, **details):
        self.calls.append((event, result, details.get("details")))


@pytest.mark.parametrize("cap", ["1.6", "1.7"])
def test_an_events_details_go_to_a_conductor_that_takes_them(transport, cap):
    conductor = EventConductor(cap)
    with capped_conductor_api(transport, conductor, cap) as api:
        api.action_event({}, "u1", "compute_rescue_instance", "Error", "h", "tb", True,
                         details="the rescue image would not boot")
    expected = "the rescue image would not boot" if cap == "1.7" else None
    assert conductor.calls == [("compute_rescue_instance", "Error", expected)]


class NetworkConductor:
    """A conductor of *version* (deallocate_network from 1.14)."""

    def __init__(self, version):
        self.target = messaging.Target(version=version)
        self.freed = []

    def deallocate_network(self, ctxt, instance_uuid):
        self.freed.append(instance_uuid)


@pytest.mark.parametrize("cap", ["1.13", "1.14"])
def test_a_failed_build_s_ports_are_freed_by_a_1_14_conductor(transport, cap):
    """An older conductor is not asked: the ports stay until the delete."""
    conductor = NetworkConductor(cap)
    with capped_conductor_api(transport, conductor, cap) as api:
        assert api.deallocate_network({}, "u1") is None
    assert conductor.freed == (["u1"] if cap == "1.14" else [])


class GuardConductor:
    """instance_update and instance_fault_create as conductors of *version*
    take them (expected_vm_state and fault from 1.15)."""

    def __init__(self, version):
        self.target = messaging.Target(version=version)
        self.calls = []

    def instance_update(self, ctxt, instance_uuid, values, expected_task_state="__any__",
                        event=None, return_instance=True, **guards):
        self.calls.append(("update", expected_task_state, guards))

    def instance_fault_create(self, ctxt, instance_uuid, code, message, details, host):
        self.calls.append(("fault", message))


@pytest.mark.parametrize("cap", ["1.14", "1.15"])
def test_a_guarded_update_with_its_fault_is_one_call_to_a_1_15_conductor(transport, cap):
    """An older conductor gets the fault first, in a call of its own, and
    the update guarded by the task state alone (as before 1.15)."""
    conductor = GuardConductor(cap)
    fault = {"code": 500, "message": "timed out", "details": "", "host": "h"}
    with capped_conductor_api(transport, conductor, cap) as api:
        assert api.guards_vm_state() is (cap == "1.15")
        api.instance_update({}, "u1", {"vm_state": "error"}, ["spawning"],
                            return_instance=False, expected_vm_state=["building"],
                            fault=fault)
    if cap == "1.15":
        assert conductor.calls == [("update", ["spawning"], {
            "expected_vm_state": ["building"], "fault": fault})]
    else:
        assert conductor.calls == [("fault", "timed out"), ("update", ["spawning"], {})]


def test_an_amqp_transport_stops_the_empty_wake_ups_after_each_message(monkeypatch):
    """oslo.messaging's AMQP pollers drop to a 1 ms timeout after every
    message (for acknowledgements queued by other threads, which RPC does
    not use); an AMQP transport raises that first timeout, fake:// leaves
    it alone. No broker is needed: the transport connects when first used."""
    from oslo_config import cfg
    from oslo_messaging._drivers import amqpdriver

    monkeypatch.setattr(amqpdriver, "ACK_REQUEUE_EVERY_SECONDS_MIN", 0.001)
    conf = cfg.ConfigOpts()
    conf([])
    rpc.get_transport(conf, "fake://").cleanup()
    assert amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MIN == 0.001
    transport = rpc.get_transport(conf, "rabbit://guest:guest@127.0.0.1:1/")
    try:
        assert amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MIN == rpc.AMQP_IDLE_POLL
        assert amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MIN <= amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MAX
    finally:
        transport.cleanup()


class _Socket:
    """The socket calls oslo.messaging makes, counted."""

    def __init__(self):
        self.timeout = None
        self.calls = []

    def gettimeout(self):
        return self.timeout

    def settimeout(self, timeout):
        self.calls.append(("settimeout", timeout))
        self.timeout = timeout

    def setsockopt(self, *args):
        self.calls.append(("setsockopt", args[-1]))


def _rabbit_connection(sock, heartbeat=60):
    """An rpc._RabbitConnection on *sock*, not connected to anything."""
    from types import SimpleNamespace

    conn = rpc._RabbitConnection.__new__(rpc._RabbitConnection)
    conn.heartbeat_timeout_threshold = heartbeat
    conn._heartbeat_support_log_emitted = False
    conn.connection = SimpleNamespace(supports_heartbeats=True)
    conn.channel = SimpleNamespace(connection=SimpleNamespace(sock=sock))
    conn.connection_id = "test"
    return conn


def test_a_rabbit_connection_sets_a_socket_timeout_only_when_it_changes():
    sock = _Socket()
    conn = _rabbit_connection(sock)
    # A cast's publish (no timeout) and a call's longer than the heartbeat
    # timeout both come to 60 s: set once, never again.
    conn.set_transport_socket_timeout()
    assert sock.calls == [("settimeout", 60), ("setsockopt", 60000)]
    for timeout in (None, 120, None):
        with conn._transport_socket_timeout(timeout):
            pass
    assert len(sock.calls) == 2
    # A shorter call timeout is set, and the 60 s again after the publish.
    with conn._transport_socket_timeout(5):
        assert sock.timeout == 5
    assert sock.calls[2:] == [("settimeout", 5), ("setsockopt", 5000),
                              ("settimeout", 60), ("setsockopt", 60000)]
    # A timeout changed behind its back, or a new socket (a reconnection),
    # is set again.
    sock.timeout = 1
    conn.set_transport_socket_timeout()
    assert sock.timeout == 60
    fresh = _Socket()
    conn.channel.connection.sock = fresh
    conn.set_transport_socket_timeout()
    assert fresh.calls == [("settimeout", 60), ("setsockopt", 60000)]


def test_a_rabbit_connection_without_heartbeats_keeps_the_publish_timeouts():
    sock = _Socket()
    conn = _rabbit_connection(sock, heartbeat=0)
    with conn._transport_socket_timeout(30):
        assert sock.timeout == 30
    assert sock.timeout is None


def test_a_rabbit_transport_makes_its_connections_ours():
    """No broker needed: the pool opens its connections when first used."""
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf([])
    transport = rpc.get_transport(conf, "rabbit://guest:guest@127.0.0.1:1/")
    try:
        assert transport._driver._connection_pool.connection_cls is rpc._RabbitConnection
    finally:
        transport.cleanup()
    notifications = rpc.get_notification_transport(conf, "rabbit://guest:guest@127.0.0.1:1/")
    try:
        assert notifications._driver._connection_pool.connection_cls is rpc._RabbitConnection
    finally:
        notifications.cleanup()
