"""compute-manage against SQLite files: every command, and its failures as
one line on stderr with a non-zero exit code."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from compute_core import conf as cc_conf
from compute_core.cmd import common
from compute_core.db import api_db, api_schema, cell_db, migration
from compute_core.db.cells import CELL0_UUID, cell0_url
from compute_core.image import load_image_backend


def table_rows(text: str) -> list[list[str]]:
    """The data rows of a table format_table printed."""
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|")]
    return rows[1:]


# ------------------------------------------------------------- migrations

def test_api_db_sync_and_version(deployment):
    assert deployment.ok("api_db", "version").strip() == "None"
    out = deployment.ok("api_db", "sync")
    assert f"at revision {migration.head('api')}" in out
    assert deployment.ok("api_db", "version").strip() == migration.head("api")
    # a second sync has nothing to do and still succeeds
    deployment.ok("api_db", "sync")


def test_db_sync_migrates_local_cell0_and_every_mapped_cell(deployment, tmp_path):
    deployment.ok("api_db", "sync")
    deployment.ok("cell_v2", "map_cell0")
    cell2_url = f"sqlite:///{tmp_path}/cell2.sqlite"
    deployment.ok("cell_v2", "create_cell", "--name", "cell1")
    deployment.ok("cell_v2", "create_cell", "--name", "cell2",
                  "--database_connection", cell2_url, "--transport-url", "fake://")
    out = deployment.ok("db", "sync")
    # [database] is cell1's URL: migrated once, not twice
    assert out.count("cell1.sqlite") == 1
    for url in (deployment.cell1_url, cell0_url(deployment.cell1_url), cell2_url):
        assert migration.current(deployment.db(url)) == migration.head("cell")
    assert deployment.ok("db", "version").strip() == migration.head("cell")


def test_db_sync_local_cell_only(deployment, tmp_path):
    deployment.ok("api_db", "sync")
    deployment.ok("cell_v2", "map_cell0")
    deployment.ok("db", "sync", "--local_cell")
    assert migration.current(deployment.db(deployment.cell1_url)) == migration.head("cell")
    assert not os.path.exists(tmp_path / "cell1_cell0.sqlite")


def test_db_sync_without_cell0_warns_and_migrates_the_local_cell(deployment):
    deployment.ok("api_db", "sync")
    out = deployment.ok("db", "sync")
    assert "WARNING: cell0 mapping not found" in out
    assert deployment.ok("db", "version").strip() == migration.head("cell")


def test_db_sync_needs_a_migrated_api_database(deployment):
    result = deployment.manage("db", "sync")
    result.assert_one_error_line("api", "not migrated", "compute-manage api_db sync")
    assert result.code == 1


def test_placement_sync_and_version(deployment):
    assert deployment.ok("placement", "version").strip() == "None"
    deployment.ok("placement", "sync")
    assert deployment.ok("placement", "version").strip() == migration.head("placement")


def test_sync_to_an_unknown_revision_fails_in_one_line(deployment):
    deployment.manage("api_db", "sync", "nosuchrev").assert_one_error_line()


# ---------------------------------------------------------------- cell_v2

def test_map_cell0_defaults_to_the_database_connection_with_cell0(deployment):
    deployment.ok("api_db", "sync")
    assert deployment.ok("cell_v2", "map_cell0") == ""
    cell0 = api_db.get_cell(deployment.db(deployment.api_url), CELL0_UUID)
    assert cell0["name"] == "cell0"
    assert cell0["database_connection"] == cell0_url(deployment.cell1_url)
    assert cell0["database_connection"].endswith("cell1_cell0.sqlite")
    # again: nothing to do, and Nova's answer
    assert deployment.ok("cell_v2", "map_cell0").strip() == "Cell0 is already setup"


def test_map_cell0_with_an_explicit_url(deployment, tmp_path):
    deployment.ok("api_db", "sync")
    url = f"sqlite:///{tmp_path}/zero.sqlite"
    deployment.ok("cell_v2", "map_cell0", "--database_connection", url)
    assert deployment.cell("cell0")["database_connection"] == url


def test_map_cell0_without_any_url(deployment):
    config = deployment.write_config("nodb.conf", {"database": {"connection": None}})
    deployment.ok("api_db", "sync")
    result = deployment.manage("cell_v2", "map_cell0", config=config)
    result.assert_one_error_line("--database_connection")


def test_create_cell_defaults_come_from_the_configuration(deployment):
    deployment.ok("api_db", "sync")
    uuid = deployment.ok("cell_v2", "create_cell", "--name", "cell1", "--verbose").strip()
    cell = deployment.cell("cell1")
    assert cell["uuid"] == uuid
    assert cell["database_connection"] == deployment.cell1_url
    assert cell["transport_url"] == "rabbit://guest:s3cret@mq.example:5672/"
    assert not cell["disabled"]


def test_create_cell_refuses_a_duplicate(deployment, tmp_path):
    deployment.ok("api_db", "sync")
    deployment.ok("cell_v2", "create_cell", "--name", "cell1")
    same_name = deployment.manage("cell_v2", "create_cell", "--name", "cell1",
                                  "--database_connection", f"sqlite:///{tmp_path}/x.sqlite")
    same_name.assert_one_error_line("cell1", "already exists")
    assert same_name.code == 2
    same_urls = deployment.manage("cell_v2", "create_cell", "--name", "other")
    same_urls.assert_one_error_line("combination already exists")
    assert same_urls.code == 2
    assert len(api_db.list_cells(deployment.db(deployment.api_url))) == 1


def test_create_cell_needs_a_transport_url(deployment):
    config = deployment.write_config("nomq.conf", transport_url="")
    deployment.ok("api_db", "sync")
    result = deployment.manage("cell_v2", "create_cell", "--name", "c", config=config)
    result.assert_one_error_line("--transport-url")
    assert result.code == 1


def test_create_cell_refuses_a_bad_url(deployment):
    deployment.ok("api_db", "sync")
    result = deployment.manage("cell_v2", "create_cell", "--name", "c",
                               "--database_connection", "not a url")
    result.assert_one_error_line("invalid database URL", "not a url")


def test_create_cell_refuses_a_bad_transport_url(deployment):
    deployment.ok("api_db", "sync")
    result = deployment.manage("cell_v2", "create_cell", "--name", "c",
                               "--transport-url", "rabbit://user:pw@host:notaport/")
    result.assert_one_error_line("invalid transport URL", "user:****@")
    deployment.manage("cell_v2", "create_cell", "--name", "c", "--transport-url",
                      "nonsense").assert_one_error_line("No scheme specified")


def test_list_cells_masks_passwords_unless_verbose(deployment):
    deployment.ok("api_db", "sync")
    deployment.ok("cell_v2", "map_cell0")
    deployment.ok("cell_v2", "create_cell", "--name", "cell1", "--disabled",
                  "--database_connection", "mysql+pymysql://nova:dbpass@db.example/nova")
    out = deployment.ok("cell_v2", "list_cells")
    lines = out.splitlines()
    assert lines[0] == lines[2] == lines[-1] and set(lines[0]) == {"+", "-"}
    assert [c.strip() for c in lines[1].strip("|").split("|")] == [
        "Name", "UUID", "Transport URL", "Database Connection", "Disabled"]
    rows = table_rows(out)
    assert [r[0] for r in rows] == ["cell0", "cell1"]
    assert rows[0][1] == CELL0_UUID
    assert rows[0][4] == "False"
    assert rows[1][2:] == ["rabbit://guest:****@mq.example:5672/",
                           "mysql+pymysql://nova:****@db.example/nova", "True"]
    assert "s3cret" not in out and "dbpass" not in out
    verbose = deployment.ok("cell_v2", "list_cells", "--verbose")
    assert "s3cret" in verbose and "dbpass" in verbose


def test_discover_hosts_and_list_hosts(deployment):
    cell1 = deployment.setup_cells()
    deployment.add_compute_node("compute1")
    deployment.add_compute_node("compute2")
    out = deployment.ok("cell_v2", "discover_hosts", "--verbose")
    assert "Mapped compute host 'compute1' to cell 'cell1'." in out
    assert "2 new host mappings." in out
    assert table_rows(deployment.ok("cell_v2", "list_hosts")) == [
        ["cell1", cell1, "compute1"], ["cell1", cell1, "compute2"]]
    assert table_rows(deployment.ok("cell_v2", "list_hosts", "--cell_uuid", cell1)) == [
        ["cell1", cell1, "compute1"], ["cell1", cell1, "compute2"]]
    assert table_rows(deployment.ok("cell_v2", "list_hosts", "--cell_uuid", CELL0_UUID)) == []
    # nothing new: quiet success, or 1 with --strict
    assert deployment.ok("cell_v2", "discover_hosts") == ""
    assert deployment.manage("cell_v2", "discover_hosts", "--strict").code == 1


def test_discover_hosts_in_one_cell(deployment, tmp_path):
    deployment.setup_cells()
    cell2_url = f"sqlite:///{tmp_path}/cell2.sqlite"
    deployment.ok("cell_v2", "create_cell", "--name", "cell2",
                  "--database_connection", cell2_url, "--transport-url", "fake://")
    deployment.ok("db", "sync")
    deployment.add_compute_node("a-host")
    deployment.add_compute_node("b-host", url=cell2_url)
    cell2 = deployment.cell("cell2")["uuid"]
    deployment.ok("cell_v2", "discover_hosts", "--cell_uuid", cell2)
    assert [r[2] for r in table_rows(deployment.ok("cell_v2", "list_hosts"))] == ["b-host"]


def test_unknown_cell_is_one_line(deployment):
    deployment.setup_cells()
    for argv in (("cell_v2", "list_hosts", "--cell_uuid", "nope"),
                 ("cell_v2", "discover_hosts", "--cell_uuid", "nope"),
                 ("cell_v2", "delete_cell", "--cell_uuid", "nope")):
        result = deployment.manage(*argv)
        result.assert_one_error_line("Cell with uuid nope was not found.")
        assert result.code == 1


def test_discover_hosts_refuses_an_unmigrated_cell_database(deployment, tmp_path):
    deployment.setup_cells()
    deployment.ok("cell_v2", "create_cell", "--name", "fresh", "--transport-url", "fake://",
                  "--database_connection", f"sqlite:///{tmp_path}/fresh.sqlite")
    result = deployment.manage("cell_v2", "discover_hosts")
    result.assert_one_error_line("fresh.sqlite", "not migrated", "compute-manage db sync")


def test_delete_cell(deployment, tmp_path):
    cell1 = deployment.setup_cells()
    api = deployment.db(deployment.api_url)
    deployment.add_compute_node("compute1")
    deployment.ok("cell_v2", "discover_hosts")

    with_hosts = deployment.manage("cell_v2", "delete_cell", "--cell_uuid", cell1)
    with_hosts.assert_one_error_line("existing hosts")
    assert with_hosts.code == 2

    # an empty cell goes
    url = f"sqlite:///{tmp_path}/empty.sqlite"
    deployment.ok("cell_v2", "create_cell", "--name", "empty", "--transport-url", "fake://",
                  "--database_connection", url)
    empty = deployment.cell("empty")["uuid"]
    deployment.ok("cell_v2", "delete_cell", "--cell_uuid", empty)
    assert [c["name"] for c in api_db.list_cells(api)] == ["cell0", "cell1"]


def test_delete_cell_with_instances(deployment, tmp_path):
    deployment.setup_cells()
    url = f"sqlite:///{tmp_path}/busy.sqlite"
    deployment.ok("cell_v2", "create_cell", "--name", "busy", "--transport-url", "fake://",
                  "--database_connection", url)
    deployment.ok("db", "sync")
    busy = deployment.cell("busy")
    api = deployment.db(deployment.api_url)
    with api.begin() as conn:
        conn.execute(api_schema.instance_mappings.insert().values(
            instance_uuid="11111111-2222-3333-4444-555555555555", cell_id=busy["id"],
            project_id="p", queued_for_delete=False))
    cell = deployment.db(url)
    cell_db.create_instance(cell, {"uuid": "11111111-2222-3333-4444-555555555555",
                                   "project_id": "p", "vm_state": "active"})
    result = deployment.manage("cell_v2", "delete_cell", "--cell_uuid", busy["uuid"])
    result.assert_one_error_line("existing instances")
    assert result.code == 3

    cell_db.soft_delete_instance(cell, "11111111-2222-3333-4444-555555555555")
    result = deployment.manage("cell_v2", "delete_cell", "--cell_uuid", busy["uuid"])
    result.assert_one_error_line("instance mappings")
    assert result.code == 4
    assert deployment.cell("busy")


# ----------------------------------------------------------- plugins, image

def test_plugins_list_names_every_group_and_distribution(deployment):
    out = deployment.ok("plugins", "list")
    rows = table_rows(out)
    groups = {r[0] for r in rows}
    assert {"compute_core.virt_drivers", "compute_core.scheduler.filters",
            "compute_core.scheduler.weighers", "compute_core.console_proxies",
            "compute_core.image_backends", "compute_core.network_backends"} <= groups
    fake = [r for r in rows if r[:2] == ["compute_core.virt_drivers", "fake"]]
    assert fake and fake[0][2] == "compute_core" and fake[0][3]
    assert fake[0][4] == "ok" and fake[0][5].endswith(":FakeDriver")


def test_plugins_list_needs_no_configuration(deployment):
    assert deployment.manage("plugins", "list", config=None).code == 0


def test_image_import(deployment, tmp_path):
    deployment.setup_cells()
    image_file = tmp_path / "disk.img"
    image_file.write_bytes(b"\0" * 4096)
    out = deployment.ok("image", "import", "tiny", str(image_file), "--disk-format", "qcow2",
                        "--property", "hw_architecture=x86_64", "--property", "os_distro=cirros")
    fields = dict(table_rows(out))
    assert fields["name"] == "tiny"
    assert fields["size"] == "4096"
    assert fields["properties.os_distro"] == "cirros"
    conf = cc_conf.load(config_files=[deployment.config])
    images = load_image_backend(conf, deployment.db(deployment.api_url))
    [image] = images.list()
    assert image["id"] == fields["id"]
    assert image["disk_format"] == "qcow2"
    assert image["properties"] == {"hw_architecture": "x86_64", "os_distro": "cirros"}
    with open(images.path(image["id"]), "rb") as f:
        assert f.read() == b"\0" * 4096


def test_image_import_errors(deployment, tmp_path):
    deployment.setup_cells()
    image_file = tmp_path / "disk.img"
    image_file.write_bytes(b"x")
    bad = deployment.manage("image", "import", "i", str(image_file), "--property", "novalue")
    bad.assert_one_error_line("KEY=VALUE")
    assert bad.code == 2
    missing = deployment.manage("image", "import", "i", str(tmp_path / "nope.img"))
    missing.assert_one_error_line("nope.img")
    assert missing.code == 1


# ------------------------------------------------------------------ failures

def test_unmigrated_api_database_is_one_line(deployment):
    for argv in (("cell_v2", "list_cells"), ("cell_v2", "map_cell0"),
                 ("cell_v2", "list_hosts"), ("cell_v2", "create_cell", "--name", "x")):
        result = deployment.manage(*argv)
        result.assert_one_error_line("not migrated", "compute-manage api_db sync")
        assert result.code == 1


def test_bad_database_url_is_one_line(deployment):
    config = deployment.write_config("bad.conf", {"api_database": {"connection": "nonsense"}})
    result = deployment.manage("api_db", "sync", config=config)
    result.assert_one_error_line("invalid database URL", "[api_database]")


def test_unknown_database_driver_is_one_line(deployment):
    config = deployment.write_config("bad.conf", {"database": {"connection": "nosuchdb://x/y"}})
    deployment.manage("db", "version", config=config).assert_one_error_line("[database]")


def test_unreachable_database_is_one_line_and_quick(deployment):
    url = "mysql+pymysql://root@127.0.0.1:1/compute"
    config = deployment.write_config("down.conf", {"api_database": {"connection": url}})
    started = time.monotonic()
    result = deployment.manage("api_db", "sync", config=config)
    assert time.monotonic() - started < 10, "must not retry for minutes"
    result.assert_one_error_line("cannot connect", "127.0.0.1:1")


def test_unset_database_is_one_line(deployment):
    config = deployment.write_config("nodb.conf", {"placement_database": {"connection": None}})
    deployment.manage("placement", "sync", config=config).assert_one_error_line(
        "[placement_database] connection is not set")


def test_missing_config_file_is_one_line(deployment, tmp_path):
    result = deployment.manage("db", "version", config=str(tmp_path / "missing.conf"))
    result.assert_one_error_line("missing.conf")


def test_invalid_configuration_is_one_line(deployment):
    config = deployment.write_config("bad.conf", {"DEFAULT": {"report_interval": "abc"}})
    deployment.manage("db", "version", config=config).assert_one_error_line("report_interval")


def test_config_dir_is_read(deployment, tmp_path):
    confdir = tmp_path / "compute.conf.d"
    confdir.mkdir()
    (confdir / "10-placement.conf").write_text(
        f"[placement_database]\nconnection = sqlite:///{tmp_path}/other.sqlite\n")
    result = deployment.manage("--config-dir", str(confdir), "placement", "sync")
    assert result.code == 0, result
    assert "other.sqlite" in result.out


def test_wrong_usage_exits_2(deployment):
    with pytest.raises(SystemExit) as exc:
        deployment.manage("cell_v2", "no_such_action")
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        deployment.manage("cell_v2", "delete_cell")  # --cell_uuid is required
    assert exc.value.code == 2


def test_unexpected_error_exits_255_in_one_line(deployment, monkeypatch):
    deployment.ok("api_db", "sync")

    def broken(db):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(api_db, "list_cells", broken)
    result = deployment.manage("cell_v2", "list_cells")
    result.assert_one_error_line("RuntimeError", "boom")
    assert result.code == 255


def test_mask_password():
    assert common.mask_password("rabbit://a:p1@h1:5672,b:p2@h2:5672/vh") == \
        "rabbit://a:****@h1:5672,b:****@h2:5672/vh"
    assert common.mask_password("sqlite:////var/lib/x.sqlite") == "sqlite:////var/lib/x.sqlite"
    assert common.mask_password(None) == ""


# ----------------------------------------------------- the console scripts

def _script(name, *argv, cwd):
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), name), *argv],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture
def console_scripts():
    path = os.path.join(os.path.dirname(sys.executable), "compute-manage")
    if not os.path.exists(path):
        pytest.skip(f"console scripts not installed beside {sys.executable} "
                    "(pip install -e .)")


def test_console_script_sets_up_a_deployment(deployment, tmp_path, console_scripts):
    for argv in (["api_db", "sync"], ["cell_v2", "map_cell0"],
                 ["cell_v2", "create_cell", "--name", "cell1"], ["db", "sync"]):
        proc = _script("compute-manage", "--config-file", deployment.config, *argv, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
    proc = _script("compute-manage", "--config-file", deployment.config, "cell_v2",
                   "list_cells", cwd=tmp_path)
    assert [r[0] for r in table_rows(proc.stdout)] == ["cell0", "cell1"]


@pytest.mark.parametrize("section,url,fragment", [
    ("api_database", "not-a-url", "invalid database URL"),
    ("api_database", "postgresql+psycopg2://nobody@127.0.0.1:1/x", "cannot connect"),
], ids=["bad-url", "unreachable"])  # no ':' in ids: gabbi's plugin reads those as suites
def test_console_script_errors_are_one_line(deployment, tmp_path, console_scripts,
                                            section, url, fragment):
    config = deployment.write_config("bad.conf", {section: {"connection": url}})
    proc = _script("compute-manage", "--config-file", config, "cell_v2", "list_cells",
                   cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert fragment in proc.stderr


def test_console_script_unmigrated_database(deployment, tmp_path, console_scripts):
    proc = _script("compute-manage", "--config-file", deployment.config, "cell_v2",
                   "list_cells", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"ERROR: The api ({deployment.api_url}) database is not migrated: run "
        "compute-manage api_db sync."]


def test_delete_cell_removes_only_the_mapping(deployment, tmp_path):
    deployment.setup_cells()
    url = f"sqlite:///{tmp_path}/gone.sqlite"
    deployment.ok("cell_v2", "create_cell", "--name", "gone", "--transport-url", "fake://",
                  "--database_connection", url)
    gone = deployment.cell("gone")["uuid"]
    deployment.ok("cell_v2", "delete_cell", "--cell_uuid", gone)
    with deployment.db(deployment.api_url).connect() as conn:
        names = conn.execute(sa.select(api_schema.cell_mappings.c.name)).scalars().all()
    assert sorted(names) == ["cell0", "cell1"]
