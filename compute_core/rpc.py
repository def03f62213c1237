"""oslo.messaging plumbing: transports, servers, clients, notifications.

Contexts travel as dicts and come back as :class:`RequestContext`. Servers
use the threading executor (no eventlet).
"""
from __future__ import annotations

import logging
import threading

import oslo_messaging as messaging
from oslo_messaging._drivers import impl_fake
from oslo_messaging.rpc import dispatcher
from oslo_serialization import jsonutils

from compute_core import context as ctx_mod
from compute_core import exception

LOG = logging.getLogger(__name__)



class ContextSerializer(messaging.NoOpSerializer):
    """Contexts as dicts; entities as JSON primitives (datetimes become ISO
    strings), so any transport can carry them."""

    def serialize_entity(self, ctxt, entity):
        return jsonutils.to_primitive(entity, convert_instances=True)

    def serialize_context(self, ctxt):
        return ctxt.to_dict() if isinstance(ctxt, ctx_mod.RequestContext) else dict(ctxt or {})

    def deserialize_context(self, ctxt):
        return ctx_mod.RequestContext.from_dict(ctxt or {})


class _PrivateExchanges(impl_fake.FakeExchangeManager):
    """The fake driver keeps its exchanges in a class attribute, shared by
    every fake:// transport of the process, and its cleanup() empties them
    all. Each of our transports gets exchanges of its own instead, so two
    embedded clouds never see each other's messages and stopping one leaves
    the other's queues alone."""

    def __init__(self, default_exchange):
        super().__init__(default_exchange)
        self._exchanges = {}
        self._exchanges_lock = threading.Lock()

    def cleanup(self):
        with self._exchanges_lock:
            self._exchanges.clear()


def _isolate(transport):
    driver = getattr(transport, "_driver", None)
    if isinstance(driver, impl_fake.FakeDriver):
        driver._exchange_manager = _PrivateExchanges(driver._default_exchange)
    return transport


def get_transport(conf, url=None):
    try:
        return _isolate(messaging.get_rpc_transport(conf, url=url))
    except (messaging.InvalidTransportURL, messaging.DriverLoadFailure) as exc:
        raise exception.ConfigError(f"invalid transport_url: {exc}") from None


def get_notification_transport(conf, url=None):
    try:
        return _isolate(messaging.get_notification_transport(conf, url=url))
    except (messaging.InvalidTransportURL, messaging.DriverLoadFailure) as exc:
        raise exception.ConfigError(f"invalid transport_url: {exc}") from None


def get_server(transport, topic, server, endpoints, pool_size=None):
    target = messaging.Target(topic=topic, server=server)
    return messaging.get_rpc_server(
        transport, target, endpoints, executor="threading",
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
