"""Snapshots and backups below the API: the conductor hands them to the
instance's compute host, the fake driver's disk is captured into the queued
image (queued -> saving -> active) through the image backend, a server
boots from the snapshot, backups rotate, and a failed capture leaves no
image and the server as it was."""
from __future__ import annotations

import time

import pytest
import requests

from compute_core import context as ctx_mod
from compute_core.cloud import Cloud
from compute_core.compute import states
from compute_core.db import cell_db
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


def _snapshot(cloud, server_id, name, backup_type=None, rotation=None):
    """What the API's createImage / createBackup do before the cast: the
    queued image, and the server's task_state."""
    props = {"image_type": "backup" if backup_type else "snapshot",
             "instance_uuid": server_id}
    if backup_type:
        props["backup_type"] = backup_type
    image = cloud._api.images.create_record(name, properties=props, owner="demo")
    assert image["status"] == "queued"
    _, db = cloud._api.cells.for_instance(server_id)
    cell_db.update_instance(db, server_id, {
        "task_state": states.IMAGE_BACKUP if backup_type else states.IMAGE_SNAPSHOT},
        expected_task_state=None)
    ctxt = ctx_mod.RequestContext(user_id="demo", project_id="demo")
    cloud._api.conductor_api.snapshot_instance(ctxt, server_id, image["id"], backup_type,
                                               rotation)
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
