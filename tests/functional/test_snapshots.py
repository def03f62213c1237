"""Snapshots and backups below the API: the conductor hands them to the
instance's compute host, the fake driver's disk is captured into the queued
image (queued -> saving -> active) through the image backend, a server
boots from the snapshot, backups rotate, and a failed capture leaves no
image and the server as it was."""
from __future__ import annotations

import os
import time

import pytest
import requests

from compute_core import context as ctx_mod
from compute_core.cloud import Cloud
from compute_core import exception
from compute_core.image import snapshots
from compute_core.testing import api_request, first_image_id, wait_for_server

TOKEN = "demo:demo"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with Cloud(state_dir=str(tmp_path_factory.mktemp("snapshots"))) as c:
        yield c


def _boot(cloud, image_id, name):
    resp = api_request(cloud, "POST", "/servers", token=TOKEN, version="2.37", body={
        "server": {"name": name, "imageRef": image_id, "flavorRef": "1",
                   "networks": "none"}})
    assert resp.status_code == 202, resp.text
    server = wait_for_server(cloud, resp.json()["server"]["id"], token=TOKEN)
    assert server["status"] == "ACTIVE", server
    return server


def _snapshot(cloud, server_id, name, backup_type=None, rotation=None, metadata=None):
    """What the API's createImage / createBackup call: the queued image,
    the server's task_state, the cast to the conductor."""
    ctxt = ctx_mod.RequestContext(user_id="demo", project_id="demo")
    image = snapshots.start(cloud._api, ctxt, server_id, name, metadata, backup_type, rotation)
    if image is None:
        return None
    assert image["status"] == "queued"
    return image["id"]


def _image(cloud, image_id):
    return requests.get(f"{cloud.image_url}/v2/images/{image_id}", timeout=30,
                        headers={"X-Auth-Token": TOKEN})


def _wait_image(cloud, image_id, gone=False, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = _image(cloud, image_id)
        if gone and resp.status_code == 404:
            return None
        if not gone and resp.json()["status"] == "active":
            return resp.json()
        time.sleep(0.05)
    raise AssertionError(f"image {image_id} not {'gone' if gone else 'active'}")


def _idle(cloud, server_id):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        server = api_request(cloud, "GET", f"/servers/{server_id}", token=TOKEN).json()["server"]
        if server["OS-EXT-STS:task_state"] is None:
            return server
        time.sleep(0.05)
    raise AssertionError("the server's task_state did not clear")


def test_snapshot_round_trip(cloud):
    server = _boot(cloud, first_image_id(cloud, TOKEN), "to-snapshot")
    driver = cloud.driver("host1")
    image_id = _snapshot(cloud, server["id"], "snap-1")
    image = _wait_image(cloud, image_id)
    assert _idle(cloud, server["id"])["status"] == "ACTIVE"
    disk = driver.disk(server["id"])
    assert image["size"] == len(disk) and image["image_type"] == "snapshot"
    data = requests.get(f"{cloud.image_url}/v2/images/{image_id}/file", timeout=30,
                        headers={"X-Auth-Token": TOKEN}).content
    assert data == disk
    # a server boots from the snapshot; its disk says so
    second = _boot(cloud, image_id, "from-snapshot")
    assert second["image"]["id"] == image_id
    assert f"image {image_id}\n".encode() in driver.disk(second["id"])


def test_backups_rotate(cloud):
    server = _boot(cloud, first_image_id(cloud, TOKEN), "backed-up")
    made = []
    for n in range(3):
        made.append(_snapshot(cloud, server["id"], f"daily-{n}", "daily", 2))
        _wait_image(cloud, made[-1])
        _idle(cloud, server["id"])
    _wait_image(cloud, made[0], gone=True)
    assert [_image(cloud, i).status_code for i in made] == [404, 200, 200]
    # another backup type is not rotated with these
    weekly = _snapshot(cloud, server["id"], "weekly-0", "weekly", 1)
    _wait_image(cloud, weekly)
    _idle(cloud, server["id"])
    assert [_image(cloud, i).status_code for i in made[1:]] == [200, 200]


def test_a_failed_capture_leaves_no_image(cloud):
    server = _boot(cloud, first_image_id(cloud, TOKEN), "snapshot-fails")
    cloud.inject_fault("host1", "snapshot", server["id"], count=1)
    image_id = _snapshot(cloud, server["id"], "doomed")
    _wait_image(cloud, image_id, gone=True)
    assert _idle(cloud, server["id"])["status"] == "ACTIVE"
    assert ("snapshot", server["id"]) in cloud.driver("host1").calls
    # and the next snapshot works
    image_id = _snapshot(cloud, server["id"], "second-try")
    assert _wait_image(cloud, image_id)["size"] == len(cloud.driver("host1").disk(server["id"]))


def test_snapshot_image_properties(cloud):
    base = first_image_id(cloud, TOKEN)
    server = _boot(cloud, base, "described")
    image_id = _snapshot(cloud, server["id"], "described-snap", metadata={"purpose": "test"})
    image = _wait_image(cloud, image_id)
    _idle(cloud, server["id"])
    assert image["name"] == "described-snap" and image["visibility"] == "private"
    assert image["owner"] == "demo" and image["min_disk"] == 1
    assert image["image_type"] == "snapshot" and image["instance_uuid"] == server["id"]
    assert image["base_image_ref"] == base and image["user_id"] == "demo"
    assert image["purpose"] == "test"
    assert image["hw_architecture"] == "x86_64"  # inherited from the base image
    assert image["disk_format"] == "raw" and image["container_format"] == "bare"


def test_no_snapshot_in_a_busy_or_broken_state(cloud):
    from compute_core.db import cell_db

    server = _boot(cloud, first_image_id(cloud, TOKEN), "busy")
    before = len(cloud._api.images.list())
    _, db = cloud._api.cells.for_instance(server["id"])
    for values in ({"task_state": "rebooting"}, {"vm_state": "error", "task_state": None}):
        cell_db.update_instance(db, server["id"], values)
        with pytest.raises(exception.InstanceInvalidState):
            _snapshot(cloud, server["id"], "refused")
    assert len(cloud._api.images.list()) == before


def test_backup_rotation_zero_only_deletes(cloud):
    server = _boot(cloud, first_image_id(cloud, TOKEN), "rotation-zero")
    first = _snapshot(cloud, server["id"], "weekly-a", "weekly", 5)
    _wait_image(cloud, first)
    _idle(cloud, server["id"])
    assert _snapshot(cloud, server["id"], "weekly-b", "weekly", 0) is None
    assert _image(cloud, first).status_code == 404


def test_a_snapshot_over_the_storage_quota_is_dropped(tmp_path):
    with Cloud(state_dir=str(tmp_path), overrides={"image.user_storage_quota": 1000}) as c:
        server = _boot(c, first_image_id(c, TOKEN), "over-quota")
        image_id = _snapshot(c, server["id"], "too-big")  # the fake disk is over 4 KiB
        _wait_image(c, image_id, gone=True)
        assert _idle(c, server["id"])["status"] == "ACTIVE"
        assert os.listdir(c.conf.image.images_path) == \
            [first_image_id(c, TOKEN)]  # only the default image's data


def test_system_metadata_and_a_snapshot_after_the_base_image_is_gone(cloud):
    from compute_core.db import cell_db

    headers = {"X-Auth-Token": TOKEN}
    base = requests.post(f"{cloud.image_url}/v2/images", headers=headers, timeout=30, json={
        "name": "short-lived", "disk_format": "qcow2", "container_format": "bare",
        "min_ram": 16, "os_distro": "cirros"}).json()["id"]
    requests.put(f"{cloud.image_url}/v2/images/{base}/file", data=b"q" * 100, timeout=30,
                 headers={**headers, "Content-Type": "application/octet-stream"})
    server = _boot(cloud, base, "orphan")
    _, db = cloud._api.cells.for_instance(server["id"])
    sysmeta = cell_db.get_instance(db, server["id"])["system_metadata"]
    assert sysmeta["image_os_distro"] == "cirros" and sysmeta["image_min_ram"] == "16"
    assert sysmeta["image_disk_format"] == "qcow2"
    assert sysmeta["image_base_image_ref"] == base
    assert requests.delete(f"{cloud.image_url}/v2/images/{base}", headers=headers,
                           timeout=30).status_code == 204
    image = _wait_image(cloud, _snapshot(cloud, server["id"], "orphan-snap"))
    assert image["os_distro"] == "cirros" and image["base_image_ref"] == base
    assert image["disk_format"] == "qcow2" and image["min_ram"] == 16  # kept by the server


def check_declared_format(images):
    """A driver's snapshot says what format it wrote (libvirt: qcow2 of a
    raw base image): the queued record takes it with the data; an upload
    that says nothing keeps the record's."""
    import io

    record = images.create_record("declared-format", disk_format="raw")
    image = images.upload(record["id"], io.BytesIO(b"QFI\xfb" + b"\0" * 60),
                          disk_format="qcow2")
    assert (image["status"], image["disk_format"]) == ("active", "qcow2")
    plain = images.create_record("undeclared-format", disk_format="raw")
    assert images.upload(plain["id"], io.BytesIO(b"\0" * 64))["disk_format"] == "raw"
    for gone in (record, plain):
        images.delete(gone["id"])


def test_an_upload_may_declare_the_datas_format(cloud):
    check_declared_format(cloud._api.images)
