"""Migrations on SQLite: each database migrates to the head and its schema
is exactly the tables the code uses (alembic's autogenerate comparison).
tests/integration/test_migrations.py does the same on MariaDB and PostgreSQL."""
from __future__ import annotations

import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from compute_core import exception
from compute_core.db import api_schema, cell_db, cell_schema, migration
from compute_core.db.engines import Database
from compute_core.placement import tables as placement_tables

SCHEMAS = {"api": api_schema.metadata, "cell": cell_schema.metadata,
           "placement": placement_tables.metadata}


def schema_differences(db: Database, which: str) -> list:
    with db.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": True})
        return compare_metadata(context, SCHEMAS[which])


@pytest.fixture
def sqlite_db(tmp_path):
    dbs = []

    def make(name):
        db = Database(f"sqlite:///{tmp_path}/{name}.sqlite")
        dbs.append(db)
        return db

    yield make
    for db in dbs:
        db.dispose()


@pytest.mark.parametrize("which", sorted(SCHEMAS))
def test_migrated_schema_matches_the_tables_the_code_uses(sqlite_db, which):
    db = sqlite_db(which)
    assert migration.current(db) is None
    migration.upgrade(db, which)
    assert migration.current(db) == migration.head(which)
    assert schema_differences(db, which) == []
    # upgrading again is a no-op
    migration.upgrade(db, which)
    assert migration.current(db) == migration.head(which)


@pytest.mark.parametrize("which", sorted(SCHEMAS))
def test_check_current(sqlite_db, which):
    db = sqlite_db(which)
    with pytest.raises(exception.DatabaseNotMigrated, match=migration.SYNC_COMMANDS[which]):
        migration.check_current(db, which)
    migration.upgrade(db, which)
    migration.check_current(db, which)


def test_a_bad_url_is_a_config_error():
    with pytest.raises(exception.ConfigError, match="invalid database URL"):
        Database("not a url")
    with pytest.raises(exception.ConfigError, match="no database connection"):
        Database("")


def test_an_unreachable_database_fails_fast_with_one_retry():
    db = Database("mysql+pymysql://root@127.0.0.1:1/compute", max_retries=1, retry_interval=0)
    started = time.monotonic()
    with pytest.raises(exception.ConfigError) as exc:
        db.engine
    assert time.monotonic() - started < 10
    assert "cannot connect to database" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_cell_0002_adds_the_change_indexes_to_an_older_database(sqlite_db):
    """A cell database built before the indexes existed gets them."""
    db = sqlite_db("cell")
    migration.upgrade(db, "cell", "0001")
    with db.begin() as conn:
        conn.exec_driver_sql("DROP INDEX instances_updated_at_idx")
        conn.exec_driver_sql("DROP INDEX instances_deleted_at_idx")
    assert schema_differences(db, "cell") != []
    migration.upgrade(db, "cell", "0002")
    assert migration.current(db) == "0002"
    with db.begin() as conn:  # (0003's indexes, which 0001 built too)
        conn.exec_driver_sql("DROP INDEX console_auth_tokens_instance_uuid_idx")
        conn.exec_driver_sql("DROP INDEX console_auth_tokens_expires_idx")
    migration.upgrade(db, "cell")
    assert schema_differences(db, "cell") == []
    # The tracker's read of what changed since a time uses them.
    with db.connect() as conn:
        sql = str(cell_db._STATES_SINCE.compile(dialect=conn.dialect))
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + sql, ("2026-01-01 00:00:00",) * 3).all())
    for index in ("instances_created_at_idx", "instances_updated_at_idx",
                  "instances_deleted_at_idx"):
        assert index in plan
    assert "SCAN instances" not in plan


def test_cell_0003_adds_the_console_token_indexes_to_an_older_database(sqlite_db):
    db = sqlite_db("cell")
    migration.upgrade(db, "cell", "0002")
    with db.begin() as conn:
        conn.exec_driver_sql("DROP INDEX console_auth_tokens_instance_uuid_idx")
        conn.exec_driver_sql("DROP INDEX console_auth_tokens_expires_idx")
    assert schema_differences(db, "cell") != []
    migration.upgrade(db, "cell")
    assert migration.current(db) == migration.head("cell")
    assert schema_differences(db, "cell") == []


def test_cell_0004_adds_the_task_log_to_an_older_database(sqlite_db):
    db = sqlite_db("cell")
    migration.upgrade(db, "cell", "0003")
    with db.begin() as conn:
        conn.exec_driver_sql("DROP TABLE task_log")  # 0001 of an older release lacked it
    assert schema_differences(db, "cell") != []
    migration.upgrade(db, "cell", "0004")
    assert migration.current(db) == "0004"
    assert schema_differences(db, "cell") == []


def test_cell_0005_adds_the_live_migration_progress_columns(sqlite_db):
    db = sqlite_db("cell")
    migration.upgrade(db, "cell", "0004")
    with db.begin() as conn:
        for column in ("memory_total", "memory_processed", "memory_remaining", "disk_total",
                       "disk_processed", "disk_remaining"):
            conn.exec_driver_sql(f"ALTER TABLE migrations DROP COLUMN {column}")
    assert schema_differences(db, "cell") != []
    migration.upgrade(db, "cell")
    assert migration.current(db) == "0005" == migration.head("cell")
    assert schema_differences(db, "cell") == []


def test_api_0002_adds_aggregates_server_groups_and_user_quotas(sqlite_db):
    """An API database built before aggregates, server groups and per-user
    quotas existed gets their tables, as the code declares them."""
    db = sqlite_db("api")
    migration.upgrade(db, "api", "0001")
    with db.begin() as conn:
        for table in ("aggregate_metadata", "aggregate_hosts", "aggregates",
                      "instance_group_members", "instance_groups", "project_user_quotas"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
    assert schema_differences(db, "api") != []
    migration.upgrade(db, "api")
    assert migration.current(db) == migration.head("api")
    assert schema_differences(db, "api") == []


def test_api_0003_adds_the_image_service_columns_and_tables(sqlite_db):
    """An API database from before the image service gets Glance's image
    attributes and the members and tags tables; its images stay."""
    db = sqlite_db("api")
    migration.upgrade(db, "api", "0002")
    with db.begin() as conn:
        conn.exec_driver_sql("DROP TABLE image_members")
        conn.exec_driver_sql("DROP TABLE image_tags")
        for column in ("os_hash_algo", "os_hash_value", "virtual_size", "protected",
                       "os_hidden"):
            conn.exec_driver_sql(f"ALTER TABLE images DROP COLUMN {column}")
        conn.exec_driver_sql(
            "INSERT INTO images (uuid, name, status, min_disk, min_ram, visibility) "
            "VALUES ('11111111-2222-3333-4444-555555555555', 'old', 'active', 0, 0, "
            "'public')")
    assert schema_differences(db, "api") != []
    migration.upgrade(db, "api")
    assert migration.current(db) == migration.head("api")
    assert schema_differences(db, "api") == []
    with db.connect() as conn:
        row = conn.exec_driver_sql("SELECT name, protected, os_hidden FROM images").one()
    assert tuple(row) == ("old", False, False)


def test_api_0004_makes_every_fixed_ip_a_port(sqlite_db):
    """An API database from before ports gets the port columns, and each
    address it holds a port id of its own; the addresses stay."""
    db = sqlite_db("api")
    migration.upgrade(db, "api", "0003")
    with db.begin() as conn:
        conn.exec_driver_sql("DROP TABLE fixed_ips")
        conn.exec_driver_sql(
            "CREATE TABLE fixed_ips (id INTEGER NOT NULL PRIMARY KEY, network VARCHAR(255) "
            "NOT NULL, address VARCHAR(64) NOT NULL, instance_uuid VARCHAR(36) NOT NULL, "
            "mac VARCHAR(32), created_at DATETIME, updated_at DATETIME, "
            "CONSTRAINT uniq_fixed_ips0network0address UNIQUE (network, address))")
        conn.exec_driver_sql("CREATE INDEX fixed_ips_instance_idx ON fixed_ips (instance_uuid)")
        for i in (2, 3):
            conn.exec_driver_sql(
                "INSERT INTO fixed_ips (network, address, instance_uuid, mac) VALUES "
                f"('private', '10.0.0.{i}', 'inst-{i}', 'fa:16:3e:00:00:0{i}')")
    assert schema_differences(db, "api") != []
    migration.upgrade(db, "api")
    assert migration.current(db) == migration.head("api")
    assert schema_differences(db, "api") == []
    with db.connect() as conn:
        rows = conn.exec_driver_sql("SELECT address, instance_uuid, port_id, preserve_on_delete "
                                    "FROM fixed_ips ORDER BY address").all()
    assert [tuple(r)[:2] for r in rows] == [("10.0.0.2", "inst-2"), ("10.0.0.3", "inst-3")]
    assert len({r[2] for r in rows}) == 2 and all(r[2] for r in rows)
    assert [r[3] for r in rows] == [False, False]


def test_api_0005_gives_each_bound_port_its_server_s_project(sqlite_db):
    """An API database from before ports had owners: a port bound to a
    server takes the project of the server's instance mapping; a free one
    (and one whose server has no mapping) keeps none."""
    db = sqlite_db("api")
    migration.upgrade(db, "api", "0004")
    with db.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE fixed_ips DROP COLUMN project_id")
        conn.exec_driver_sql(
            "INSERT INTO instance_mappings (instance_uuid, project_id, queued_for_delete) "
            "VALUES ('inst-2', 'proj-a', 0)")
        for i, inst in ((2, "'inst-2'"), (3, "NULL"), (4, "'inst-gone'")):
            conn.exec_driver_sql(
                "INSERT INTO fixed_ips (network, address, instance_uuid, port_id, "
                f"preserve_on_delete) VALUES ('private', '10.0.0.{i}', {inst}, 'p{i}', 0)")
    assert schema_differences(db, "api") != []
    migration.upgrade(db, "api")
    assert migration.current(db) == "0005" == migration.head("api")
    assert schema_differences(db, "api") == []
    with db.connect() as conn:
        rows = conn.exec_driver_sql("SELECT port_id, project_id FROM fixed_ips "
                                    "ORDER BY port_id").all()
    assert [tuple(r) for r in rows] == [("p2", "proj-a"), ("p3", None), ("p4", None)]
