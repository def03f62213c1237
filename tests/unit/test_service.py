"""compute_core.service.Service: quiesce() finishes the work taken and takes
no more; stop() after it releases the rest and runs on_stop once."""
import threading

import oslo_messaging as messaging

from compute_core.service import Service


class Slow:
    target = messaging.Target(version="1.0")

    def __init__(self):
        self.started = threading.Event()
        self.release = threading.Event()
        self.done = []

    def work(self, ctxt, value):
        self.started.set()
        self.release.wait(10)
        self.done.append(value)


def test_quiesce_waits_for_the_message_in_hand_and_takes_no_more(transport):
    endpoint = Slow()
    stopped = []
    service = Service("svc", transport, "slow", "h", [endpoint],
                      on_stop=lambda: stopped.append(1))
    service.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic="slow", version="1.0"))
    client.cast({}, "work", value=1)
    assert endpoint.started.wait(5)

    quiesced = threading.Event()
    th = threading.Thread(target=lambda: (service.quiesce(), quiesced.set()))
    th.start()
    assert not quiesced.wait(0.3)  # the message in hand is still running
    endpoint.release.set()
    assert quiesced.wait(5)
    th.join()
    assert endpoint.done == [1]
    assert not service.running and stopped == []

    client.cast({}, "work", value=2)  # after quiesce: not taken
    service.stop()
    assert endpoint.done == [1]
    assert stopped == [1]
    service.stop()  # once stopped, a no-op
    assert stopped == [1]


def test_stop_without_quiesce_runs_on_stop_once(transport):
    stopped = []
    service = Service("svc", transport, "idle", "h", [Slow()], on_stop=lambda: stopped.append(1))
    service.start()
    service.stop()
    service.stop()
    assert stopped == [1] and not service.running


class OpaqueServer:
    """An RPC server whose executor shows no queue."""

    def __init__(self):
        self.calls = []

    def stop(self):
        self.calls.append("stop")

    def wait(self):
        self.calls.append("wait")


def test_quiesce_waits_fully_when_the_executor_shows_no_queue(transport):
    stopped = []
    service = Service("svc", transport, "opaque", "h", [Slow()], on_stop=lambda: stopped.append(1))
    service.start()
    real = service._rpc_server
    real.stop()
    real.wait()
    fake = service._rpc_server = OpaqueServer()
    service.quiesce()
    assert fake.calls == ["stop", "wait"]  # the next wave may go: nothing is in hand
    service.stop()
    assert fake.calls == ["stop", "wait"] and stopped == [1]


def test_start_after_quiesce_finishes_the_stop_first(transport):
    endpoint = Slow()
    endpoint.release.set()
    stopped = []
    service = Service("svc", transport, "again", "h", [endpoint],
                      on_stop=lambda: stopped.append(1))
    service.start()
    service.quiesce()
    first = service._rpc_server
    service.start()
    assert stopped == [1] and service.running and service._rpc_server is not first
    client = messaging.get_rpc_client(transport, messaging.Target(topic="again", version="1.0"))
    client.call({}, "work", value=3)
    assert endpoint.done == [3]
    service.stop()
    assert stopped == [1, 1]
