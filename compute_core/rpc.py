"""oslo.messaging plumbing: transports, servers, clients, notifications.

Contexts travel as dicts and come back as :class:`RequestContext`. Servers
use oslo.messaging's threading executor: its choice when nothing is
monkey-patched, and compute_core keeps eventlet out of the process (see
``compute_core/__init__.py``).
"""
from __future__ import annotations

import datetime
import inspect
import logging
import threading
import time
import types

import oslo_messaging as messaging
from oslo_messaging._drivers import amqpdriver
from oslo_messaging._drivers import base as driver_base
from oslo_messaging._drivers import impl_fake
from oslo_messaging._drivers import impl_rabbit
from oslo_messaging.rpc import dispatcher
from oslo_serialization import jsonutils

from compute_core import context as ctx_mod
from compute_core import exception

LOG = logging.getLogger(__name__)



def to_primitive(value):
    """A copy of ``value`` made only of JSON types (datetimes become ISO
    strings, sets and tuples lists). The common shapes of our messages are
    walked here directly; anything else goes through oslo's converter."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): to_primitive(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [to_primitive(v) for v in value]
    if kind is datetime.datetime:
        return value.isoformat()
    return jsonutils.to_primitive(value, convert_instances=True)


class ContextSerializer(messaging.NoOpSerializer):
    """Contexts as dicts; entities as JSON primitives (datetimes become ISO
    strings), so any transport can carry them."""

    def serialize_entity(self, ctxt, entity):
        return to_primitive(entity)

    def serialize_context(self, ctxt):
        return ctxt.to_dict() if isinstance(ctxt, ctx_mod.RequestContext) else dict(ctxt or {})

    def deserialize_context(self, ctxt):
        return ctx_mod.RequestContext.from_dict(ctxt or {})


class _WakingExchange(impl_fake.FakeExchange):
    """A fake exchange that wakes the listeners of a topic when a message
    for it lands (and only those: waking every listener of the cloud on
    every message costs more CPU than the messages themselves)."""

    def __init__(self, name, manager):
        super().__init__(name)
        self._manager = manager

    def deliver_message(self, topic, *args, **kwargs):
        super().deliver_message(topic, *args, **kwargs)
        self._manager.wake(self.name, topic)


class _PrivateExchanges(impl_fake.FakeExchangeManager):
    """Exchanges of one fake:// transport.

    The fake driver keeps its exchanges in a class attribute shared by every
    fake:// transport of the process, and its cleanup() empties them all.
    Each of our transports gets exchanges of its own, so two embedded clouds
    never see each other's messages and stopping one leaves the other alone.
    """

    def __init__(self, default_exchange):
        super().__init__(default_exchange)
        self._exchanges = {}
        self._exchanges_lock = threading.Lock()
        self._waiters: dict[tuple[str, str], set[threading.Event]] = {}
        # RPC messages each listener took off a queue and whose handling
        # has not finished (replied), by listener: with the queued ones,
        # what pending() counts, so a cloud knows exactly when it is idle
        self._taken: dict[int, int] = {}

    def take(self, listener, count: int) -> None:
        """*count* (+1 or -1) messages taken by *listener* (its handling
        started or ended)."""
        with self._exchanges_lock:
            if count > 0:
                self._taken[id(listener)] = self._taken.get(id(listener), 0) + count
            elif id(listener) in self._taken:  # not a stopped listener's
                self._taken[id(listener)] += count

    def forget_taken(self, listener) -> None:
        """A stopped listener's messages are done or lost."""
        with self._exchanges_lock:
            self._taken.pop(id(listener), None)

    def get_exchange(self, name):
        name = name or self._default_exchange
        with self._exchanges_lock:
            if name not in self._exchanges:
                self._exchanges[name] = _WakingExchange(name, self)
            return self._exchanges[name]

    def subscribe(self, exchange, topic, event):
        with self._exchanges_lock:
            self._waiters.setdefault((exchange or self._default_exchange, topic),
                                     set()).add(event)

    def unsubscribe(self, exchange, topic, event):
        with self._exchanges_lock:
            self._waiters.get((exchange or self._default_exchange, topic), set()).discard(event)

    def wake(self, exchange, topic):
        with self._exchanges_lock:
            events = list(self._waiters.get((exchange, topic), ()))
        for event in events:
            event.set()

    def pending(self) -> int:
        with self._exchanges_lock:
            listened = {key for key, events in self._waiters.items() if events}
            exchanges = list(self._exchanges.values())
            count = sum(self._taken.values())
        for exchange in exchanges:
            with exchange._queues_lock:
                for queues in (exchange._topic_queues, exchange._server_queues):
                    for key, queue in queues.items():
                        if queue and (exchange.name, key[0]) in listened:
                            count += len(queue)
        return count

    def cleanup(self):
        with self._exchanges_lock:
            self._exchanges.clear()


class _TakenMessage(impl_fake.FakeIncomingMessage):
    """An RPC message a listener took: its handling ends with its reply
    (the RPC server replies to casts too, after the dispatch, whatever
    happened)."""

    def __init__(self, ctxt, message, reply_q, requeue, done):
        super().__init__(ctxt, message, reply_q, requeue)
        self._done = done

    def reply(self, reply=None, failure=None):
        try:
            super().reply(reply, failure)
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


class _PromptListener(impl_fake.FakeListener):
    """The fake listener sleeps 50 ms between polls, which puts up to 50 ms
    on every RPC hop; this one sleeps on an event that a delivery to one of
    its topics sets. An RPC listener (*count*) counts the messages it took
    until they are replied to (``_PrivateExchanges.pending``)."""

    def __init__(self, exchange_manager, targets, pool=None, count=False):
        super().__init__(exchange_manager, targets, pool)
        self._wake = threading.Event()
        self._count = count
        for target in targets:
            exchange_manager.subscribe(target.exchange, target.topic, self._wake)

    @driver_base.batch_poll_helper
    def poll(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stopped.is_set():
            # Cleared before looking, so a message that lands after the look
            # sets it again and the wait below returns at once.
            self._wake.clear()
            manager = self._exchange_manager
            for target in self._targets:
                exchange = manager.get_exchange(target.exchange)
                if self._count:
                    # Counted before it leaves its queue: no moment when a
                    # message is neither queued nor taken.
                    manager.take(self, 1)
                ctxt, message, reply_q, requeue = exchange.poll(target, self._pool)
                if message is None:
                    if self._count:
                        manager.take(self, -1)
                    continue
                if self._count:
                    return _TakenMessage(ctxt, message, reply_q, requeue,
                                         lambda: manager.take(self, -1))
                return impl_fake.FakeIncomingMessage(ctxt, message, reply_q, requeue)
            wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            if wait <= 0 or self._stopped.is_set():
                break
            self._wake.wait(wait)
        return None

    def stop(self):
        super().stop()
        self._wake.set()
        for target in self._targets:
            self._exchange_manager.unsubscribe(target.exchange, target.topic, self._wake)
        if self._count:
            self._exchange_manager.forget_taken(self)


def _listen(driver, target, batch_size, batch_timeout):
    exchange = target.exchange or driver._default_exchange
    listener = _PromptListener(driver._exchange_manager, [
        messaging.Target(topic=target.topic, server=target.server, exchange=exchange),
        messaging.Target(topic=target.topic, exchange=exchange)], count=True)
    return driver_base.PollStyleListenerAdapter(listener, batch_size, batch_timeout)


def _listen_for_notifications(driver, targets_and_priorities, pool, batch_size,
                              batch_timeout):
    targets = [messaging.Target(topic=f"{t.topic}.{priority}", exchange=t.exchange)
               for t, priority in targets_and_priorities]
    listener = _PromptListener(driver._exchange_manager, targets, pool)
    return driver_base.PollStyleListenerAdapter(listener, batch_size, batch_timeout)


def _isolate(transport):
    """Give a fake:// transport private exchanges and prompt listeners."""
    driver = getattr(transport, "_driver", None)
    if isinstance(driver, impl_fake.FakeDriver):
        driver._exchange_manager = _PrivateExchanges(driver._default_exchange)
        driver.listen = types.MethodType(_listen, driver)
        driver.listen_for_notifications = types.MethodType(_listen_for_notifications, driver)
        # The fake driver dumps every message to JSON to prove that a real
        # transport could carry it; ContextSerializer already makes every
        # argument a JSON primitive, so that second pass only costs time.
        driver._check_serialize = lambda message: None
    return transport


def pending_messages(transport) -> int:
    """Messages queued on a fake:// transport for topics someone listens
    to, and RPC messages taken off their queues whose handling has not
    finished (0 for other transports: their queues are the broker's)."""
    manager = getattr(getattr(transport, "_driver", None), "_exchange_manager", None)
    if not isinstance(manager, _PrivateExchanges):
        return 0
    return manager.pending()


def bus_in_process(transport) -> bool:
    """Whether *transport* is a private in-process bus (fake://): then no
    message outlives the process, and what was in flight when it died was
    lost with it."""
    return isinstance(getattr(transport, "_driver", None), impl_fake.FakeDriver)


#: The first poll timeout of oslo.messaging's AMQP listeners and reply
#: waiters after a message (its own default: 1 ms).
AMQP_IDLE_POLL = 0.5


def _calm_amqp_polls():
    """oslo.messaging's AMQP listeners and reply waiters wait for the next
    message with a timeout that drops to 1 ms after every message and doubles
    up to 5 s, so that acknowledgements other threads queue go out at once.
    RPC messages are acknowledged by the polling thread as they arrive (only
    notification listeners queue theirs, and compute_core runs none), so
    under a steady flow each message was followed by 5-10 empty wake-ups,
    each a timed-out read through kombu's retry wrappers (about a third of
    a compute host's CPU in bench/boot_distributed.py). A message still
    wakes the read at once; only the empty wake-ups go."""
    if amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MIN < AMQP_IDLE_POLL:
        amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MIN = AMQP_IDLE_POLL


class _RabbitConnection(impl_rabbit.Connection):
    """oslo.messaging's RabbitMQ connection, without the socket calls that
    change nothing.

    Around every publish oslo.messaging sets the socket's timeout and
    TCP_USER_TIMEOUT to the publish's timeout capped by the heartbeat
    timeout, and back again after: four system calls and their Python
    around each message, although with heartbeats on (the default, 60 s)
    a cast's and a call's (rpc_response_timeout, 60 s or more) come to
    the very value already set. Here a value the socket already has is
    not set again; any other (a shorter call timeout, a new socket after
    a reconnection, a timeout someone else changed) goes through
    oslo.messaging's own code as before."""

    _socket_timeout = None  # (socket, timeout) as last set by oslo.messaging

    def set_transport_socket_timeout(self, timeout=None):
        if self._heartbeat_supported_and_enabled():
            # The value oslo.messaging gives the socket (capped so that a
            # missed heartbeat is noticed).
            limit = self.heartbeat_timeout_threshold
            timeout = limit if timeout is None else min(limit, timeout)
        sock = getattr(getattr(self.channel, "connection", None), "sock", None)
        last = self._socket_timeout
        if (sock is not None and last is not None and last[0] is sock and last[1] == timeout
                and sock.gettimeout() == timeout):
            return
        super().set_transport_socket_timeout(timeout)
        self._socket_timeout = None if sock is None else (sock, timeout)


def _tune_rabbit(transport):
    """A RabbitMQ transport's connections (none is open yet) made
    :class:`_RabbitConnection`."""
    driver = getattr(transport, "_driver", None)
    if isinstance(driver, impl_rabbit.RabbitDriver):
        pool = driver._connection_pool
        if pool.connection_cls is impl_rabbit.Connection:
            pool.connection_cls = _RabbitConnection
    return transport


def get_transport(conf, url=None):
    try:
        transport = messaging.get_rpc_transport(conf, url=url)
    except (messaging.InvalidTransportURL, messaging.DriverLoadFailure) as exc:
        raise exception.ConfigError(f"invalid transport_url: {exc}") from None
    if isinstance(getattr(transport, "_driver", None), amqpdriver.AMQPDriverBase):
        _calm_amqp_polls()
    return _isolate(_tune_rabbit(transport))


def get_notification_transport(conf, url=None):
    try:
        transport = messaging.get_notification_transport(conf, url=url)
    except (messaging.InvalidTransportURL, messaging.DriverLoadFailure) as exc:
        raise exception.ConfigError(f"invalid transport_url: {exc}") from None
    return _isolate(_tune_rabbit(transport))


def observe(transport, observer) -> None:
    """Route every endpoint call of the RPC servers later made on
    *transport* through ``observer.dispatch(topic, method, fn, args,
    kwargs)`` (the embedded cloud's call log, clock and in-flight count)."""
    transport.compute_core_observer = observer


class _ObservedEndpoint:
    """An endpoint whose public methods go through an observer."""

    def __init__(self, endpoint, observer, topic):
        self._endpoint = endpoint
        self._observer = observer
        self._topic = topic

    def __getattr__(self, name):
        attr = getattr(self._endpoint, name)
        if name.startswith("_") or not inspect.isroutine(attr):
            return attr
        observer, topic = self._observer, self._topic

        def call(*args, **kwargs):
            return observer.dispatch(topic, name, attr, args, kwargs)
        return call


def get_server(transport, topic, server, endpoints, pool_size=None):
    target = messaging.Target(topic=topic, server=server)
    observer = getattr(transport, "compute_core_observer", None)
    if observer is not None:
        endpoints = [_ObservedEndpoint(e, observer, topic) for e in endpoints]
    return messaging.get_rpc_server(
        transport, target, endpoints,
        serializer=ContextSerializer(),
        access_policy=dispatcher.DefaultRPCAccessPolicy)


def get_client(transport, topic, version, server=None, timeout=None):
    target = messaging.Target(topic=topic, version=version, server=server)
    return messaging.get_rpc_client(transport, target, serializer=ContextSerializer(),
                                    timeout=timeout)


class Notifier:
    """Versioned notifications (``instance.create.start`` ...) on the
    ``versioned_notifications`` topic; a no-op unless
    [oslo_messaging_notifications] driver is set."""

    def __init__(self, conf, transport, publisher_id):
        self._notifier = messaging.Notifier(
            transport, publisher_id=publisher_id, serializer=ContextSerializer(),
            topics=["versioned_notifications"])

    def info(self, ctxt, event_type, payload):
        try:
            self._notifier.info(ctxt, event_type, payload)
        except Exception:  # a notification must never break the operation
            LOG.exception("could not emit notification %s", event_type)

    def error(self, ctxt, event_type, payload):
        try:
            self._notifier.error(ctxt, event_type, payload)
        except Exception:
            LOG.exception("could not emit notification %s", event_type)
