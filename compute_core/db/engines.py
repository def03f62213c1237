"""Database handles: one oslo.db transaction context (own engine) per database.

A :class:`Database` is created per URL by whoever owns it (a service, a Cloud)
and disposed by it; nothing is cached at module level, so two clouds in one
process never share an engine.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import random
import ssl
import threading
import time
import weakref

import sqlalchemy as sa
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade

from compute_core import exception

LOG = logging.getLogger(__name__)

# Pool defaults of a server database (MySQL, PostgreSQL) for a service that
# serves many requests at once: as many kept connections as a WSGI server
# has threads and a few more, so 20 requests in flight reuse connections
# instead of opening and closing one each (oslo.db's 5 kept connections
# churned 3.6 connections per server booted and deleted).
DEFAULT_POOL_SIZE = 20
DEFAULT_MAX_OVERFLOW = 50
DEFAULT_POOL_TIMEOUT = 30
DEFAULT_RECYCLE_TIME = 3600
# oslo.db's: a service may start before its database.
DEFAULT_MAX_RETRIES = 10
DEFAULT_RETRY_INTERVAL = 10

# The options of a [database]-like group that a Database takes.
ENGINE_OPTIONS = ("max_pool_size", "max_overflow", "pool_timeout", "connection_recycle_time",
                  "max_retries", "retry_interval", "connection_parameters")


def engine_options(group) -> dict:
    """:class:`Database` keyword arguments from a config group such as
    ``conf.database`` or ``conf.api_database`` (options it lacks are left
    to the defaults)."""
    options = {}
    for name in ENGINE_OPTIONS:
        try:
            options[name] = getattr(group, name)
        except AttributeError:  # oslo.config's NoSuchOptError is one
            continue
    return options


class Database:
    """One database: its engine (through oslo.db) and connection helpers.

    ``connections_opened`` counts the connections the engine opened (each
    one is logged at debug level): with a pool that fits the load it stays
    near the pool size however many transactions run."""

    def __init__(self, url: str, max_pool_size: int | None = None,
                 max_overflow: int | None = None, max_retries: int | None = None,
                 retry_interval: int | None = None, pool_timeout: int | None = None,
                 connection_recycle_time: int | None = None,
                 connection_parameters: str | None = None):
        if not url:
            raise exception.ConfigError("no database connection URL configured")
        self.url = url
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError:
            raise exception.ConfigError(f"invalid database URL {url!r}") from None
        self.backend = parsed.get_backend_name()
        if self.backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
            path = os.path.abspath(parsed.database)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self._write_lock = _write_lock_for(path)
        else:
            self._write_lock = threading.RLock()
        self._tc = enginefacade.transaction_context()
        # thread_checkin=False: oslo.db would otherwise time.sleep(0) at every
        # connection check-in so eventlet greenthreads get a turn; with real
        # threads that only forces a GIL hand-off per query.
        # max_retries=0: oslo.db would connect once before our connect hooks
        # are in; the engine property makes that first connection itself.
        kwargs = {"connection": url, "sqlite_fk": True, "thread_checkin": False,
                  "max_retries": 0}
        if connection_parameters:
            kwargs["connection_parameters"] = connection_parameters
            parsed = parsed.update_query_string(connection_parameters, append=True)
        # The default (10 tries, 10 s apart) suits a service starting before
        # its database; a command line tool passes max_retries=1.
        self._retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        self._retry_interval = (DEFAULT_RETRY_INTERVAL if retry_interval is None
                                else retry_interval)
        if self.backend != "sqlite":
            kwargs.update(
                max_pool_size=DEFAULT_POOL_SIZE if max_pool_size is None else max_pool_size,
                max_overflow=DEFAULT_MAX_OVERFLOW if max_overflow is None else max_overflow,
                pool_timeout=DEFAULT_POOL_TIMEOUT if pool_timeout is None else pool_timeout,
                connection_recycle_time=(DEFAULT_RECYCLE_TIME if connection_recycle_time is None
                                         else connection_recycle_time))
        self.pool_options = {k: kwargs[k] for k in ("max_pool_size", "max_overflow",
                                                    "pool_timeout", "connection_recycle_time")
                             if k in kwargs}
        self._tc.configure(**kwargs)
        # (The driver from the name as written: loading the dialect for an
        # unknown one fails, which the engine property reports.)
        self._tls = (mysql_tls_options(parsed.query)
                     if parsed.drivername == "mysql+pymysql" else None)
        self._tc.append_on_engine_create(self._install_connect_hooks)
        self._opened = itertools.count(1)
        self.connections_opened = 0
        self._engine = None
        self._engine_lock = threading.Lock()
        # The read connection this thread holds, if any (see connect()).
        self._reading = threading.local()

    @property
    def engine(self) -> sa.engine.Engine:
        if self._engine is None:
            # One thread builds it: two at once would each swap the SQLite
            # pool, the second disposing the first's while it is in use.
            with self._engine_lock:
                if self._engine is None:
                    self._build_engine()
        return self._engine

    def _build_engine(self) -> None:
        try:
            engine = self._tc.writer.get_engine()
            _first_connect(engine, self._retries, self._retry_interval, self.safe_url)
        except db_exc.DBError as exc:
            raise exception.ConfigError(
                f"cannot connect to database {self.safe_url}: "
                f"{str(exc).splitlines()[0]}") from None
        except Exception as exc:  # driver import errors, bad hosts, ...
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise exception.ConfigError(
                f"cannot connect to database {self.safe_url}: {first}") from None
        if self.backend == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            engine.dispose()
            _keep_sqlite_connections(engine)
        self._engine = engine

    def _install_connect_hooks(self, engine) -> None:
        sa.event.listen(engine, "connect", self._count_connection)
        if self._tls is not None:
            sa.event.listen(engine, "do_connect", self._tls.connect_args)
        if self.backend != "sqlite" and getattr(engine.pool, "_pre_ping", False):
            # oslo.db pings the server at every checkout: a round trip per
            # transaction, most of them on a connection returned a moment
            # ago. Ping only one that sat idle (see _ping_if_idle).
            engine.pool._pre_ping = False
            sa.event.listen(engine, "checkin", _stamp_checkin)
            sa.event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
        if self.backend != "sqlite" and \
                engine.pool._reset_on_return is sa.pool.base.reset_rollback:
            # The pool rolls back every connection checked in, even one whose
            # transaction was just committed (SQLAlchemy skips it only when
            # the Connection itself closed an open transaction): a round trip
            # after every write, a ROLLBACK for each COMMIT on the server.
            # The same rollback, but not after a commit of begin().
            engine.pool._reset_on_return = sa.pool.base.reset_none
            sa.event.listen(engine, "reset", functools.partial(_reset_unless_ended,
                                                               engine.dialect))

    def _count_connection(self, _dbapi_conn, _record) -> None:
        self.connections_opened = n = next(self._opened)
        LOG.debug("database %s: connection %d opened", self.safe_url, n)

    @property
    def safe_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    @contextlib.contextmanager
    def begin(self):
        """A connection inside one write transaction, committed on clean exit.

        On SQLite the transaction starts with BEGIN IMMEDIATE: it takes the
        write lock up front (waiting up to the busy timeout), instead of
        failing with "database is locked" when a deferred transaction that
        has read tries to write after another writer committed.
        """
        if self.backend != "sqlite":
            with self.engine.connect() as conn:
                with conn.begin():
                    yield conn
                # Committed: the pool need not roll back on check-in.
                conn.info[_ENDED] = True
            return
        # Writers of this process queue on a lock first: SQLite's own busy
        # handler sleeps in growing steps, which wastes most of the time
        # under contention; the lock hands over at once.
        with self._write_lock, self.engine.connect() as conn:
            # oslo.db emits a plain BEGIN unless a transaction is marked as
            # started; we start it ourselves (its commit/rollback hooks clear
            # the mark).
            conn.info["in_transaction"] = True
            with conn.begin():
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn

    @contextlib.contextmanager
    def connect(self):
        """A connection for reads.

        On SQLite no BEGIN is sent (oslo.db would send one): each statement
        reads its own consistent snapshot, which is what our read functions
        need, and it saves a statement and a rollback per read.

        Inside another connect() of the same thread the outer connection is
        used again: a caller that reads several things (the scheduler's host
        data) wraps them in one connect() and pays for one pool check-out.
        """
        held = getattr(self._reading, "conn", None)
        if held is not None:
            yield held
            return
        with self.engine.connect() as conn:
            if self.backend == "sqlite":
                conn.info["in_transaction"] = True
            self._reading.conn = conn
            try:
                yield conn
            finally:
                self._reading.conn = None

    def dispose(self) -> None:
        if self._engine is not None and self.backend != "sqlite":
            LOG.info("database %s: %d connections opened in all (pool %s)", self.safe_url,
                     self.connections_opened,
                     ", ".join(f"{k}={v}" for k, v in self.pool_options.items()))
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        try:
            self._tc.dispose_pool()
        except Exception:
            pass


# A pooled connection idle for longer than this is pinged before use; one
# used more recently is taken as alive (a server restart in between fails
# that one transaction, and the pool then drops all its connections).
IDLE_PING_SECONDS = 10.0


# Set in a pooled connection's info by begin() once its transaction
# committed (see _reset_unless_ended).
_ENDED = "compute_core.transaction_ended"


# How often a transaction that lost a deadlock is run again.
DEADLOCK_ATTEMPTS = 5


def _lost_a_deadlock(exc) -> bool:
    """A deadlock or lock wait timeout (oslo.db's DBDeadlock), or MariaDB's
    1467 "Failed to read auto-increment value": how InnoDB reports a
    deadlock on a table's AUTO-INC lock (an INSERT ... SELECT holds it for
    the statement), which oslo.db does not recognise."""
    if isinstance(exc, db_exc.DBDeadlock):
        return True
    if isinstance(exc, db_exc.DBError):
        exc = exc.inner_exception or exc
    # oslo.db raises an OperationalError it does not know as it is.
    orig = getattr(exc, "orig", None)
    args = getattr(orig, "args", None) or ()
    return bool(args) and args[0] == 1467


def retry_on_deadlock(fn):
    """Run *fn* (one write transaction and what it reads, all undone when it
    fails) again when its transaction lost a deadlock to a concurrent one,
    DEADLOCK_ATTEMPTS times at most, after a short random pause."""
    @functools.wraps(fn)
    def retrying(*args, **kwargs):
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                return fn(*args, **kwargs)
            except (db_exc.DBError, sa.exc.OperationalError) as exc:
                if attempt == DEADLOCK_ATTEMPTS or not _lost_a_deadlock(exc):
                    raise
                LOG.info("%s lost a deadlock (attempt %d): running it again",
                         fn.__name__, attempt)
                time.sleep(random.uniform(0.005, 0.02) * attempt)
    return retrying


def _reset_unless_ended(dialect, dbapi_conn, record, state) -> None:
    """The pool's rollback-on-return, skipped for a connection whose
    transaction begin() committed or the Connection rolled back; any other
    (a read that ran nothing, a connection collected unclosed) is rolled
    back as the pool would."""
    ended = record.info.pop(_ENDED, False) if record is not None else False
    if ended or state.transaction_was_reset or not state.asyncio_safe:
        return
    dialect.do_rollback(dbapi_conn)


def _stamp_checkin(_dbapi_conn, record) -> None:
    record.info["returned_at"] = time.monotonic()


def _ping_if_idle(dialect, dbapi_conn, record, _proxy) -> None:
    returned = record.info.get("returned_at")
    if returned is None or time.monotonic() - returned < IDLE_PING_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_conn)
    except Exception as exc:
        if dialect.is_disconnect(exc, dbapi_conn, None):
            # The pool opens a new connection instead (and tries again).
            raise sa.exc.DisconnectionError(str(exc)) from exc
        raise


def _first_connect(engine, max_retries: int, retry_interval: float, what: str) -> None:
    """Connect once, *max_retries* times at most (-1: until it works), so a
    service may start before its database."""
    for attempt in itertools.count(1):
        try:
            engine.connect().close()
            return
        except db_exc.DBConnectionError:
            if max_retries != -1 and attempt >= max_retries:
                raise
            LOG.warning("database %s unreachable; trying again in %s s", what, retry_interval)
            time.sleep(retry_interval)


# The URL query keys (and [database] connection_parameters) that ask
# PyMySQL for TLS: SQLAlchemy gathers the first six into an "ssl" dict,
# PyMySQL takes the others as they are.
_SSL_DICT_KEYS = ("ssl_ca", "ssl_cert", "ssl_key", "ssl_capath", "ssl_cipher",
                  "ssl_check_hostname")
_SSL_KWARGS = ("ssl_verify_cert", "ssl_verify_identity", "ssl_key_password")


def mysql_tls_options(query) -> "MySQLTLS":
    """TLS for PyMySQL as the URL's query asks: off unless it names a
    certificate, key, CA or check (PyMySQL would otherwise try TLS with
    every connection, building a context and loading the CA bundle each
    time); when asked, one SSL context built for all connections."""
    def true(value):
        value = value[-1] if isinstance(value, tuple) else value
        return str(value).lower() in ("1", "true", "yes", "on")

    wanted = any(k in query for k in _SSL_DICT_KEYS + _SSL_KWARGS)
    if "ssl_disabled" in query and true(query["ssl_disabled"]):
        wanted = False
    return MySQLTLS(wanted, true)


class MySQLTLS:
    """The do_connect hook that turns TLS off or hands PyMySQL one shared
    SSL context (built at the first connection)."""

    def __init__(self, enabled: bool, parse_bool):
        self.enabled = enabled
        self._bool = parse_bool
        self._context = None
        self._lock = threading.Lock()
        self.contexts_built = 0

    def connect_args(self, _dialect, _conn_rec, _cargs, cparams) -> None:
        if not self.enabled:
            for key in ("ssl", *_SSL_KWARGS):
                cparams.pop(key, None)
            cparams["ssl_disabled"] = True
            return
        settings = dict(cparams.pop("ssl", None) or {})
        for key in _SSL_KWARGS:
            if key in cparams:
                settings[key[4:]] = cparams.pop(key)
        cparams.pop("ssl_disabled", None)
        cparams["ssl"] = self.context(settings)

    def context(self, settings: dict) -> ssl.SSLContext:
        with self._lock:
            if self._context is None:
                self._context = self._build(settings)
                self.contexts_built += 1
            return self._context

    def _build(self, settings: dict) -> ssl.SSLContext:
        ca, capath = settings.get("ca"), settings.get("capath")
        ctx = ssl.create_default_context(cafile=ca, capath=capath)
        verify = bool(ca or capath)
        if "verify_cert" in settings:
            verify = self._bool(settings["verify_cert"])
        check_host = verify and self._bool(settings.get(
            "check_hostname", settings.get("verify_identity", verify)))
        ctx.check_hostname = check_host
        ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
        if settings.get("cert"):
            ctx.load_cert_chain(settings["cert"], keyfile=settings.get("key"),
                                password=settings.get("key_password"))
        if settings.get("cipher"):
            ctx.set_ciphers(settings["cipher"])
        return ctx


def _keep_sqlite_connections(engine):
    """oslo.db gives file SQLite a NullPool: a new connection (and its
    PRAGMAs) for every transaction, which costs more than the work itself in
    an embedded cloud. Swap in a QueuePool that keeps them, with the same
    connect-event listeners (oslo.db's and ours). No pre-ping: a local file
    does not go away between two checkouts the way a server connection can."""
    old = engine.pool
    if isinstance(old, sa.pool.NullPool):
        engine.pool = sa.pool.QueuePool(
            old._creator, pool_size=16, max_overflow=64, timeout=30, recycle=old._recycle,
            reset_on_return=old._reset_on_return, pre_ping=False,
            _dispatch=old.dispatch, dialect=old._dialect)
        old.dispose()


# One lock per SQLite file for the writers of this process, shared by every
# Database on that file and dropped with the last of them (weak values):
# the in-process mirror of SQLite's own file lock, so it holds no state of
# its own beyond what the file already implies.
_WRITE_LOCKS: "weakref.WeakValueDictionary[str, threading.RLock]" = weakref.WeakValueDictionary()
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock_for(path: str):
    with _WRITE_LOCKS_GUARD:
        lock = _WRITE_LOCKS.get(path)
        if lock is None:
            lock = _WriteLock()
            _WRITE_LOCKS[path] = lock
        return lock


class _WriteLock:
    """An RLock that can be weakly referenced."""

    def __init__(self):
        self._lock = threading.RLock()

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *exc):
        self._lock.release()


def _sqlite_pragmas(dbapi_conn, _record):
    # WAL lets readers run beside the writer; the busy timeout makes
    # concurrent writers wait for the lock instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
