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

    # A boot over the REST API with the token the CLI got.
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


def test_image_clients_against_compute_aio(aio, tmp_path):
    """The image service of compute-aio with `openstack image ...` and
    openstacksdk: upload, list, show, set, share, save, boot, delete."""
    import hashlib

    import openstack
    import openstack.config
    import openstack.connection

    proc, ready, log_path, ready_file = aio
    assert ready["image_url"]
    env = {**_clean_env(), "OS_CLIENT_CONFIG_FILE": ready["clouds_yaml"],
           "OS_CLOUD": ready["cloud"]}
    admin_env = {**env, "OS_CLOUD": ready["admin_cloud"]}
    assert "image" in {s["Type"] for s in _openstack(env, "catalog", "list")}
    data = bytes(range(256)) * 64
    source = tmp_path / "disk.raw"
    source.write_bytes(data)

    created = _openstack(env, "image", "create", "--file", str(source), "--disk-format", "raw",
                         "--container-format", "bare", "--property", "hw_architecture=x86_64",
                         "cli-image")
    assert created["status"] == "active"
    assert created["checksum"] == hashlib.md5(data).hexdigest()
    listed = {i["Name"]: i["Status"] for i in _openstack(env, "image", "list")}
    assert listed["cli-image"] == "active" and listed["default-raw"] == "active"
    shown = _openstack(env, "image", "show", "cli-image")
    assert shown["size"] == len(data) and shown["disk_format"] == "raw"
    _cli(["openstack", "image", "set", "--name", "cli-renamed", "--property", "colour=blue",
          "--tag", "t1", "--min-ram", "64", "cli-image"], env)
    shown = _openstack(env, "image", "show", "cli-renamed")
    assert shown["tags"] == ["t1"] and shown["min_ram"] == 64
    assert shown["properties"]["colour"] == "blue"
    saved = tmp_path / "saved.raw"
    _cli(["openstack", "image", "save", "--file", str(saved), "cli-renamed"], env)
    assert saved.read_bytes() == data

    # shared with the admin's project, which accepts it
    admin_project = _openstack(admin_env, "project", "show", "admin")["id"]
    _cli(["openstack", "image", "set", "--shared", "cli-renamed"], env)
    member = _openstack(env, "image", "add", "project", "cli-renamed", admin_project)
    assert member["status"] == "pending"
    _cli(["openstack", "image", "set", "--accept", "--project", admin_project,
          shown["id"]], admin_env)
    assert "cli-renamed" in {i["Name"] for i in _openstack(admin_env, "image", "list")}

    # a server boots from it
    server = _openstack(env, "server", "create", "--image", "cli-renamed", "--flavor",
                        "m1.tiny", "--nic", "none", "--wait", "vm-from-upload")
    assert server["status"] == "ACTIVE"
    # server show names the image (it asks the image service)
    shown = _openstack(env, "server", "show", "vm-from-upload")
    assert shown["image"].startswith("cli-renamed ("), shown["image"]
    _cli(["openstack", "server", "delete", "--wait", "vm-from-upload"], env)

    # openstacksdk, with the same clouds.yaml
    region = openstack.config.OpenStackConfig(
        config_files=[ready["clouds_yaml"]], load_envvars=False).get_one(cloud=ready["cloud"])
    conn = openstack.connection.Connection(config=region)
    try:
        image = conn.image.create_image(name="sdk-image", data=b"sdk bytes" * 100,
                                        disk_format="qcow2", container_format="bare",
                                        allow_duplicates=True)
        image = conn.image.get_image(image.id)
        assert image.status == "active" and image.size == 900
        assert image.hash_algo == "sha512"
        assert image.hash_value == hashlib.sha512(b"sdk bytes" * 100).hexdigest()
        # download_image verifies the data against the image's checksum
        assert conn.image.download_image(image).content == b"sdk bytes" * 100
        assert "sdk-image" in [i.name for i in conn.image.images()]
        conn.image.delete_image(image)
        assert conn.image.find_image("sdk-image") is None
    finally:
        conn.close()

    _cli(["openstack", "image", "delete", "cli-renamed"], env)
    assert "cli-renamed" not in {i["Name"] for i in _openstack(env, "image", "list")}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in log_path.read_text()
