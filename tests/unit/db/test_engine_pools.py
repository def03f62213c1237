"""Engines built as configured: pool options from [api_database],
[database] (every cell too) and [placement_database], TLS to MySQL only when
asked for (one context then), and a count of the connections opened."""
from __future__ import annotations

import ssl
import threading

import pymysql
import pytest
import sqlalchemy as sa

from compute_core import assembly, exception
from compute_core import conf as conf_mod
from compute_core.db import engines
from compute_core.db.engines import Database

MYSQL = "mysql+pymysql://nova@127.0.0.1:1/nova"


@pytest.fixture
def no_first_connect(monkeypatch):
    """Build engines without connecting (no MySQL in a unit test)."""
    monkeypatch.setattr(engines, "_first_connect", lambda *a: None)


def pool_of(db: Database) -> sa.pool.QueuePool:
    pool = db.engine.pool
    assert isinstance(pool, sa.pool.QueuePool)
    return pool


def test_pool_options_reach_the_engine(no_first_connect):
    db = Database(MYSQL, max_pool_size=7, max_overflow=3, pool_timeout=9,
                  connection_recycle_time=120)
    try:
        pool = pool_of(db)
        assert (pool.size(), pool._max_overflow, pool._timeout, pool._recycle) == (7, 3, 9, 120)
    finally:
        db.dispose()


def test_server_databases_keep_enough_connections_by_default(no_first_connect):
    db = Database(MYSQL)
    try:
        pool = pool_of(db)
        assert pool.size() == engines.DEFAULT_POOL_SIZE >= 16  # [wsgi] threads
        assert pool._timeout == engines.DEFAULT_POOL_TIMEOUT
    finally:
        db.dispose()


def test_every_group_configures_its_engines(no_first_connect):
    conf = conf_mod.load(overrides={
        "api_database.connection": MYSQL + "_api", "api_database.max_pool_size": 11,
        "api_database.pool_timeout": 4,
        "database.connection": MYSQL, "database.max_pool_size": 13,
        "database.max_overflow": 2,
        "placement_database.connection": MYSQL + "_placement",
        "placement_database.max_pool_size": 17})
    api = assembly.api_database(conf)
    local = assembly.cell_database(conf)
    placement = assembly.placement_database(conf)
    cells = assembly.cell_databases(conf, api, local)
    urls = {"cell0": MYSQL + "_cell0", "cell1": MYSQL}
    cells.mapping = lambda uuid: {"uuid": uuid, "database_connection": urls[uuid]}
    try:
        assert (pool_of(api).size(), pool_of(api)._timeout) == (11, 4)
        assert pool_of(placement).size() == 17
        # The service's own cell is served by its [database] engine, not a
        # second pool on the same database; another cell gets [database]'s
        # options, as that cell's own services use them.
        assert cells.get("cell1") is local
        assert pool_of(local).size() == 13
        cell0 = cells.get("cell0")
        assert cell0 is not local and cells.get("cell0") is cell0
        assert (pool_of(cell0).size(), pool_of(cell0)._max_overflow) == (13, 2)
        cells.close()
        assert local._engine is not None  # the owner closes its own
        assert cell0._engine is None
    finally:
        for db in (api, local, placement):
            db.dispose()


def test_engine_options_take_what_a_group_has():
    conf = conf_mod.load()
    assert engines.engine_options(conf.database)["max_pool_size"] == engines.DEFAULT_POOL_SIZE
    assert set(engines.engine_options(conf.api_database)) == set(engines.ENGINE_OPTIONS)

    class Partial:
        max_pool_size = 3

    assert engines.engine_options(Partial()) == {"max_pool_size": 3}


class RecordingConnect:
    """Stands in for pymysql.connect: records the arguments, then refuses."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append(kwargs)
        raise RuntimeError("no server in a unit test")


def connect_attempts(monkeypatch, url, times=1):
    fake = RecordingConnect()
    monkeypatch.setattr(pymysql, "connect", fake)
    db = Database(url, max_retries=1, retry_interval=0)
    try:
        for _ in range(times):
            with pytest.raises(exception.ConfigError):
                db.engine
    finally:
        db.dispose()
    assert len(fake.calls) == times
    return fake.calls


def test_no_tls_to_mysql_unless_configured(monkeypatch):
    (kwargs,) = connect_attempts(monkeypatch, MYSQL)
    # PyMySQL would otherwise build a TLS context (loading the CA bundle)
    # for every connection and try TLS.
    assert kwargs["ssl_disabled"] is True
    assert "ssl" not in kwargs


def test_tls_when_the_url_asks_with_one_context_for_all_connections(monkeypatch):
    ca = ssl.get_default_verify_paths().cafile
    if not ca:
        import certifi
        ca = certifi.where()
    first, second = connect_attempts(
        monkeypatch, f"{MYSQL}?ssl_ca={ca}&ssl_check_hostname=false", times=2)
    assert isinstance(first["ssl"], ssl.SSLContext)
    assert second["ssl"] is first["ssl"]
    assert first["ssl"].verify_mode == ssl.CERT_REQUIRED
    assert not first["ssl"].check_hostname
    assert "ssl_disabled" not in first


def test_tls_asked_for_through_connection_parameters(monkeypatch):
    fake = RecordingConnect()
    monkeypatch.setattr(pymysql, "connect", fake)
    db = Database(MYSQL, max_retries=1, connection_parameters="ssl_verify_cert=false")
    with pytest.raises(exception.ConfigError):
        db.engine
    db.dispose()
    (kwargs,) = fake.calls
    assert isinstance(kwargs["ssl"], ssl.SSLContext)
    assert kwargs["ssl"].verify_mode == ssl.CERT_NONE
    assert "ssl_verify_cert" not in kwargs


def test_ssl_disabled_in_the_url_wins(monkeypatch):
    (kwargs,) = connect_attempts(monkeypatch, f"{MYSQL}?ssl_ca=/nonexistent&ssl_disabled=1")
    assert kwargs["ssl_disabled"] is True and "ssl" not in kwargs


def test_connections_opened_are_counted(tmp_path, caplog):
    db = Database(f"sqlite:///{tmp_path}/count.sqlite")
    caplog.set_level("DEBUG", logger="compute_core.db.engines")
    try:
        db.engine  # the first connection (its pool is swapped for a keeping one)
        opened = db.connections_opened
        assert opened >= 1
        for _ in range(20):
            with db.begin() as conn:
                conn.execute(sa.text("select 1"))
        assert db.connections_opened == opened + 1  # kept and reused
        # Four threads at once hold at most four connections.
        barrier = threading.Barrier(4)

        def hold():
            with db.connect() as conn:
                barrier.wait(5)
                conn.execute(sa.text("select 1"))

        workers = [threading.Thread(target=hold) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert db.connections_opened == opened + 4
        logged = [r.getMessage() for r in caplog.records if "opened" in r.getMessage()]
        assert logged[-1].endswith(f"connection {opened + 4} opened")
    finally:
        db.dispose()


def test_only_an_idle_connection_is_pinged_at_checkout(no_first_connect, monkeypatch):
    db = Database(MYSQL)
    pings = []
    clock = [1000.0]
    monkeypatch.setattr(engines.time, "monotonic", lambda: clock[0])
    try:
        engine = db.engine
        assert not engine.pool._pre_ping
        monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or True)

        class Record:
            info = {}

        record = Record()
        engines._ping_if_idle(engine.dialect, "conn", record, None)  # new: no ping
        engines._stamp_checkin("conn", record)
        clock[0] += 1
        engines._ping_if_idle(engine.dialect, "conn", record, None)
        assert pings == []
        clock[0] += engines.IDLE_PING_SECONDS
        engines._ping_if_idle(engine.dialect, "conn", record, None)
        assert pings == ["conn"]

        def gone(conn):
            raise pymysql.err.OperationalError(2006, "MySQL server has gone away")

        monkeypatch.setattr(engine.dialect, "do_ping", gone)
        with pytest.raises(sa.exc.DisconnectionError):
            engines._ping_if_idle(engine.dialect, "conn", record, None)
    finally:
        db.dispose()


def test_a_committed_connection_is_not_rolled_back_again_on_check_in(no_first_connect):
    """The pool's reset on return: skipped after begin()'s commit (flag in
    the connection's info, used once) or when the Connection rolled back;
    any other connection is rolled back as the pool would."""
    db = Database(MYSQL)
    try:
        engine = db.engine
        assert engine.pool._reset_on_return is sa.pool.base.reset_none
        rolled = []

        class Dialect:
            def do_rollback(self, conn):
                rolled.append(conn)

        class Record:
            def __init__(self, ended):
                self.info = {engines._ENDED: True} if ended else {}

        def state(reset=False):
            return sa.pool.PoolResetState(transaction_was_reset=reset, terminate_only=False,
                                          asyncio_safe=True)

        committed = Record(ended=True)
        engines._reset_unless_ended(Dialect(), "c1", committed, state())
        engines._reset_unless_ended(Dialect(), "c2", Record(ended=False), state(reset=True))
        assert rolled == [] and committed.info == {}
        engines._reset_unless_ended(Dialect(), "c3", committed, state())  # flag used up
        engines._reset_unless_ended(Dialect(), "c4", None, state())  # collected unclosed
        assert rolled == ["c3", "c4"]
    finally:
        db.dispose()


@pytest.mark.parametrize("driver", ["pymysql", "mysqldb"])
def test_mariadb_sees_one_commit_and_no_rollback_per_write(driver):
    """On the server: a write transaction is a COMMIT, not a COMMIT and a
    ROLLBACK; a failed one is still rolled back (its row is gone). The same
    through both MySQL drivers (PyMySQL, mysqlclient)."""
    if driver == "mysqldb":
        try:
            import MySQLdb  # noqa: F401
        except ImportError:
            reason = "mysqlclient is not installed (pip install -e .[mysqlclient])"
            print(f"\nskipping: {reason}")
            pytest.skip(reason)
    try:
        pymysql.connect(host="127.0.0.1", user="root", connect_timeout=3).close()
    except Exception as exc:
        reason = f"MariaDB on 127.0.0.1:3306 is unreachable: {exc}"
        print(f"\nskipping: {reason}")
        pytest.skip(reason)
    import uuid

    name = f"dist_unit_{uuid.uuid4().hex[:8]}"
    admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    admin.cursor().execute(f"CREATE DATABASE {name}")
    db = Database(f"mysql+{driver}://root@127.0.0.1/{name}?charset=utf8mb4")
    try:
        with db.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INT) ENGINE=InnoDB")

        def counters():
            with db.connect() as conn:
                rows = conn.exec_driver_sql(
                    "SHOW SESSION STATUS WHERE Variable_name IN ('Com_commit', 'Com_rollback')")
                return {k: int(v) for k, v in rows}

        before = counters()
        for i in range(5):
            with db.begin() as conn:
                conn.exec_driver_sql(f"INSERT INTO t VALUES ({i})")
        with pytest.raises(KeyError):
            with db.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (99)")
                raise KeyError("fails")
        after = counters()
        assert after["Com_commit"] - before["Com_commit"] == 5
        # counters()' own read is rolled back once; the failed write at least once.
        assert 2 <= after["Com_rollback"] - before["Com_rollback"] <= 3
        with db.connect() as conn:
            assert sorted(r[0] for r in conn.exec_driver_sql("SELECT x FROM t")) == [0, 1, 2, 3, 4]
    finally:
        db.dispose()
        admin.cursor().execute(f"DROP DATABASE {name}")
        admin.close()


def test_threads_asking_for_a_new_engine_at_once_get_one_engine(tmp_path, monkeypatch):
    """The first use builds the engine once: threads that arrive together
    (a cloud's services starting) share it, and none finds its SQLite pool
    disposed under it by another's build."""
    import concurrent.futures
    import time

    first_connect, keep = engines._first_connect, engines._keep_sqlite_connections
    swaps = []

    def slow_first_connect(*args):  # widens the window the threads race in
        time.sleep(0.05)
        first_connect(*args)

    def counted_keep(engine):
        swaps.append(engine)
        keep(engine)

    monkeypatch.setattr(engines, "_first_connect", slow_first_connect)
    monkeypatch.setattr(engines, "_keep_sqlite_connections", counted_keep)
    db = Database(f"sqlite:///{tmp_path}/race.sqlite")
    barrier = threading.Barrier(8)

    def first_use(_):
        barrier.wait()
        engine = db.engine
        with db.connect() as conn:
            conn.exec_driver_sql("SELECT 1").all()
        return engine

    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            built = list(pool.map(first_use, range(8)))
        assert len({id(e) for e in built}) == 1
        assert len(swaps) == 1
        assert isinstance(built[0].pool, sa.pool.QueuePool)
    finally:
        db.dispose()


def test_a_transaction_that_lost_a_deadlock_runs_again(monkeypatch):
    """DBDeadlock (1213, 1205) and MariaDB's 1467 (a deadlock on an AUTO-INC
    lock) run the transaction again; any other error, or a deadlock past
    the last attempt, is raised."""
    from oslo_db import exception as db_exc

    from compute_core.db import api_db, cell_db, instance_actions

    monkeypatch.setattr(engines.time, "sleep", lambda s: None)
    autoinc = db_exc.DBError(sa.exc.OperationalError(
        "INSERT ...", {}, Exception(1467, "Failed to read auto-increment value from "
                                          "storage engine")))
    for failure in (db_exc.DBDeadlock(), autoinc):
        calls = []

        @engines.retry_on_deadlock
        def write(x):
            calls.append(x)
            if len(calls) < 3:
                raise failure
            return x * 2

        assert write(21) == 42 and calls == [21, 21, 21]

    @engines.retry_on_deadlock
    def always():
        calls.append(1)
        raise db_exc.DBDeadlock()

    calls = []
    with pytest.raises(db_exc.DBDeadlock):
        always()
    assert len(calls) == engines.DEADLOCK_ATTEMPTS

    @engines.retry_on_deadlock
    def other():
        calls.append(1)
        raise db_exc.DBError(sa.exc.IntegrityError(
            "INSERT ...", {}, Exception(1062, "Duplicate entry")))

    calls = []
    with pytest.raises(db_exc.DBError):
        other()
    assert calls == [1]
    # oslo.db leaves an OperationalError it does not know unwrapped.
    calls = []

    @engines.retry_on_deadlock
    def raw():
        calls.append(1)
        if len(calls) == 1:
            raise sa.exc.OperationalError(
                "INSERT ...", {}, Exception(1467, "Failed to read auto-increment value"))
        return "ok"

    assert raw() == "ok" and calls == [1, 1]
    for fn in (cell_db.create_instance, cell_db.update_instance, cell_db.soft_delete_instance,
               cell_db.add_fault, instance_actions.action_event, api_db.finish_build):
        assert hasattr(fn, "__wrapped__"), fn.__name__
