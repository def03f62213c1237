"""The glance image backend against the real Glance (the ``glance`` package
from PyPI, in its own virtualenv, served by gunicorn), authenticating with
the embedded identity endpoint: an image uploaded with ``openstack image
create`` to Glance boots a server, and the backend's own uploads land in
Glance.

The virtualenv is ``$COMPUTE_CORE_GLANCE_VENV`` (default
``/opt/compute-core/glance-venv``; .ci/setup makes it); without it the test
skips, saying so.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time

import pytest
import requests
import yaml

from compute_core.cloud import Cloud
from compute_core.testing import api_request, wait_for_server
from tests.integration.conftest import free_port

VENV = os.environ.get("COMPUTE_CORE_GLANCE_VENV", "/opt/compute-core/glance-venv")
GLANCE_USER = ("glance", "glance-secret")


def _skip_reason():
    for tool in ("gunicorn", "glance-manage"):
        if not os.path.exists(os.path.join(VENV, "bin", tool)):
            return f"no Glance virtualenv at {VENV} (bin/{tool} missing; .ci/setup makes it)"
    return None


def _write_config(directory, port, auth_url):
    paste = os.path.join(VENV, "etc", "glance", "glance-api-paste.ini")
    user, password = GLANCE_USER
    text = f"""[DEFAULT]
bind_host = 127.0.0.1
bind_port = {port}
worker_self_reference_url = http://127.0.0.1:{port}
enabled_backends = fs:file

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = {directory}/images

[os_glance_staging_store]
filesystem_store_datadir = {directory}/staging

[os_glance_tasks_store]
filesystem_store_datadir = {directory}/tasks

[database]
connection = sqlite:///{directory}/glance.sqlite

[paste_deploy]
flavor = keystone
config_file = {paste}

[keystone_authtoken]
www_authenticate_uri = {auth_url}
auth_url = {auth_url}
auth_type = password
username = {user}
password = {password}
project_name = service
user_domain_name = Default
project_domain_name = Default
"""
    with open(os.path.join(directory, "glance-api.conf"), "w") as f:
        f.write(text)


@pytest.fixture(scope="module")
def glance(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        print(f"SKIP: {reason}", file=sys.stderr)
        pytest.skip(reason)
    directory = str(tmp_path_factory.mktemp("glance"))
    port, identity_port = free_port(), free_port()
    auth_url = f"http://127.0.0.1:{identity_port}/v3"
    _write_config(directory, port, auth_url)
    env = {**os.environ, "OS_GLANCE_CONFIG_DIR": directory}
    env.pop("PYTHONPATH", None)
    subprocess.run([os.path.join(VENV, "bin", "glance-manage"), "--config-file",
                    os.path.join(directory, "glance-api.conf"), "db_sync"],
                   check=True, capture_output=True, env=env, timeout=300)
    log = open(os.path.join(directory, "glance.log"), "w+")
    proc = subprocess.Popen([os.path.join(VENV, "bin", "gunicorn"), "-b", f"127.0.0.1:{port}",
                             "-w", "1", "--threads", "4", "--timeout", "120",
                             "glance.wsgi.api:application"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:  # the worker loads Glance at its first request: slow under load
                if requests.get(url + "/", timeout=60).status_code in (200, 300):
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, \
                open(log.name).read()[-3000:]
            time.sleep(0.5)
        yield url, identity_port, directory
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def cloud(glance, tmp_path_factory):
    url, identity_port, _ = glance
    user, password = GLANCE_USER
    with Cloud(auth="keystone", identity_port=identity_port,
               state_dir=str(tmp_path_factory.mktemp("cloud")),
               users=[(user, password, "service", ("admin", "service"))],
               overrides={"image_backend": "glance", "glance.endpoint_override": url}) as c:
        yield c


def test_openstack_image_create_to_glance_then_boot(cloud, glance, tmp_path):
    url, _, _ = glance
    doc = cloud.clouds_yaml("glance-test", project="demo")
    doc["clouds"]["glance-test"]["image_endpoint_override"] = url
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(doc))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=str(path), OS_CLOUD="glance-test")
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"real glance " * 1000)
    done = subprocess.run(["openstack", "image", "create", "--file", str(disk),
                           "--disk-format", "raw", "--container-format", "bare",
                           "from-openstack-cli", "-f", "json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    image = json.loads(done.stdout)
    assert image["status"] == "active"
    # Glance itself has it
    token = cloud.member_token
    resp = requests.get(f"{url}/v2/images/{image['id']}", headers={"X-Auth-Token": token},
                        timeout=30)
    assert resp.status_code == 200 and resp.json()["status"] == "active"
    # the compute API finds it through the glance backend and boots from it
    resp = api_request(cloud, "GET", f"/images/{image['id']}", token=token)
    assert resp.status_code == 200 and resp.json()["image"]["status"] == "ACTIVE"
    resp = api_request(cloud, "POST", "/servers", token=token, version="2.37", body={
        "server": {"name": "on-real-glance", "imageRef": image["id"], "flavorRef": "1",
                   "networks": "none"}})
    assert resp.status_code == 202, resp.text
    server = wait_for_server(cloud, resp.json()["server"]["id"], token=token)
    assert server["status"] == "ACTIVE" and server["image"]["id"] == image["id"]
    # drivers get a local copy checked against Glance's checksum
    with open(cloud._api.images.path(image["id"]), "rb") as f:
        assert f.read() == disk.read_bytes()


def test_backend_uploads_land_in_glance(cloud, glance):
    url, _, _ = glance
    backend = cloud._api.images
    image = backend.create("from-backend", io.BytesIO(b"\7" * 5000), disk_format="raw",
                           properties={"hw_architecture": "x86_64"})
    assert image["status"] == "active" and image["size"] == 5000
    resp = requests.get(f"{url}/v2/images/{image['id']}/file", timeout=30,
                        headers={"X-Auth-Token": cloud.admin_token})
    assert resp.content == b"\7" * 5000
    assert "default-raw" in [i["name"] for i in backend.list()]
    backend.delete(image["id"])
    resp = requests.get(f"{url}/v2/images/{image['id']}", timeout=30,
                        headers={"X-Auth-Token": cloud.admin_token})
    assert resp.status_code == 404


def test_a_snapshot_upload_declares_its_format_to_glance(cloud, glance, tmp_path):
    """What a libvirt snapshot does: the queued record made with the base
    image's format (raw) takes the data's (qcow2) before the data."""
    url, _, _ = glance
    disk = tmp_path / "snap.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    backend = cloud._api.images
    record = backend.create_record("declared-qcow2", disk_format="raw")
    with open(disk, "rb") as f:
        image = backend.upload(record["id"], f, disk_format="qcow2")
    assert (image["status"], image["disk_format"]) == ("active", "qcow2")
    resp = requests.get(f"{url}/v2/images/{record['id']}", timeout=30,
                        headers={"X-Auth-Token": cloud.admin_token})
    assert resp.json()["disk_format"] == "qcow2"
    backend.delete(record["id"])
