"""Scoped, seeded fault injection for the embedded cloud.

A :class:`FaultRules` holds rules; three hook points consult it, one each:

* :class:`FaultingDriver` (:func:`faulting_driver`), the proxy the embedded cloud puts around every
  compute host's virt driver: an operation is a driver method name
  (``spawn``, ``destroy``, ``reboot``, ``power_off``, the resize and
  migration steps ``migrate_disk_and_power_off``, ``finish_migration``,
  ``confirm_migration``, ``finish_revert_migration`` ...), or one of the
  aliases in :data:`ALIASES` (``delete``, ``stop``, ``start``);
* the embedded cloud's WSGI layer (:mod:`compute_core.instrument`): an
  operation ``"<api>:<METHOD> <route>"``, e.g. ``"compute:POST /servers"``,
  ``"compute:* /servers/{server_id}/action"``, ``"placement:PUT
  /allocations/{consumer_uuid}"`` (``{name}`` matches one path segment);
* the embedded cloud's RPC dispatch (:class:`compute_core.instrument.RPCObserver`):
  an operation ``"rpc:<topic>.<method>"`` names a method of the compute,
  conductor or scheduler RPC endpoint (``"rpc:compute.prep_resize"``,
  ``"rpc:conductor.migrate_server"``), ``"rpc:<method>"`` that method on
  any of them. Nova's names of the compute resize steps are aliases
  (:data:`RPC_ALIASES`: ``rpc:compute.resize_instance`` is
  ``rpc:compute.migrate_disk_and_power_off``, ``finish_resize`` is
  ``finish_migration``, ...). The method raises :class:`InjectedFault`
  before it runs (``error``) or after (``error-but-do-it``): the caller of
  an RPC call gets the error, as from a host that failed the step; the
  error of a cast is only logged by the service (the work is lost, as
  with a service that died on it). The ``host`` matcher is the compute
  host the message went to (for the conductor and scheduler: the
  server's host); ``name``, ``project`` and ``metadata`` are read from
  the server the message is about (looked up when only its uuid travels).

A rule fires on a matching call (``match``: regular expressions over the
server's ``name``, ``uuid``, ``host`` or ``project``, over ``metadata``
keys given as ``{"metadata": {"key": "regex"}}``, or over an API call's
``path``), at most ``count`` times and each time with ``probability`` drawn
from its own ``random.Random(seed)``; it may first add ``latency`` seconds
(on the cloud's clock), then ``mode="error"`` fails the call (the driver
raises; the API answers ``status``) or ``mode="error-but-do-it"`` does the
call and then fails it. Every firing is logged (:attr:`FaultRules.log`).

Only the embedded cloud builds these: no production service path has them.
"""
from __future__ import annotations

import inspect
import itertools
import json
import random
import re
import threading

from compute_core import clock as clock_mod
from compute_core import exception


class InjectedFault(exception.ComputeCoreError):
    """What an RPC method raises when a fault rule fires on it."""

    msg_fmt = "Injected fault: %(reason)s"

MODES = ("error", "error-but-do-it")
ALIASES = {"delete": "destroy", "stop": "power_off", "start": "power_on"}
DRIVER_MATCH_KEYS = {"name", "uuid", "host", "project", "metadata"}
# Nova's names of the compute resize steps -> this compute RPC API's
RPC_ALIASES = {"resize_instance": "migrate_disk_and_power_off",
               "finish_resize": "finish_migration",
               "confirm_resize": "confirm_migration",
               "revert_resize": "revert_migration",
               "finish_revert_resize": "finish_revert_migration"}
RPC_TOPICS = ("compute", "conductor", "scheduler")
API_MATCH_KEYS = {"path", "project"}
APIS = ("compute", "placement", "identity")


def _route_regex(template: str) -> str:
    parts = re.split(r"(\{[^}/]+\})", template)
    return "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)


class FaultRule:
    def __init__(self, rule_id, operation, match, count, probability, seed, latency, mode,
                 message, status):
        self.id = rule_id
        self.operation = operation
        self.match = match
        self.count = count
        self.probability = probability
        self.seed = seed
        self.latency = latency
        self.mode = mode
        self.message = message
        self.status = status
        self.fired = 0
        self._random = random.Random(seed)
        self.api = None
        self.rpc = None
        if operation.startswith("rpc:"):
            # (topic or None, method)
            topic, _, method = operation[4:].rpartition(".")
            self.rpc = (topic or None, method)
        elif ":" in operation:
            api, _, call = operation.partition(":")
            method, _, route = call.strip().partition(" ")
            self.api = api
            self.method = method.upper()
            self._route = re.compile(_route_regex(route.strip()))

    def to_dict(self) -> dict:
        return {"id": self.id, "operation": self.operation, "match": self.match,
                "count": self.count, "probability": self.probability, "seed": self.seed,
                "latency": self.latency, "mode": self.mode, "message": self.message,
                "status": self.status, "fired": self.fired}

    def matches_rpc(self, topic, method) -> bool:
        want_topic, want_method = self.rpc
        return want_method == method and want_topic in (None, topic)

    def matches_api(self, api, method, path) -> bool:
        return (self.api == api and self.method in ("*", method)
                and self._route.fullmatch(path) is not None)

    def matches(self, subject: dict) -> bool:
        for key, pattern in self.match.items():
            if key == "metadata":
                meta = subject.get("metadata") or {}
                for mkey, mpattern in pattern.items():
                    if mkey not in meta or not re.fullmatch(mpattern, str(meta[mkey])):
                        return False
            elif subject.get(key) is None or not re.fullmatch(pattern, str(subject[key])):
                return False
        return True


class FaultRules:
    """The fault rules of one cloud and the log of what fired."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self.log: list[dict] = []
        # resolve(uuid) -> the instance dict or None: set by the cloud, for
        # RPC messages that carry only a server's uuid
        self.resolve = None

    def add(self, operation: str, match: dict | None = None, count: int | None = None,
            probability: float | None = None, seed=None, latency: float = 0.0,
            mode: str = "error", message: str | None = None, status: int = 500) -> FaultRule:
        """Add a rule (see the module doc); returns it (``.id``, ``.fired``)."""
        if not isinstance(operation, str) or not operation.strip():
            raise exception.Invalid("operation must be a non-empty string")
        operation = operation.strip()
        match = dict(match or {})
        if operation.startswith("rpc:"):
            operation = _rpc_operation(operation)
            allowed = DRIVER_MATCH_KEYS
        elif ":" in operation:
            api, _, call = operation.partition(":")
            method, _, route = call.strip().partition(" ")
            if api not in APIS or not method or not route.startswith("/"):
                raise exception.Invalid(
                    f"operation {operation!r}: an API operation is '<api>:<METHOD> /route' "
                    f"with api one of {', '.join(APIS)}")
            allowed = API_MATCH_KEYS
        else:
            operation = ALIASES.get(operation, operation)
            allowed = DRIVER_MATCH_KEYS
        for key, pattern in match.items():
            if key not in allowed:
                raise exception.Invalid(f"match: unknown key {key!r} for {operation!r} "
                                        f"(known: {', '.join(sorted(allowed))})")
            if key == "metadata" and not isinstance(pattern, dict):
                # matches() reads it as {key: regular expression}
                raise exception.Invalid("match.metadata: an object of metadata keys and "
                                        "regular expressions")
            patterns = pattern.values() if key == "metadata" else [pattern]
            for p in patterns:
                if not isinstance(p, str):
                    raise exception.Invalid(f"match.{key}: a regular expression string")
                try:
                    re.compile(p)
                except re.error as exc:
                    raise exception.Invalid(f"match.{key}: bad regular expression: {exc}") \
                        from None
        if count is not None and (not isinstance(count, int) or count < 1):
            raise exception.Invalid("count must be a positive integer")
        if probability is not None and not (isinstance(probability, (int, float))
                                            and 0 <= probability <= 1):
            raise exception.Invalid("probability must be between 0 and 1")
        if not isinstance(latency, (int, float)) or latency < 0:
            raise exception.Invalid("latency must be a number of seconds >= 0")
        if mode not in MODES:
            raise exception.Invalid(f"mode must be one of {', '.join(MODES)}")
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise exception.Invalid("status must be an HTTP error status (400-599)")
        with self._lock:
            rule = FaultRule(next(self._ids), operation, match, count, probability, seed,
                             float(latency), mode, message or f"Injected {operation} fault",
                             status)
            self._rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> None:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            if len(self._rules) == before:
                raise exception.NotFound(f"no fault rule {rule_id}")

    def clear(self) -> None:
        """Drop every rule and the log."""
        with self._lock:
            self._rules = []
            self.log = []

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    def _fire(self, candidates, subject, what) -> FaultRule | None:
        with self._lock:
            for rule in candidates:
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if not rule.matches(subject):
                    continue
                if rule.probability is not None and rule._random.random() >= rule.probability:
                    continue
                rule.fired += 1
                self.log.append({"rule": rule.id, "operation": rule.operation,
                                 "mode": rule.mode, "target": what,
                                 "at": clock_mod.current().time()})
                return rule
        return None

    def for_driver(self, operation: str, subject: dict) -> FaultRule | None:
        """The rule that fires for this driver call, if any."""
        if not self._rules:
            return None
        rules = [r for r in self._rules if r.api is None and r.rpc is None
                 and r.operation == operation]
        return self._fire(rules, subject, subject.get("uuid") or subject.get("host")) \
            if rules else None

    def for_rpc(self, topic: str, method: str, kwargs: dict) -> FaultRule | None:
        """The rule that fires for this RPC endpoint call (*topic* as the
        server listens: ``compute.host1``, ``conductor``), if any."""
        if not self._rules:
            return None
        base, _, server = topic.partition(".")
        rules = [r for r in self._rules if r.rpc is not None and r.matches_rpc(base, method)]
        if not rules:
            return None
        subject = _rpc_subject(kwargs, server or None, self.resolve)
        return self._fire(rules, subject, subject.get("uuid") or f"{base}.{method}")

    def for_api(self, api: str, method: str, path: str, project=None) -> FaultRule | None:
        if not self._rules:
            return None
        rules = [r for r in self._rules if r.api is not None and r.matches_api(api, method, path)]
        return self._fire(rules, {"path": path, "project": project},
                          f"{method} {path}") if rules else None


def faulting_driver(driver, rules: "FaultRules", host: str) -> "FaultingDriver":
    """*driver* seen through *rules*, under its own class name (the compute
    service reports its driver by that name)."""
    cls = type(driver)
    proxy = type(cls.__name__, (FaultingDriver,), {"__module__": cls.__module__,
                                                   "__qualname__": cls.__qualname__})
    return proxy(driver, rules, host)


class FaultingDriver:
    """A virt driver seen through the cloud's fault rules: every public
    method is an operation (see the module doc)."""

    def __init__(self, driver, rules: FaultRules, host: str):
        object.__setattr__(self, "_driver", driver)
        object.__setattr__(self, "_rules", rules)
        object.__setattr__(self, "_host", host)

    def __getattr__(self, name):
        attr = getattr(self._driver, name)
        if name.startswith("_") or not inspect.isroutine(attr):
            return attr
        rules = self._rules
        host = self._host

        def call(*args, **kwargs):
            rule = rules.for_driver(name, _subject(host, args, kwargs)) if rules.rules \
                else None
            if rule is None:
                return attr(*args, **kwargs)
            clock_mod.current().sleep(rule.latency)
            if rule.mode == "error-but-do-it":
                attr(*args, **kwargs)
            raise exception.VirtDriverError(reason=rule.message)
        return call

    def __setattr__(self, name, value):
        setattr(self._driver, name, value)


def _subject(host, args, kwargs) -> dict:
    instance = kwargs.get("instance")
    if instance is None:
        instance = next((a for a in args if isinstance(a, dict) and "uuid" in a), None)
    if not isinstance(instance, dict):
        return {"host": host}
    meta = instance.get("metadata")
    return {"host": host, "uuid": instance.get("uuid"), "name": instance.get("display_name"),
            "project": instance.get("project_id"), "metadata": meta or {}}


def _rpc_operation(operation: str) -> str:
    """``rpc:[topic.]method`` checked against the RPC endpoints, aliases resolved."""
    topic, _, method = operation[4:].strip().rpartition(".")
    if topic and topic not in RPC_TOPICS:
        raise exception.Invalid(f"operation {operation!r}: the RPC topic is one of "
                                f"{', '.join(RPC_TOPICS)}")
    if topic == "compute":
        method = RPC_ALIASES.get(method, method)
    known = rpc_methods()
    where = [topic] if topic else list(RPC_TOPICS)
    if not any(method in known[t] for t in where):
        raise exception.Invalid(
            f"operation {operation!r}: no RPC method {method!r} on "
            f"{' or '.join(where)} (an RPC operation is 'rpc:<topic>.<method>')")
    return f"rpc:{topic + '.' if topic else ''}{method}"


def rpc_methods() -> dict[str, set[str]]:
    """The public methods of the compute, conductor and scheduler RPC endpoints."""
    from compute_core.compute.manager import ComputeManager
    from compute_core.conductor.manager import ConductorManager
    from compute_core.scheduler.manager import SchedulerManager

    # the managers are composed of parts (mixins): every class of the MRO counts
    return {topic: {n for part in cls.__mro__ for n, v in vars(part).items()
                    if not n.startswith("_") and inspect.isfunction(v)}
            for topic, cls in (("compute", ComputeManager), ("conductor", ConductorManager),
                               ("scheduler", SchedulerManager))}


def _rpc_subject(kwargs: dict, server, resolve) -> dict:
    instance = kwargs.get("instance")
    uuid = instance.get("uuid") if isinstance(instance, dict) else None
    if uuid is None:
        uuid = kwargs.get("instance_uuid")
        if uuid is None and len(kwargs.get("instance_uuids") or ()) == 1:
            uuid = kwargs["instance_uuids"][0]
        instance = resolve(uuid) if uuid is not None and resolve is not None else None
    if not isinstance(instance, dict):
        return {"host": server, "uuid": uuid}
    subject = _subject(server or instance.get("host"), (instance,), {})
    subject["uuid"] = uuid
    return subject


def api_error_body(api: str, status: int, message: str) -> bytes:
    """An injected API error in the API's own fault format."""
    if api == "placement":
        body = {"errors": [{"status": status, "title": "Injected fault", "detail": message,
                            "request_id": None}]}
    elif api == "identity":
        body = {"error": {"code": status, "title": "Injected fault", "message": message}}
    else:
        key = "computeFault" if status >= 500 else "badRequest"
        body = {key: {"code": status, "message": message}}
    return json.dumps(body).encode()
