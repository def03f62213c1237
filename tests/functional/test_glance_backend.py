"""The glance image backend against the embedded image service (a Glance v2
API), with tokens from the embedded identity and the endpoint from its
catalog: images uploaded over the Image API boot servers, the backend's
own uploads land there, drivers get a checked local copy."""
from __future__ import annotations

import hashlib
import io
import os
import time

import pytest
import requests

from compute_core import exception
from compute_core.cloud import Cloud
from compute_core.testing import api_request, wait_for_server


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with Cloud(auth="keystone", state_dir=str(tmp_path_factory.mktemp("glance")),
               overrides={"image_backend": "glance"}) as c:
        yield c


def _upload(cloud, name, data, token):
    headers = {"X-Auth-Token": token}
    resp = requests.post(cloud.image_url + "/v2/images", headers=headers, timeout=30,
                         json={"name": name, "disk_format": "raw", "container_format": "bare",
                               "hw_architecture": "x86_64"})
    assert resp.status_code == 201, resp.text
    image_id = resp.json()["id"]
    resp = requests.put(f"{cloud.image_url}/v2/images/{image_id}/file", data=data, timeout=30,
                        headers={**headers, "Content-Type": "application/octet-stream"})
    assert resp.status_code == 204, resp.text
    return image_id


def test_the_backend_is_glance(cloud):
    backend = cloud._api.images
    assert type(backend).__name__ == "GlanceImageBackend"
    # the bootstrap's default image went through the image API
    assert [i["name"] for i in backend.list()] == ["default-raw"]


def test_an_image_uploaded_to_the_image_api_boots(cloud):
    token = cloud.member_token
    image_id = _upload(cloud, "uploaded", b"\1" * 2048, token)
    image = cloud._api.images.get(image_id)
    assert image["status"] == "active" and image["size"] == 2048
    assert image["properties"] == {"hw_architecture": "x86_64"}
    resp = api_request(cloud, "POST", "/servers", token=token, version="2.37", body={
        "server": {"name": "glance-boot", "imageRef": image_id, "flavorRef": "1",
                   "networks": "none"}})
    assert resp.status_code == 202, resp.text
    server = wait_for_server(cloud, resp.json()["server"]["id"], token=token)
    assert server["status"] == "ACTIVE" and server["image"]["id"] == image_id
    resp = api_request(cloud, "GET", f"/images/{image_id}", token=token)
    assert resp.status_code == 200 and resp.json()["image"]["status"] == "ACTIVE"


def test_create_path_delete(cloud):
    backend = cloud._api.images
    data = os.urandom(3 * (1 << 20) + 7)  # more than one chunk each way
    image = backend.create("from-backend", io.BytesIO(data), disk_format="qcow2",
                           properties={"os_distro": "cirros", "hw_disk_bus": "virtio"},
                           min_ram=64)
    assert image["status"] == "active" and image["size"] == len(data)
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert image["min_ram"] == 64 and image["properties"]["os_distro"] == "cirros"
    # the image service has it
    resp = requests.get(f"{cloud.image_url}/v2/images/{image['id']}/file", timeout=30,
                        headers={"X-Auth-Token": cloud.admin_token})
    assert resp.content == data
    path = backend.path(image["id"])
    assert path.startswith(cloud.conf.glance.cache_path)
    with open(path, "rb") as f:
        assert f.read() == data
    assert backend.path(image["id"]) == path  # cached
    backend.delete(image["id"])
    assert not os.path.exists(path)
    with pytest.raises(exception.ImageNotFound):
        backend.get(image["id"])
    with pytest.raises(exception.ImageNotFound):
        backend.get("not-a-uuid")
    with pytest.raises(exception.ImageNotFound):
        backend.path(image["id"])


def test_an_unreachable_image_service(tmp_path):
    with Cloud(auth="noauth2", state_dir=str(tmp_path),
               overrides={"image_backend": "glance"}) as c:
        # point the backend at a port where nothing listens
        c.conf.set_override("endpoint", "http://127.0.0.1:9", group="glance")
        backend = c._api.images
        backend._adapter = None
        with pytest.raises(exception.ImageServiceUnavailable, match="127.0.0.1:9") as info:
            backend.list()
        assert info.value.code == 503
        resp = api_request(c, "GET", "/images")
        assert resp.status_code == 503  # the caller may retry, as from Nova
        assert "image service could not be reached" in \
            resp.json()["serviceUnavailable"]["message"]


def test_a_snapshot_lands_in_the_image_service(cloud):
    """The compute host captures the disk through the glance backend."""
    from compute_core import context as ctx_mod
    from compute_core.compute import states
    from compute_core.db import cell_db

    token = cloud.member_token
    image_id = _upload(cloud, "to-snapshot-from", b"\2" * 512, token)
    resp = api_request(cloud, "POST", "/servers", token=token, version="2.37", body={
        "server": {"name": "glance-snap", "imageRef": image_id, "flavorRef": "1",
                   "networks": "none"}})
    server = wait_for_server(cloud, resp.json()["server"]["id"], token=token)
    snapshot = cloud._api.images.create_record(
        "glance-snapshot", properties={"image_type": "snapshot",
                                       "instance_uuid": server["id"]})
    _, db = cloud._api.cells.for_instance(server["id"])
    cell_db.update_instance(db, server["id"], {"task_state": states.IMAGE_SNAPSHOT})
    cloud._api.conductor_api.snapshot_instance(ctx_mod.RequestContext(), server["id"],
                                               snapshot["id"])
    deadline = time.monotonic() + 30
    while cloud._api.images.get(snapshot["id"])["status"] != "active":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    resp = requests.get(f"{cloud.image_url}/v2/images/{snapshot['id']}/file", timeout=30,
                        headers={"X-Auth-Token": cloud.admin_token})
    assert resp.content == cloud.driver("host1").disk(server["id"])


def test_set_properties_and_visibility(cloud):
    backend = cloud._api.images
    image = backend.create("props", io.BytesIO(b"p"), disk_format="raw",
                           properties={"keep": "1", "drop": "2"}, visibility="private",
                           owner="someone")
    changed = backend.set_properties(image["id"], {"a/b": "x", "keep": "3"}, remove=["drop"])
    assert changed["properties"] == {"keep": "3", "a/b": "x"}
    assert backend.visible(changed, "someone") and not backend.visible(changed, "other")
    assert backend.visible(changed, "other", is_admin=True)
    backend.delete(image["id"])


def test_an_upload_may_declare_the_datas_format(cloud):
    from tests.functional.test_snapshots import check_declared_format

    check_declared_format(cloud._api.images)
