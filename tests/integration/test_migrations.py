"""The three migrations (api, cell, placement) on SQLite, MariaDB and
PostgreSQL: each test works in a freshly created database with a unique
name, dropped afterwards. The migrated schema must be exactly the tables the
code uses (alembic's autogenerate comparison finds no difference), and
compute-manage's version commands must report the head.

MariaDB is reached as root@127.0.0.1 (PyMySQL), PostgreSQL as
postgres@127.0.0.1 (psycopg2); a daemon that is not reachable skips its
tests with the reason.
"""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from compute_core.cmd import manage
from compute_core.db import api_schema, cell_schema, migration
from compute_core.db.engines import Database
from compute_core.placement import tables as placement_tables

pytestmark = pytest.mark.integration

SCHEMAS = {"api": api_schema.metadata, "cell": cell_schema.metadata,
           "placement": placement_tables.metadata}
# compute-manage's version command of each database and the option it reads
VERSION_COMMANDS = {"api": (["api_db", "version"], "api_database"),
                    "cell": (["db", "version"], "database"),
                    "placement": (["placement", "version"], "placement_database")}
SERVERS = {
    "mariadb": ("mysql+pymysql://root@127.0.0.1", "mysql"),
    "postgresql": ("postgresql+psycopg2://postgres@127.0.0.1", "postgres"),
}


def _server_engine(backend: str) -> sa.engine.Engine:
    """An engine on the server's administrative database, or pytest.skip."""
    root, admin_db = SERVERS[backend]
    engine = sa.create_engine(f"{root}/{admin_db}", isolation_level="AUTOCOMMIT",
                              poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except Exception as exc:
        engine.dispose()
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        pytest.skip(f"{backend} at {root} is not reachable: {reason}")
    return engine


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def fresh_url(request, tmp_path):
    """The URL of a new, empty database on each backend; dropped afterwards."""
    backend = request.param
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/fresh.sqlite"
        return
    name = f"cc_migrations_{uuid.uuid4().hex[:12]}"
    engine = _server_engine(backend)
    with engine.connect() as conn:
        if backend == "mariadb":
            conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        else:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield f"{SERVERS[backend][0]}/{name}"
    finally:
        with engine.connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        engine.dispose()


def _upgrade_to_the_code_s_schema(db, which):
    """Upgrade *db* to the head and check it has the schema the code uses."""
    migration.upgrade(db, which)
    assert migration.current(db) == migration.head(which)
    with db.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": True})
        differences = compare_metadata(context, SCHEMAS[which])
    assert differences == [], f"{which} schema on {db.backend} differs: {differences}"


@pytest.mark.parametrize("which", sorted(SCHEMAS))
def test_migration_builds_the_schema_the_code_uses(fresh_url, which):
    db = Database(fresh_url, max_retries=1, retry_interval=0)
    try:
        assert migration.current(db) is None
        _upgrade_to_the_code_s_schema(db, which)
        migration.upgrade(db, which)  # again: nothing to do
        migration.check_current(db, which)
    finally:
        db.dispose()


@pytest.mark.parametrize("which", sorted(SCHEMAS))
def test_compute_manage_sync_and_version_report_the_head(fresh_url, which, tmp_path,
                                                         capsys):
    version_argv, section = VERSION_COMMANDS[which]
    config = tmp_path / "compute.conf"
    config.write_text(f"[{section}]\nconnection = {fresh_url}\n")
    sync_argv = [version_argv[0], "sync"]
    if which == "cell":
        sync_argv.append("--local_cell")  # no API database in this test
    assert manage.main(["--config-file", str(config), *sync_argv]) == 0
    capsys.readouterr()
    assert manage.main(["--config-file", str(config), *version_argv]) == 0
    assert capsys.readouterr().out.strip() == migration.head(which)


def test_a_created_instance_is_what_a_read_gives_back(fresh_url):
    """create_instance answers from what it inserted instead of reading the
    row back; on every backend that answer is the row as read."""
    import datetime

    from compute_core.db import cell_db

    db = Database(fresh_url, max_retries=1, retry_interval=0)
    try:
        migration.upgrade(db, "cell")
        values = {
            "uuid": str(uuid.uuid4()), "display_name": "vm", "project_id": "p",
            "user_id": "u", "image_ref": "img", "vcpus": 2, "memory_mb": 2048,
            "flavor": {"name": "m1.small", "extra_specs": {"hw:cpu": "1"}, "t": (1, 2)},
            "vm_state": "building", "task_state": "scheduling", "power_state": 0,
            "host": "h1", "node": "h1", "scheduled_at": datetime.datetime(2026, 12, 2, 6, 0, 1),
            "created_at": "2026-12-02T06:00:00.123456", "network_info": {"private": []},
            "security_groups": ["default"], "tags": [], "launch_index": 0,
            "system_metadata": {"image_properties": {}, 7: "seven"},
            "not_a_column": "ignored",
        }
        created = cell_db.create_instance(db, values, {"role": "web"})
        assert created == cell_db.get_instance(db, values["uuid"])
        assert created["locked"] is False and created["metadata"] == {"role": "web"}
        created["flavor"]["name"] = "changed"
        assert values["flavor"]["name"] == "m1.small"
    finally:
        db.dispose()


def test_the_prebuilt_cell_statements_on_every_backend(fresh_url):
    """The cell database's statements built once with bound parameters do
    on each backend what they say: guarded updates, action events found
    inside the statement, metadata replaced, change feeds, expanding IN
    lists."""
    import datetime

    from compute_core import exception
    from compute_core.context import RequestContext
    from compute_core.db import cell_db

    db = Database(fresh_url, max_retries=1, retry_interval=0)
    try:
        migration.upgrade(db, "cell")
        ctx = RequestContext(user_id="u", project_id="p")
        since = cell_db.now() - datetime.timedelta(seconds=2)
        uuids = [str(uuid.uuid4()) for _ in range(3)]
        for n, u in enumerate(uuids):
            cell_db.create_instance(db, {"uuid": u, "project_id": "p", "user_id": "u",
                                         "host": f"h{n}", "vm_state": "building",
                                         "task_state": "scheduling", "power_state": 0},
                                    {"k": str(n)}, action=("create", ctx))
        u = uuids[0]
        cell_db.update_instance(db, u, {"task_state": "spawning"},
                                expected_task_state=["scheduling", None],
                                event={"event": "compute_build", "host": "h0"},
                                request_id=ctx.request_id, read_back=False)
        with pytest.raises(exception.InstanceInvalidState):
            cell_db.update_instance(db, u, {"task_state": None},
                                    expected_task_state="scheduling")
        with pytest.raises(exception.InstanceNotFound):
            cell_db.update_instance(db, str(uuid.uuid4()), {"task_state": None})
        got = cell_db.update_instance(
            db, u, {"vm_state": "active", "task_state": None, "metadata": {"a": "1", "b": "2"}},
            expected_task_state="spawning", expected_vm_state=["building"],
            event={"event": "compute_build", "result": "Success", "finish": True},
            request_id=ctx.request_id)
        assert (got["vm_state"], got["task_state"]) == ("active", None)
        assert got["metadata"] == {"a": "1", "b": "2"}
        assert cell_db.get_instance(db, uuids[1])["metadata"] == {"k": "1"}
        [action] = cell_db.list_actions(db, u)
        assert action["action"] == "create" and action["finish_time"] is not None
        with db.connect() as conn:
            events = conn.execute(sa.select(cell_schema.instance_actions_events)).all()
        assert [(e.event, e.host, e.result) for e in events] == [
            ("compute_build", "h0", "Success")]
        assert events[0].finish_time is not None
        changed = cell_db.instance_states_changed_since(db, since)
        assert {row[1] for row in changed} == set(uuids)
        assert (("h0", u, "active", None, "p", 0) in changed)
        assert len(cell_db.instance_states_changed_since(db)) == 3

        for n in range(2):
            cell_db.upsert_compute_node(db, {
                "uuid": f"00000000-0000-0000-0000-00000000000{n}", "host": f"h{n}",
                "hypervisor_hostname": f"h{n}", "vcpus": 4, "memory_mb": 4096,
                "local_gb": 40, "vcpus_used": 0, "memory_mb_used": 0, "local_gb_used": 0})
            cell_db.service_heartbeat(db, f"h{n}", "compute-compute", "compute")
        assert [n["host"] for n in cell_db.list_compute_nodes(db)] == ["h0", "h1"]
        assert [n["host"] for n in cell_db.list_compute_nodes(
            db, uuids=["00000000-0000-0000-0000-000000000001"])] == ["h1"]
        assert cell_db.list_compute_nodes(db, uuids=[]) == []
        assert [s["host"] for s in cell_db.list_services(db, host="h1")] == ["h1"]
        assert len(cell_db.list_services(db, binary="compute-compute")) == 2
    finally:
        db.dispose()


def test_the_prebuilt_api_statements_on_every_backend(fresh_url):
    """The API database's statements built once: flavors with their extra
    specs, the build records and their mapping to a cell, quotas."""
    from compute_core.db import api_db

    db = Database(fresh_url, max_retries=1, retry_interval=0)
    try:
        migration.upgrade(db, "api")
        flavor = api_db.create_flavor(db, "m1.test", 512, 1, 1, flavorid="t1",
                                      extra_specs={"hw:cpu_policy": "shared"})
        got = api_db.get_flavor(db, "t1")
        assert got["extra_specs"] == {"hw:cpu_policy": "shared"} and got["id"] == flavor["id"]
        build = str(uuid.uuid4())
        api_db.create_build(db, {"uuid": build, "project_id": "p", "user_id": "u"},
                            {"flavor": "t1"})
        assert api_db.get_build_request(db, build)["instance"]["uuid"] == build
        assert api_db.get_request_spec(db, build) == {"flavor": "t1"}
        cell = api_db.create_cell(db, "cell1", fresh_url, "fake://")
        assert api_db.finish_build(db, build, cell["id"]) is True
        assert api_db.finish_build(db, build, cell["id"]) is False
        mapping = api_db.get_instance_mapping(db, build)
        assert mapping["cell_uuid"] == cell["uuid"]
        assert api_db.get_quota_limits(db, "p", {"instances": 10}) == {"instances": 10}
        _check_flavor_and_quota_reads(db)
    finally:
        db.dispose()


def _check_flavor_and_quota_reads(db):
    """A flavor read in one statement with none, one or several extra specs;
    the default quota class under the project's own limits."""
    from compute_core.db import api_db
    from compute_core.db import api_schema as t

    api_db.create_flavor(db, "m1.bare", 256, 1, 1, flavorid="bare")
    api_db.create_flavor(db, "m1.rich", 256, 1, 1, flavorid="rich",
                         extra_specs={"a": "1", "b": "2", "c": None})
    assert api_db.get_flavor(db, "bare")["extra_specs"] == {}
    assert api_db.get_flavor(db, "rich")["extra_specs"] == {"a": "1", "b": "2", "c": None}
    assert api_db.get_flavor(db, "rich")["name"] == "m1.rich"
    now = api_db.now()
    with db.begin() as conn:
        conn.execute(t.quota_classes.insert(), [
            {"class_name": "default", "resource": "instances", "hard_limit": 20,
             "created_at": now},
            {"class_name": "default", "resource": "cores", "hard_limit": 40, "created_at": now},
            {"class_name": "gold", "resource": "cores", "hard_limit": 99, "created_at": now}])
        conn.execute(t.quotas.insert(), [
            {"project_id": "p", "resource": "cores", "hard_limit": 8, "created_at": now},
            {"project_id": "q", "resource": "ram", "hard_limit": 1, "created_at": now}])
    defaults = {"instances": 10, "cores": 20, "ram": 51200}
    assert api_db.get_quota_limits(db, "p", defaults) == {"instances": 20, "cores": 8,
                                                          "ram": 51200}
    assert api_db.get_quota_limits(db, "other", defaults) == {"instances": 20, "cores": 40,
                                                              "ram": 51200}


def test_api_0004_makes_every_fixed_ip_a_port(fresh_url):
    """0004 on a fixed_ips table as 0001 built it before ports: the port
    columns come, instance_uuid may be empty, each address gets a port id
    of its own; the schema is then the code's."""
    db = Database(fresh_url)
    try:
        migration.upgrade(db, "api", "0003")
        old = sa.MetaData()
        table = sa.Table(
            "fixed_ips", old,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("network", sa.String(255), nullable=False),
            sa.Column("address", sa.String(64), nullable=False),
            sa.Column("instance_uuid", sa.String(36), nullable=False),
            sa.Column("mac", sa.String(32)),
            sa.Column("created_at", sa.DateTime), sa.Column("updated_at", sa.DateTime),
            sa.UniqueConstraint("network", "address", name="uniq_fixed_ips0network0address"),
            sa.Index("fixed_ips_instance_idx", "instance_uuid"))
        with db.begin() as conn:
            conn.execute(sa.text("DROP TABLE fixed_ips"))
            table.create(conn)
            conn.execute(table.insert(), [
                {"network": "private", "address": f"10.0.0.{i}", "instance_uuid": f"i-{i}",
                 "mac": f"fa:16:3e:00:00:0{i}"} for i in (2, 3)])
        _upgrade_to_the_code_s_schema(db, "api")
        with db.connect() as conn:
            rows = conn.execute(sa.select(api_schema.fixed_ips)
                                .order_by(api_schema.fixed_ips.c.address)).all()
        assert [(r.address, r.instance_uuid, r.preserve_on_delete) for r in rows] == [
            ("10.0.0.2", "i-2", False), ("10.0.0.3", "i-3", False)]
        assert len({r.port_id for r in rows}) == 2 and all(r.port_id for r in rows)
        with db.begin() as conn:  # a free port: no instance
            conn.execute(api_schema.fixed_ips.insert().values(
                network="private", address="10.0.0.4", instance_uuid=None, port_id="p4"))
    finally:
        db.dispose()


def test_api_0005_gives_each_bound_port_its_server_s_project(fresh_url):
    """0005 on fixed_ips without owners: a bound port takes its server's
    project from the instance mapping (an UPDATE with a correlated
    subquery, on every backend), a free one keeps none."""
    db = Database(fresh_url)
    try:
        migration.upgrade(db, "api", "0004")
        f, m = api_schema.fixed_ips, api_schema.instance_mappings
        with db.begin() as conn:
            conn.execute(sa.text("ALTER TABLE fixed_ips DROP COLUMN project_id"))
            conn.execute(m.insert().values(instance_uuid="i-2", project_id="proj-a",
                                           queued_for_delete=False))
            for i, inst in ((2, "i-2"), (3, None), (4, "i-gone")):
                conn.execute(sa.text(
                    "INSERT INTO fixed_ips (network, address, instance_uuid, port_id, "
                    "preserve_on_delete) VALUES ('private', :address, :inst, :port, :keep)"),
                    {"address": f"10.0.0.{i}", "inst": inst, "port": f"p{i}", "keep": False})
        _upgrade_to_the_code_s_schema(db, "api")
        with db.connect() as conn:
            rows = conn.execute(sa.select(f.c.port_id, f.c.project_id)
                                .order_by(f.c.port_id)).all()
        assert [tuple(r) for r in rows] == [("p2", "proj-a"), ("p3", None), ("p4", None)]
    finally:
        db.dispose()
