"""Running a service: its RPC server (threading executor) and periodic tasks.

:class:`Service` owns nothing global; start() and stop() are symmetric, and
stop() waits for every thread it started.
"""
from __future__ import annotations

import logging
import threading

from compute_core import clock as clock_mod
from compute_core import rpc

LOG = logging.getLogger(__name__)


class PeriodicRunner:
    """Runs (name, interval, fn) tasks on one thread until stopped. A task
    that raises is logged and runs again at its next interval."""

    def __init__(self, name: str, tasks, clock=None):
        self.name = name
        self.tasks = [(n, float(i), fn) for n, i, fn in tasks if i and i > 0]
        self.clock = clock or clock_mod.REAL
        self._stop = self.clock.event()
        self._thread = None

    def start(self, run_now=False):
        if not self.tasks:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(run_now,),
                                        name=f"periodic-{self.name}", daemon=True)
        self._thread.start()

    def _run(self, run_now):
        clock = self.clock
        clock_mod.bind(clock)
        try:
            start = clock.monotonic()
            due = {n: (start if run_now else start + i) for n, i, _ in self.tasks}
            while not self._stop.is_set():
                now = clock.monotonic()
                for name, interval, fn in self.tasks:
                    if now >= due[name] and not self._stop.is_set():
                        try:
                            fn()
                        except Exception:
                            LOG.exception("periodic task %s of %s failed", name, self.name)
                        due[name] = clock.monotonic() + interval
                wait = max(0.0, min(due.values()) - clock.monotonic())
                clock.wait(self._stop, wait)
        finally:
            clock.loop_done()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class Service:
    """One service: an RPC server on *topic* (and ``topic.server``) and its
    periodic tasks."""

    def __init__(self, name, transport, topic, server, endpoints, periodic=(),
                 on_start=None, on_stop=None, clock=None):
        self.name = name
        self.transport = transport
        self.topic = topic
        self.server_name = server
        self.endpoints = endpoints
        self.clock = clock or clock_mod.REAL
        self.periodic = PeriodicRunner(f"{name}@{server}", periodic, self.clock)
        self.on_start = on_start
        self.on_stop = on_stop
        self._rpc_server = None
        self.running = False
        self._quiesced = False

    def start(self):
        if self.running:
            return
        if self._quiesced:
            self.stop()  # finish the stop a quiesce began before starting anew
        if self.on_start:
            with clock_mod.using(self.clock):
                self.on_start()
        self._rpc_server = rpc.get_server(self.transport, self.topic, self.server_name,
                                          self.endpoints)
        self._rpc_server.start()
        self.periodic.start()
        self.running = True

    def quiesce(self):
        """Stop taking work (RPC messages, periodic tasks) and wait until
        the work already taken is done; stop() then only waits for the
        idle worker threads. A caller whose work calls other services
        quiesces before they stop, so that its calls are answered."""
        if not self.running:
            return
        self.running = False
        self._quiesced = True
        self.periodic.stop()
        if self._rpc_server is not None:
            self._rpc_server.stop()
            # The messages handed to the worker threads are done when the
            # executor's queue is: known without waiting out the idle
            # workers' poll (up to a second), which stop() does. Where the
            # executor does not show its queue, wait for both now.
            executor = getattr(self._rpc_server, "_work_executor", None)
            pending = getattr(executor, "_work_queue", None)
            if callable(getattr(pending, "join", None)):
                pending.join()
            else:
                self._rpc_server.wait()
                self._rpc_server = None

    def stop(self):
        if not (self.running or self._quiesced):
            return
        self.quiesce()
        if self._rpc_server is not None:
            self._rpc_server.wait()
            self._rpc_server = None
        self._quiesced = False
        if self.on_stop:
            try:
                self.on_stop()
            except Exception:
                LOG.exception("stopping %s", self.name)
