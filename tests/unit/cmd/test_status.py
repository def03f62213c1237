"""compute-status upgrade check: each check's results and the exit codes
(0 all Success, 1 a Warning, 2 a Failure, 255 could not run)."""
from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading

import pytest

from compute_core import assembly
from compute_core import conf as cc_conf
from compute_core.cmd import status
from compute_core.placement_client.client import PlacementClient


def results(outcome) -> dict[str, tuple[str, str]]:
    """{check: (result, details)} read back from the printed table."""
    found, current = {}, None
    for line in outcome.out.splitlines():
        text = line.strip("|").strip()
        if text.startswith("Check: "):
            current = text[len("Check: "):]
        elif text.startswith("Result: "):
            found[current] = [text[len("Result: "):], ""]
        elif text.startswith("Details: "):
            found[current][1] = text[len("Details: "):]
        elif current in found and line.startswith("|") and found[current][1]:
            found[current][1] += " " + text
    return {k: tuple(v) for k, v in found.items()}


@pytest.fixture
def placement_api(deployment):
    """A real placement API (the paste pipeline, noauth2) on a free port,
    over the deployment's placement database."""
    deployment.ok("placement", "sync")
    conf = cc_conf.load(config_files=[deployment.config])
    services = assembly.PlacementServices(conf)
    app = assembly.load_wsgi_app(conf, "placement", services)
    server = assembly.WSGIServer(app, "127.0.0.1", 0, threads=4, name="placement-test")
    server.start()
    yield server.url
    server.stop()
    services.close()


@pytest.fixture
def configured(deployment, placement_api):
    """The deployment's config pointing at the running placement API."""
    deployment.config = deployment.write_config(
        "with-placement.conf", {"placement": {"endpoint_override": placement_api}})
    return deployment


def _provider_for(deployment, node):
    conf = cc_conf.load(config_files=[deployment.config])
    client = PlacementClient(conf)
    try:
        client.ensure_provider(node["uuid"], node["hypervisor_hostname"])
    finally:
        client.close()


def test_all_success(configured):
    configured.setup_cells()
    outcome = configured.status("upgrade", "check")
    assert outcome.code == 0, outcome
    found = results(outcome)
    assert list(found) == ["Cells v2", "Placement API", "Resource Providers",
                           "Database Schemas"]
    assert {r for r, _ in found.values()} == {"Success"}
    assert "discover_hosts" in found["Cells v2"][1]
    assert outcome.out.splitlines()[1].strip("| ") == "Upgrade Check Results"
    assert outcome.err == ""


def test_compute_nodes_hosts_and_providers(configured):
    configured.setup_cells()
    node = configured.add_compute_node("compute1")

    outcome = configured.status("upgrade", "check")
    found = results(outcome)
    assert found["Cells v2"][0] == "Failure"
    assert "No host mappings found but there are compute nodes" in found["Cells v2"][1]
    assert found["Resource Providers"][0] == "Warning"
    assert "compute1" in found["Resource Providers"][1]
    assert outcome.code == 2

    configured.ok("cell_v2", "discover_hosts")
    configured.add_compute_node("compute2")
    outcome = configured.status("upgrade", "check")
    found = results(outcome)
    assert found["Cells v2"][0] == "Warning"
    assert "compute2" in found["Cells v2"][1]
    assert outcome.code == 1

    configured.ok("cell_v2", "discover_hosts")
    outcome = configured.status("upgrade", "check")
    assert results(outcome)["Cells v2"][0] == "Success"
    assert results(outcome)["Resource Providers"][0] == "Warning"
    assert "2 of 2" in results(outcome)["Resource Providers"][1]
    assert outcome.code == 1

    _provider_for(configured, node)
    found = results(configured.status("upgrade", "check"))
    assert "1 of 2" in found["Resource Providers"][1]
    assert "compute1" not in found["Resource Providers"][1]


def test_every_node_with_a_provider_is_success(configured):
    configured.setup_cells()
    node = configured.add_compute_node("compute1")
    configured.ok("cell_v2", "discover_hosts")
    _provider_for(configured, node)
    outcome = configured.status("upgrade", "check")
    assert outcome.code == 0, outcome.out


def test_no_cell0(configured):
    configured.ok("api_db", "sync")
    configured.ok("cell_v2", "create_cell", "--name", "cell1")
    configured.ok("db", "sync")
    outcome = configured.status("upgrade", "check")
    assert results(outcome)["Cells v2"][0] == "Failure"
    assert "map_cell0" in results(outcome)["Cells v2"][1]
    assert outcome.code == 2


def test_only_cell0(configured):
    configured.ok("api_db", "sync")
    configured.ok("cell_v2", "map_cell0")
    outcome = configured.status("upgrade", "check")
    assert "at least two cell mappings" in results(outcome)["Cells v2"][1]
    assert outcome.code == 2


def test_unmigrated_databases(configured, tmp_path):
    configured.setup_cells()
    configured.ok("cell_v2", "create_cell", "--name", "new", "--transport-url", "fake://",
                  "--database_connection", f"sqlite:///{tmp_path}/new.sqlite")
    found = results(configured.status("upgrade", "check"))
    assert found["Database Schemas"][0] == "Failure"
    assert "cell new" in found["Database Schemas"][1]
    assert "compute-manage db sync" in found["Database Schemas"][1]
    configured.ok("db", "sync")
    assert results(configured.status("upgrade", "check"))["Database Schemas"][0] == "Success"


def test_unmigrated_api_database(configured):
    outcome = configured.status("upgrade", "check")
    found = results(outcome)
    assert found["Cells v2"][0] == "Failure"
    assert "api_db sync" in found["Cells v2"][1]
    assert found["Database Schemas"][0] == "Failure"
    assert "compute-manage api_db sync" in found["Database Schemas"][1]
    assert outcome.code == 2
    assert "Traceback" not in outcome.out + outcome.err


def test_placement_not_configured_or_down(deployment):
    deployment.setup_cells()
    found = results(deployment.status("upgrade", "check"))
    assert found["Placement API"][0] == "Failure"
    assert "endpoint_override" in found["Placement API"][1]
    deployment.config = deployment.write_config(
        "down.conf", {"placement": {"endpoint_override": "http://127.0.0.1:1/", "timeout": 2}})
    outcome = deployment.status("upgrade", "check")
    assert "does not seem to be running" in results(outcome)["Placement API"][1]
    assert outcome.code == 2


class _OldPlacement(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"versions": [{"id": "v1.0", "max_version": "1.10",
                                         "min_version": "1.0", "status": "CURRENT"}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def test_placement_microversion_too_old(deployment):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OldPlacement)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        deployment.config = deployment.write_config("old.conf", {"placement": {
            "endpoint_override": f"http://127.0.0.1:{server.server_address[1]}"}})
        deployment.setup_cells()
        found = results(deployment.status("upgrade", "check"))
    finally:
        server.shutdown()
        server.server_close()
    assert found["Placement API"] == (
        "Failure", f"Placement API version {status.MIN_PLACEMENT_MICROVERSION} needed, "
                   "you have 1.10.")


def test_json_output(configured):
    configured.setup_cells()
    outcome = configured.status("upgrade", "check", "--json")
    data = json.loads(outcome.out)
    assert [c["check"] for c in data["checks"]] == [
        "Cells v2", "Placement API", "Resource Providers", "Database Schemas"]
    assert {c["result"] for c in data["checks"]} == {0}


def test_bad_configuration_is_255_in_one_line(deployment):
    config = deployment.write_config("bad.conf", {"api": {"auth_strategy": "nosuch"}})
    outcome = deployment.status("upgrade", "check", config=config)
    outcome.assert_one_error_line("auth_strategy")
    assert outcome.code == 255


def test_unexpected_error_is_255(configured, monkeypatch):
    configured.setup_cells()

    def broken(self):
        raise RuntimeError("bug in a check")

    monkeypatch.setattr(status.UpgradeChecks, "CHECKS", (("Broken", broken),))
    outcome = configured.status("upgrade", "check")
    outcome.assert_one_error_line("bug in a check")
    assert outcome.code == 255


def test_format_results_frames_every_section():
    text = status.format_results([
        ("Cells v2", status.Result(status.SUCCESS)),
        ("Placement API", status.Result(status.FAILURE, "word " * 40))])
    lines = text.splitlines()
    assert len({len(line) for line in lines}) == 1
    assert lines[0] == lines[2] == lines[-1]
    assert "| Details: None" in text
    assert sum(1 for line in lines if line.startswith("+")) == 4


def test_console_script(configured, tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "compute-status")
    if not os.path.exists(script):
        pytest.skip(f"console scripts not installed beside {sys.executable}")
    configured.setup_cells()
    proc = subprocess.run([script, "--config-file", configured.config, "upgrade", "check"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    assert "| Check: Placement API" in proc.stdout
