"""What the embedded cloud wraps around its APIs and RPC servers.

* :class:`CallLog`: every API request and RPC message the cloud served,
  with route, microversion, status and duration (``cloud.calls(...)``).
* :class:`APILayer`: the outermost WSGI layer of each API of the cloud. It
  binds the cloud's clock to the request's thread, counts requests in
  flight (a snapshot restore waits for none), applies API fault rules
  (:mod:`compute_core.faults`) and records the call.
* :class:`RPCObserver`: the same for the RPC servers of the cloud's
  services (installed with :func:`compute_core.rpc.observe`).

Production services run without any of these.
"""
from __future__ import annotations

import contextlib
import dataclasses
import re
import threading
import time

from compute_core import clock as clock_mod
from compute_core import faults as faults_mod
from compute_core import wsgi

MICROVERSION_HEADER = "openstack-api-version"


@dataclasses.dataclass(frozen=True)
class Call:
    """One API request (kind: the API's name) or RPC message (kind "rpc").

    For an API request, *route* is the template of the route it matched
    (``/servers/{server_id}``; the path when none matched), *status* the
    HTTP status; for an RPC message *route* is ``topic.method`` and
    *status* ``"ok"`` or the exception's class name."""

    kind: str
    method: str
    route: str
    path: str
    microversion: str | None
    status: int | str
    duration: float
    at: float


class CallLog:
    """The calls of one cloud, oldest first (bounded: *limit* newest kept)."""

    def __init__(self, limit: int = 100_000):
        self.limit = limit
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)
            if len(self._calls) > self.limit:
                del self._calls[: len(self._calls) - self.limit]

    def clear(self) -> None:
        with self._lock:
            self._calls = []

    def calls(self, route=None, method=None, kind=None, status=None) -> list[Call]:
        """The calls matching every filter given: *route* is a route
        template or ``topic.method`` (equal), or a compiled regular
        expression (searched in the route and the path); *status* an int,
        a string, or a callable taking the status."""
        with self._lock:
            found = list(self._calls)
        if kind is not None:
            found = [c for c in found if c.kind == kind]
        if method is not None:
            found = [c for c in found if c.method == method.upper()
                     or (c.kind == "rpc" and c.method == method)]
        if route is not None:
            if isinstance(route, re.Pattern):
                found = [c for c in found if route.search(c.route) or route.search(c.path)]
            else:
                found = [c for c in found if c.route == route]
        if status is not None:
            found = [c for c in found if (status(c.status) if callable(status)
                                          else c.status == status)]
        return found


class InFlight:
    """Counts the work a cloud is doing (requests, RPC messages), by label."""

    def __init__(self):
        self._work: dict[int, str] = {}
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def track(self, label: str):
        key = object()
        with self._cond:
            self._work[id(key)] = label
        try:
            yield
        finally:
            with self._cond:
                del self._work[id(key)]
                if not self._work:
                    self._cond.notify_all()

    @property
    def count(self) -> int:
        return len(self._work)

    def labels(self) -> list[str]:
        with self._cond:
            return sorted(self._work.values())

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._work, timeout)


class APILayer:
    """The cloud's outer WSGI layer of one API (see the module doc).
    *prefix* is stripped from the path before fault routes are matched
    ("/v2.1" for the compute API)."""

    def __init__(self, app, api: str, clock, calls: CallLog, faults, in_flight: InFlight,
                 prefix: str = "", control=None):
        self.app = app
        self.api = api
        self.clock = clock
        self.calls = calls
        self.faults = faults
        self.in_flight = in_flight
        self.prefix = prefix
        self.control = control

    def __call__(self, environ, start_response):
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if self.control is not None and path.startswith(self.control.PREFIX):
            return self.control(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        with clock_mod.using(self.clock), self.in_flight.track(f"{self.api} {method} {path}"):
            began = time.perf_counter()
            answered = []

            def _start(status, headers, exc_info=None):
                answered.append((status, headers))
                return start_response(status, headers, exc_info)

            relative = path[len(self.prefix):] if path.startswith(self.prefix) else path
            rule = self.faults.for_api(self.api, method, relative.rstrip("/") or "/")
            if rule is None:
                result = self._run(environ, _start)
            else:
                result = self._fault(rule, environ, start_response, answered)
            if answered:
                status, headers = answered[-1]
                microversion = next((v for k, v in headers
                                     if k.lower() == MICROVERSION_HEADER), None)
                code = int(status.split(" ", 1)[0])
            else:
                microversion, code = None, 0
            self.calls.record(Call(self.api, method, environ.get(wsgi.ROUTE_KEY) or relative,
                                   path, microversion, code, time.perf_counter() - began,
                                   self.clock.time()))
            return result

    def _run(self, environ, start_response):
        # A response body the app streams is not buffered here: its
        # duration is the app's, up to the first byte.
        return self.app(environ, start_response)

    def _fault(self, rule, environ, start_response, answered):
        self.clock.sleep(rule.latency)
        if rule.mode == "error-but-do-it":
            self._run(environ, lambda status, headers, exc_info=None: None)
        body = faults_mod.api_error_body(self.api, rule.status, rule.message)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        status = f"{rule.status} Injected Fault"
        answered.append((status, headers))
        start_response(status, headers)
        return [body]


class RPCObserver:
    """Wraps each RPC endpoint method call of the cloud's services: binds
    the clock, counts it in flight, applies RPC fault rules and records it."""

    def __init__(self, clock, calls: CallLog, in_flight: InFlight, faults=None):
        self.clock = clock
        self.calls = calls
        self.in_flight = in_flight
        self.faults = faults

    def dispatch(self, topic: str, method: str, fn, args, kwargs):
        with clock_mod.using(self.clock), self.in_flight.track(f"rpc {topic}.{method}"):
            began = time.perf_counter()
            status = "ok"
            try:
                rule = self.faults.for_rpc(topic, method, kwargs) \
                    if self.faults is not None and self.faults.rules else None
                if rule is None:
                    return fn(*args, **kwargs)
                self.clock.sleep(rule.latency)
                if rule.mode == "error-but-do-it":
                    fn(*args, **kwargs)
                raise faults_mod.InjectedFault(reason=rule.message)
            except BaseException as exc:
                status = type(exc).__name__
                raise
            finally:
                # compute.host1 -> route "compute.<method>", path the topic
                base = topic.split(".", 1)[0]
                self.calls.record(Call("rpc", method, f"{base}.{method}", topic, None, status,
                                       time.perf_counter() - began, self.clock.time()))
