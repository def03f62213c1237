"""Database handles: one oslo.db transaction context (own engine) per database.

A :class:`Database` is created per URL by whoever owns it (a service, a Cloud)
and disposed by it; nothing is cached at module level, so two clouds in one
process never share an engine.
"""
from __future__ import annotations

import contextlib
import os
import threading
import weakref

import sqlalchemy as sa
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade

from compute_core import exception


class Database:
    """One database: its engine (through oslo.db) and connection helpers."""

    def __init__(self, url: str, max_pool_size: int | None = None,
                 max_overflow: int | None = None, max_retries: int | None = None,
                 retry_interval: int | None = None):
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
        kwargs = {"connection": url, "sqlite_fk": True, "thread_checkin": False}
        # oslo.db's default (10 tries, 10 s apart) suits a service starting
        # before its database; a command line tool passes max_retries=1.
        if max_retries is not None:
            kwargs["max_retries"] = max_retries
        if retry_interval is not None:
            kwargs["retry_interval"] = retry_interval
        if self.backend != "sqlite":
            kwargs.update(max_pool_size=max_pool_size or 5, max_overflow=max_overflow or 50,
                          pool_timeout=30, connection_recycle_time=3600)

        self._tc.configure(**kwargs)
        self._engine = None
        # The read connection this thread holds, if any (see connect()).
        self._reading = threading.local()

    @property
    def engine(self) -> sa.engine.Engine:
        if self._engine is None:
            try:
                self._engine = self._tc.writer.get_engine()
            except db_exc.DBError as exc:
                raise exception.ConfigError(
                    f"cannot connect to database {self.safe_url}: "
                    f"{str(exc).splitlines()[0]}") from None
            except Exception as exc:  # driver import errors, bad hosts, ...
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise exception.ConfigError(
                    f"cannot connect to database {self.safe_url}: {first}") from None
            if self.backend == "sqlite":
                sa.event.listen(self._engine, "connect", _sqlite_pragmas)
                self._engine.dispose()
                _keep_sqlite_connections(self._engine)
        return self._engine

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
            with self.engine.begin() as conn:
                yield conn
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
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        try:
            self._tc.dispose_pool()
        except Exception:
            pass


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
