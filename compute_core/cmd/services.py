"""The RPC services of the distributed mode, one process each:
``compute-conductor``, ``compute-scheduler`` and ``compute-compute --host NAME``.

Every command loads its own ConfigOpts (``--config-file``, repeatable),
logs to stderr, builds its service with :mod:`compute_core.assembly` (the
code path the embedded Cloud uses too), runs until SIGTERM or SIGINT and
then stops cleanly with exit code 0. A start-up error (bad configuration,
unreachable or unmigrated database, missing plugin, port in use) is one
line on stderr and exit code 1, never a traceback.

:func:`run` is shared with the API commands of :mod:`compute_core.cmd.api`.
"""
from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading

from compute_core.cmd import common

READY = "ready"  # word of the log line that says a service is serving

LOG = logging.getLogger("compute_core.cmd")


class StartupError(Exception):
    """A start-up problem explained in one line."""


def argument_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    common.add_config_args(parser)  # --config-file (repeatable), --config-dir, --debug
    return parser


def load_conf(args):
    """The command's ConfigOpts, with ``args.overrides`` ({option: value})."""
    conf = common.load_config(args)
    for name, value in (getattr(args, "overrides", None) or {}).items():
        conf.set_override(name, value)
    return conf


def setup_logging(debug: bool = False) -> None:
    """Services log at INFO to stderr (commands are quieter: see common)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    if not debug:
        # One line per message and RPC connection is plenty at INFO.
        for noisy in ("oslo_messaging", "oslo_service", "amqp", "kombu", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        for noisiest in ("oslo_messaging._drivers.impl_rabbit", "stevedore"):
            logging.getLogger(noisiest).setLevel(logging.ERROR)


def check_migrated(conf, *which: str) -> None:
    """Refuse to start on a database that ``compute-manage`` has not synced.
    *which* names "api", "cell" ([database]) or "placement". An unreachable
    database is retried as [database] max_retries / retry_interval say, so
    a service may start before its database."""
    from compute_core.db import migration
    from compute_core.db.engines import Database

    urls = {"api": conf.api_database.connection, "cell": conf.database.connection,
            "placement": conf.placement_database.connection}
    for name in which:
        if not urls[name]:
            group = {"api": "api_database", "cell": "database"}.get(name, f"{name}_database")
            raise StartupError(f"[{group}] connection is not set")
        group = {"api": conf.api_database, "cell": conf.database,
                 "placement": conf.placement_database}[name]
        database = Database(urls[name], max_retries=group.max_retries,
                            retry_interval=group.retry_interval)
        try:
            migration.check_current(database, name)
        finally:
            database.dispose()


def one_line(exc: BaseException) -> str:
    from compute_core import exception

    if isinstance(exc, (StartupError, exception.ComputeCoreError, common.CommandError)):
        return common.first_line(exc)
    if isinstance(exc, common.EXPECTED_ERRORS):
        return common.describe_error(exc)
    return f"{type(exc).__name__}: {common.first_line(exc)}"


class Interrupted(Exception):
    """SIGTERM or SIGINT arrived while the service was still starting."""


class SignalWaiter:
    """Turns SIGTERM and SIGINT into an event (installed before start-up, so
    a signal while waiting for a peer still ends in a clean stop)."""

    def __init__(self):
        self.event = threading.Event()
        self.signum = None
        self._previous = {}

    def install(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum, _frame):
        self.signum = signum
        self.event.set()

    def restore(self):
        for signum, old in self._previous.items():
            signal.signal(signum, old)
        self._previous = {}

    def wait(self) -> int:
        while not self.event.wait(1.0):
            pass
        return self.signum

    def sleep(self, seconds: float) -> None:
        """Sleep, or raise Interrupted as soon as a signal arrives."""
        if self.event.wait(seconds):
            raise Interrupted()


def run(prog: str, args, build) -> int:
    """Start what ``build(conf, args)`` returns (a list of objects with
    start() and stop(); items may be None), serve until a signal, stop in
    reverse order. ``args.signals`` is the :class:`SignalWaiter`."""
    setup_logging(args.debug)
    args.signals = signals = SignalWaiter()
    signals.install()
    started = []
    try:
        try:
            conf = load_conf(args)
            parts = [p for p in build(conf, args) if p is not None]
            for part in parts:
                started.append(part)
                part.start()
        except Interrupted:
            LOG.info("%s interrupted while starting", prog)
            return 1 if _stop_all(started) else 0
        except Exception as exc:
            LOG.debug("start-up failed", exc_info=True)
            _stop_all(started)
            print(f"{prog}: error: {one_line(exc)}", file=sys.stderr, flush=True)
            return 1
        if signals.event.is_set():
            LOG.info("%s interrupted while starting", prog)
            return 1 if _stop_all(started) else 0
        # What start-up built (modules, configuration, engines, apps) lives
        # as long as the process: keep it out of the collector's full passes,
        # whose cost otherwise grows with the heap and lands on requests
        # that build large responses.
        gc.collect()
        gc.freeze()
        LOG.info("%s %s (pid %d)", prog, READY, os.getpid())
        signum = signals.wait()
        LOG.info("%s stopping on %s", prog, signal.Signals(signum).name)
        failed = _stop_all(started)
        LOG.info("%s stopped", prog)
        return 1 if failed else 0
    finally:
        signals.restore()


def _stop_all(parts) -> bool:
    failed = False
    while parts:
        part = parts.pop()
        try:
            part.stop()
        except Exception:
            LOG.exception("error while stopping %s", type(part).__name__)
            failed = True
    return failed


class Resource:
    """start()/stop() around a plain close function (transports, engines)."""

    def __init__(self, close, start=None):
        self._close = close
        self._start = start

    def start(self):
        if self._start:
            self._start()

    def stop(self):
        self._close()


def transports(conf):
    """The RPC and notification transports of *conf* and a Resource that
    cleans both up."""
    from compute_core import rpc

    transport = rpc.get_transport(conf)
    notification = rpc.get_notification_transport(conf)

    def close():
        notification.cleanup()
        transport.cleanup()

    return transport, notification, Resource(close)


# ------------------------------------------------------------------ builders
def _build_conductor(conf, args):
    from compute_core import assembly

    check_migrated(conf, "api", "cell")
    transport, notification, cleanup = transports(conf)
    return [cleanup, assembly.conductor_service(conf, transport, notification)]


def _build_scheduler(conf, args):
    from compute_core import assembly

    check_migrated(conf, "api")
    transport, _notification, cleanup = transports(conf)
    return [cleanup, assembly.scheduler_service(conf, transport)]


class ConductorWait:
    """Start-up step of a compute service: wait until a conductor answers,
    as nova-compute does, since all its database access goes through one."""

    def __init__(self, transport, host, signals, timeout=5):
        self.transport = transport
        self.host = host
        self.signals = signals
        self.timeout = timeout

    def start(self):
        import oslo_messaging as messaging

        from compute_core import context
        from compute_core.conductor import rpcapi as conductor_rpcapi

        conductor = conductor_rpcapi.ConductorAPI(self.transport, timeout=self.timeout)
        waited = 0
        while True:
            try:
                conductor.instances_on_host(context.get_admin_context(), self.host)
                return
            except messaging.MessagingTimeout:
                waited += self.timeout
                LOG.warning("no conductor answered on topic %s for %d s; still waiting",
                            conductor_rpcapi.TOPIC, waited)
                self.signals.sleep(0)

    def stop(self):
        pass


def _build_compute(conf, args):
    from compute_core import assembly

    transport, notification, cleanup = transports(conf)
    return [cleanup, ConductorWait(transport, conf.host, args.signals),
            assembly.compute_service(conf, transport, conf.host,
                                     notification_transport=notification)]


# ------------------------------------------------------------------ commands
def conductor_main(argv=None) -> int:
    parser = argument_parser("compute-conductor", "Run the conductor service.")
    return run(parser.prog, parser.parse_args(argv), _build_conductor)


def scheduler_main(argv=None) -> int:
    parser = argument_parser("compute-scheduler", "Run the scheduler service.")
    return run(parser.prog, parser.parse_args(argv), _build_scheduler)


def compute_main(argv=None) -> int:
    parser = argument_parser("compute-compute",
                             "Run the compute service of one hypervisor host.")
    parser.add_argument("--host", metavar="NAME",
                        help="compute host name (default: [DEFAULT] host)")
    args = parser.parse_args(argv)
    args.overrides = {"host": args.host} if args.host else {}
    return run(parser.prog, args, _build_compute)
