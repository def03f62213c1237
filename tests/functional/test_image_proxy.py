"""The Compute API's image proxy (below 2.36; metadata below 2.39) and the
createImage / createBackup actions, over HTTP: Nova's filters, status and
progress, delete, metadata, snapshots that boot, backups that rotate."""
from __future__ import annotations

import time

import pytest
import requests

from compute_core.cloud import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server

TOKEN = "demo:demo"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with Cloud(state_dir=str(tmp_path_factory.mktemp("proxy"))) as c:
        yield c


def _api(cloud, method, path, body=None, version=None, token=TOKEN):
    return api_request(cloud, method, path, token=token, body=body, version=version)


def _glance(cloud, method, path, **kw):
    headers = {"X-Auth-Token": TOKEN, **kw.pop("headers", {})}
    return requests.request(method, cloud.image_url + path, headers=headers, timeout=30, **kw)


def _upload(cloud, name, data=b"\0" * 512, **props):
    image = _glance(cloud, "POST", "/v2/images", json={
        "name": name, "disk_format": "raw", "container_format": "bare", **props}).json()
    if data is not None:
        _glance(cloud, "PUT", f"/v2/images/{image['id']}/file", data=data,
                headers={"Content-Type": "application/octet-stream"})
    return image["id"]


def _boot(cloud, image_id, name):
    resp = _api(cloud, "POST", "/servers", {"server": {
        "name": name, "imageRef": image_id, "flavorRef": "1", "networks": "none"}},
        version="2.37")
    assert resp.status_code == 202, resp.text
    server = wait_for_server(cloud, resp.json()["server"]["id"], token=TOKEN)
    assert server["status"] == "ACTIVE"
    return server


def _wait_active(cloud, image_id):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        image = _api(cloud, "GET", f"/images/{image_id}").json()["image"]
        if image["status"] == "ACTIVE":
            return image
        time.sleep(0.05)
    raise AssertionError(f"image {image_id} not ACTIVE")


def test_status_and_progress(cloud):
    queued = _upload(cloud, "proxy-queued", data=None)
    image = _api(cloud, "GET", f"/images/{queued}").json()["image"]
    assert (image["status"], image["progress"]) == ("SAVING", 25)
    active = _upload(cloud, "proxy-active", min_ram=64)
    image = _api(cloud, "GET", f"/images/{active}").json()["image"]
    assert (image["status"], image["progress"]) == ("ACTIVE", 100)
    assert image["minRam"] == 64 and image["OS-EXT-IMG-SIZE:size"] == 512
    _glance(cloud, "POST", f"/v2/images/{active}/actions/deactivate")
    image = _api(cloud, "GET", f"/images/{active}").json()["image"]
    assert (image["status"], image["progress"]) == ("UNKNOWN", 0)


def test_filters(cloud):
    small = _upload(cloud, "proxy-small", min_disk=1)
    big = _upload(cloud, "proxy-big", min_disk=10, min_ram=2048)
    names = lambda q: [i["name"] for i in _api(cloud, "GET", "/images/detail?" + q).json()[  # noqa: E731
        "images"]]
    assert names("name=proxy-big") == ["proxy-big"]
    assert "proxy-small" not in names("minDisk=5") and "proxy-big" in names("minDisk=5")
    assert names("minRam=2048") == ["proxy-big"]
    assert "proxy-small" in names("status=ACTIVE")
    assert names("changes-since=2999-01-01T00:00:00Z") == []
    for bad in ("minDisk=x", "minRam=-1", "changes-since=yesterday", "limit=x",
                "marker=nope"):
        assert _api(cloud, "GET", "/images/detail?" + bad).status_code == 400, bad
    assert small and big


def test_private_images_of_others_are_hidden(cloud):
    hidden = _glance(cloud, "POST", "/v2/images", headers={"X-Auth-Token": "eve:eve"},
                     json={"name": "eves", "visibility": "private"}).json()["id"]
    assert _api(cloud, "GET", f"/images/{hidden}").status_code == 404
    assert hidden not in [i["id"] for i in _api(cloud, "GET", "/images").json()["images"]]
    assert _api(cloud, "GET", f"/images/{hidden}", token="admin:admin").status_code == 200


def test_delete(cloud):
    image_id = _upload(cloud, "proxy-delete")
    assert _api(cloud, "DELETE", f"/images/{image_id}").status_code == 204
    assert _api(cloud, "GET", f"/images/{image_id}").status_code == 404
    assert _api(cloud, "DELETE", f"/images/{image_id}").status_code == 404
    assert _api(cloud, "DELETE", f"/images/{image_id}", version="2.36").status_code == 404
    others = _glance(cloud, "POST", "/v2/images", headers={"X-Auth-Token": "eve:eve"},
                     json={"name": "eves-public", "visibility": "community"}).json()["id"]
    assert _api(cloud, "DELETE", f"/images/{others}").status_code == 403


def test_metadata(cloud):
    image_id = _upload(cloud, "proxy-meta", colour="red")
    path = f"/images/{image_id}/metadata"
    assert _api(cloud, "GET", path).json()["metadata"] == {"colour": "red"}
    resp = _api(cloud, "POST", path, {"metadata": {"size": "big"}})
    assert resp.json()["metadata"] == {"colour": "red", "size": "big"}
    resp = _api(cloud, "PUT", path, {"metadata": {"only": "this"}})
    assert resp.json()["metadata"] == {"only": "this"}
    assert _api(cloud, "GET", f"{path}/only").json() == {"meta": {"only": "this"}}
    assert _api(cloud, "PUT", f"{path}/k", {"meta": {"k": "v"}}).json() == {"meta": {"k": "v"}}
    assert _api(cloud, "PUT", f"{path}/k", {"meta": {"other": "v"}}).status_code == 400
    assert _api(cloud, "DELETE", f"{path}/k").status_code == 204
    assert _api(cloud, "DELETE", f"{path}/k").status_code == 404
    assert _api(cloud, "GET", f"{path}/k").status_code == 404
    assert _glance(cloud, "GET", f"/v2/images/{image_id}").json()["only"] == "this"
    for bad in ({"metadata": []}, {"metadata": {"k": 5}}, {"meta": {"a": "b"}}, {}):
        assert _api(cloud, "POST", path, bad).status_code == 400, bad
    assert _api(cloud, "GET", path, version="2.39").status_code == 404


def test_create_image_round_trip(cloud):
    server = _boot(cloud, first_image_id(cloud, TOKEN), "proxy-snap")
    resp = _api(cloud, "POST", f"/servers/{server['id']}/action",
                {"createImage": {"name": "snap", "metadata": {"why": "test"}}})
    assert resp.status_code == 202, resp.text
    image_id = resp.headers["Location"].rsplit("/", 1)[-1]
    image = _wait_active(cloud, image_id)
    assert image["metadata"]["why"] == "test" and image["server"]["id"] == server["id"]
    data = _glance(cloud, "GET", f"/v2/images/{image_id}/file").content
    assert data == cloud.driver("host1").disk(server["id"])
    # 2.45: the id in the body
    wait_for_server(cloud, server["id"], token=TOKEN)
    deadline = time.monotonic() + 30
    while _api(cloud, "GET", f"/servers/{server['id']}").json()["server"][
            "OS-EXT-STS:task_state"] is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    resp = _api(cloud, "POST", f"/servers/{server['id']}/action",
                {"createImage": {"name": "snap-2"}}, version="2.45")
    assert resp.status_code == 202 and "Location" not in resp.headers
    second = resp.json()["image_id"]
    _wait_active(cloud, second)
    # boots
    booted = _boot(cloud, second, "from-proxy-snap")
    assert booted["image"]["id"] == second


@pytest.mark.parametrize("body", [
    {"createImage": {}}, {"createImage": {"name": ""}}, {"createImage": {"name": " "}},
    {"createImage": {"name": "x" * 256}}, {"createImage": {"name": "x", "metadata": []}},
    {"createImage": {"name": "x", "extra": 1}},
    {"createBackup": {"name": "b", "backup_type": "daily"}},
    {"createBackup": {"name": "b", "backup_type": "daily", "rotation": -1}},
    {"createBackup": {"name": "b", "backup_type": "daily", "rotation": "x"}},
])
def test_bad_image_actions(cloud, body):
    server_id = _api(cloud, "GET", "/servers").json()["servers"][0]["id"]
    resp = _api(cloud, "POST", f"/servers/{server_id}/action", body)
    assert resp.status_code == 400, resp.text


def test_create_backup_rotates(cloud):
    server = _boot(cloud, first_image_id(cloud, TOKEN), "proxy-backup")
    made = []
    for n in range(3):
        deadline = time.monotonic() + 30
        while True:
            resp = _api(cloud, "POST", f"/servers/{server['id']}/action", {
                "createBackup": {"name": f"b{n}", "backup_type": "daily", "rotation": 2}},
                version="2.45")
            if resp.status_code == 202:
                break
            assert resp.status_code == 409 and time.monotonic() < deadline, resp.text
            time.sleep(0.05)
        made.append(resp.json()["image_id"])
        _wait_active(cloud, made[-1])
    deadline = time.monotonic() + 30
    while _api(cloud, "GET", f"/images/{made[0]}").status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    listed = _api(cloud, "GET", f"/images/detail?server={server['id']}&type=backup").json()
    assert sorted(i["id"] for i in listed["images"]) == sorted(made[1:])


def test_create_image_of_someone_elses_server(cloud):
    server = _boot(cloud, first_image_id(cloud, TOKEN), "not-yours")
    resp = _api(cloud, "POST", f"/servers/{server['id']}/action",
                {"createImage": {"name": "stolen"}}, token="eve:eve")
    assert resp.status_code == 404
