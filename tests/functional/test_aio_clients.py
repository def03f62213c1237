"""compute-aio as a cloud for any client, from outside: started with
``--port 0 --ready-file F`` and driven by the real OpenStack CLIs with only
the clouds.yaml (or openrc) it wrote, through its identity endpoint."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

def _clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _cli(args, env, timeout=120):
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _openstack(env, *args):
    return json.loads(_cli(["openstack", *args, "-f", "json"], env))


@pytest.fixture
def aio(tmp_path):
    ready_file = tmp_path / "ready.json"
    log = open(tmp_path / "aio.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "compute_core.cmd.aio", "--state-dir", str(tmp_path / "state"),
         "--port", "0", "--ready-file", str(ready_file)],
        stdout=log, stderr=subprocess.STDOUT, env=_clean_env())
    try:
        deadline = time.monotonic() + 120
        while not ready_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "aio.log").read_text()
            time.sleep(0.1)
        yield proc, json.loads(ready_file.read_text()), tmp_path / "aio.log", ready_file
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_openstack_cli_against_compute_aio(aio):
    proc, ready, log_path, ready_file = aio
    for key in ("compute_url", "placement_url", "identity_url", "clouds_yaml"):
        assert ready[key], ready
    assert all(":0" not in ready[k] for k in ("compute_url", "placement_url", "identity_url"))
    env = {**_clean_env(), "OS_CLIENT_CONFIG_FILE": ready["clouds_yaml"],
           "OS_CLOUD": ready["cloud"]}
    admin_env = {**env, "OS_CLOUD": ready["admin_cloud"]}

    assert _openstack(env, "server", "list") == []
    catalog = {s["Type"] for s in _openstack(env, "catalog", "list")}
    assert {"compute", "placement", "identity"} <= catalog
    providers = _openstack(admin_env, "resource", "provider", "list")
    assert [p["name"] for p in providers] == ["host1"]
    assert {"admin", "demo"} <= {p["Name"] for p in _openstack(admin_env, "project", "list")}

    # A boot over the REST API with the token the CLI got (there is no image
    # service in the catalog for `server create --image`).
    token = _openstack(env, "token", "issue")["id"]
    headers = {"X-Auth-Token": token}
    image = requests.get(ready["compute_url"] + "/images", headers=headers,
                         timeout=30).json()["images"][0]["id"]
    resp = requests.post(ready["compute_url"] + "/servers", headers=headers, timeout=30,
                         json={"server": {"name": "vm1", "imageRef": image, "flavorRef": "1"}})
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and requests.get(
            f"{ready['compute_url']}/servers/{server_id}", headers=headers,
            timeout=30).json()["server"]["status"] not in ("ACTIVE", "ERROR"):
        time.sleep(0.2)
    servers = _openstack(env, "server", "list")
    assert [(s["Name"], s["Status"]) for s in servers] == [("vm1", "ACTIVE")]

    # novaclient reads OS_* variables: the openrc compute-aio wrote.
    nova_env = dict(_clean_env())
    for line in open(ready["openrc"]).read().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        nova_env[key] = value
    assert "vm1" in _cli(["nova", "list"], nova_env)

    # compute-status finds the running cloud from its state directory.
    status = subprocess.run([sys.executable, "-m", "compute_core.cmd.status", "--state-dir",
                             ready["state_dir"], "upgrade", "check", "--json"],
                            capture_output=True, text=True, timeout=120, env=_clean_env())
    assert status.returncode == 0, status.stdout + status.stderr

    _cli(["openstack", "server", "delete", "--wait", "vm1"], env)
    assert _openstack(env, "server", "list") == []

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    out = log_path.read_text()
    assert "stopping..." in out and "Traceback" not in out
    assert not ready_file.exists()
    # The request log and the server's state changes.
    assert "compute_core.requests: GET /v2.1/servers/detail 200" in out
    assert "compute_core.requests: POST /v3/auth/tokens 201" in out
    assert f"compute_core.servers: server {server_id} vm_state=active" in out
    assert f"server {server_id} vm_state=deleted" in out or \
        f"server {server_id} task_state=deleting" in out
