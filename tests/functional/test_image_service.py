"""The image service (Glance v2 API) through HTTP: every route, and the bad
input of issue 20 (wrong formats, too large, over quota, truncated upload,
checksum mismatch, non-UUID ids, deleting an image a server uses)."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import time
import urllib.parse

import pytest
import requests
import webob

from compute_core.cloud import Cloud
from compute_core.testing import api_request, wait_for_server

CAP = 64 * 1024
QUOTA = 100 * 1024
PATCH = "application/openstack-images-v2.1-json-patch"
OCTET = "application/octet-stream"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with Cloud(state_dir=str(tmp_path_factory.mktemp("images")),
               overrides={"image.image_size_cap": CAP, "image.user_storage_quota": QUOTA,
                          "image.limit_param_default": 3}) as c:
        yield c


class Client:
    def __init__(self, cloud, token):
        self.url = cloud.image_url
        self.token = token

    def __call__(self, method, path, body=None, headers=None, data=None, **kw):
        headers = {"X-Auth-Token": self.token, "Accept": "application/json",
                   **(headers or {})}
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
            data = json.dumps(body)
        return requests.request(method, self.url + path, headers=headers, data=data,
                                timeout=30, **kw)

    def create(self, **doc):
        doc.setdefault("disk_format", "raw")
        doc.setdefault("container_format", "bare")
        resp = self("POST", "/v2/images", doc)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def upload(self, image_id, data, **headers):
        return self("PUT", f"/v2/images/{image_id}/file", data=data,
                    headers={"Content-Type": OCTET, **headers})

    def patch(self, image_id, ops, content_type=PATCH):
        return self("PATCH", f"/v2/images/{image_id}", data=json.dumps(ops),
                    headers={"Content-Type": content_type})

    def show(self, image_id):
        resp = self("GET", f"/v2/images/{image_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()


@pytest.fixture(scope="module")
def demo(cloud):
    return Client(cloud, "demo:demo")


@pytest.fixture(scope="module")
def other(cloud):
    return Client(cloud, "alice:other")


@pytest.fixture(scope="module")
def admin(cloud):
    return Client(cloud, "admin:admin")


def _message(resp):
    return resp.json()["message"]


def _store_files(cloud):
    root = cloud.conf.image.images_path
    return sorted(os.listdir(root)) if os.path.isdir(root) else []


# ------------------------------------------------------------ discovery
def test_versions_need_no_token(cloud):
    resp = requests.get(cloud.image_url + "/")
    assert resp.status_code == 300
    versions = resp.json()["versions"]
    assert versions[0]["status"] == "CURRENT" and versions[0]["id"].startswith("v2.")
    assert versions[0]["links"][0]["href"] == cloud.image_url + "/v2/"
    assert requests.get(cloud.image_url + "/versions").status_code == 200


def test_a_token_is_required(cloud):
    resp = requests.get(cloud.image_url + "/v2/images", headers={"Accept": "application/json"})
    assert resp.status_code == 401
    assert resp.json()["title"] == "Unauthorized"


def test_schemas(demo):
    image = demo("GET", "/v2/schemas/image").json()
    assert image["name"] == "image"
    assert "raw" in image["properties"]["disk_format"]["enum"]
    assert image["additionalProperties"] == {"type": "string"}
    assert demo("GET", "/v2/schemas/images").json()["properties"]["images"]["items"][
        "name"] == "image"
    assert demo("GET", "/v2/schemas/member").json()["properties"]["status"]["enum"] == [
        "pending", "accepted", "rejected"]
    assert demo("GET", "/v2/schemas/members").json()["name"] == "members"


def test_unknown_path_and_method(demo):
    assert demo("GET", "/v2/nothing").status_code == 404
    resp = demo("POST", "/v2/schemas/image")
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET"


# ------------------------------------------------------- the round trip
def test_create_upload_download_delete(cloud, demo):
    image = demo.create(name="round-trip", min_disk=1, min_ram=64, tags=["a", "b"],
                        hw_architecture="x86_64")
    assert image["status"] == "queued"
    assert image["visibility"] == "shared" and image["owner"] == "demo"
    assert image["tags"] == ["a", "b"] and image["hw_architecture"] == "x86_64"
    assert image["size"] is None and image["checksum"] is None
    assert image["self"] == f"/v2/images/{image['id']}"
    # no data yet: 204
    assert demo("GET", f"/v2/images/{image['id']}/file").status_code == 204
    data = os.urandom(CAP - 1)
    resp = demo.upload(image["id"], data)
    assert resp.status_code == 204, resp.text
    shown = demo.show(image["id"])
    assert shown["status"] == "active" and shown["size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    resp = demo("GET", f"/v2/images/{image['id']}/file")
    assert resp.status_code == 200 and resp.content == data
    assert resp.headers["Content-MD5"] == shown["checksum"]
    assert resp.headers["Content-Type"] == OCTET
    # ranges
    resp = demo("GET", f"/v2/images/{image['id']}/file", headers={"Range": "bytes=10-19"})
    assert resp.status_code == 206 and resp.content == data[10:20]
    assert resp.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    resp = demo("GET", f"/v2/images/{image['id']}/file",
                headers={"Range": f"bytes={len(data) + 5}-"})
    assert resp.status_code == 416
    # a second upload is refused
    resp = demo.upload(image["id"], b"again")
    assert resp.status_code == 409 and "active" in _message(resp)
    # the local backend (what the compute services use) sees the same image
    backend_image = cloud._api.images.get(image["id"])
    assert backend_image["status"] == "active"
    with open(cloud._api.images.path(image["id"]), "rb") as f:
        assert f.read() == data
    assert demo("DELETE", f"/v2/images/{image['id']}").status_code == 204
    assert demo("GET", f"/v2/images/{image['id']}").status_code == 404
    assert demo("DELETE", f"/v2/images/{image['id']}").status_code == 404
    assert image["id"] not in _store_files(cloud)


def test_create_with_id_and_duplicate(demo):
    wanted = "3c9ad4a1-8f1d-4c61-9a46-3f4bd5f2b6a0"
    assert demo.create(id=wanted, name="with-id")["id"] == wanted
    resp = demo("POST", "/v2/images", {"id": wanted, "name": "again"})
    assert resp.status_code == 409
    resp = demo("POST", "/v2/images", {"id": "not-a-uuid"})
    assert resp.status_code == 400 and "id" in _message(resp)


@pytest.mark.parametrize("doc, field", [
    ({"disk_format": "floppy"}, "disk_format"),
    ({"container_format": "zip"}, "container_format"),
    ({"min_disk": -1}, "min_disk"),
    ({"min_ram": "lots"}, "min_ram"),
    ({"name": "x" * 256}, "name"),
    ({"protected": "yes"}, "protected"),
    ({"visibility": "everyone"}, "visibility"),
    ({"tags": ["t" * 256]}, "tags"),
    ({"custom": 5}, "custom"),
])
def test_create_bad_values(demo, doc, field):
    resp = demo("POST", "/v2/images", doc)
    assert resp.status_code == 400, resp.text
    assert field in _message(resp)


@pytest.mark.parametrize("field, status", [("status", 403), ("size", 403),
                                           ("checksum", 403), ("location", 403),
                                           ("os_hash_value", 403)])
def test_create_read_only_attributes(demo, field, status):
    resp = demo("POST", "/v2/images", {field: "x"})
    assert resp.status_code == status and field in _message(resp)


def test_create_bad_bodies(demo):
    for data in ("not json", "[1, 2]", ""):
        resp = demo("POST", "/v2/images", data=data,
                    headers={"Content-Type": "application/json"})
        assert resp.status_code == 400, data


def test_non_uuid_and_unknown_ids(demo):
    for path in ("/v2/images/not-a-uuid", "/v2/images/not-a-uuid/file",
                 "/v2/images/00000000-0000-0000-0000-00000000abcd"):
        resp = demo("GET", path)
        assert resp.status_code == 404 and resp.json()["title"] == "Not Found"
    assert demo.upload("not-a-uuid", b"x").status_code == 404
    assert demo.patch("not-a-uuid", []).status_code == 404
    assert demo("DELETE", "/v2/images/not-a-uuid").status_code == 404


# --------------------------------------------------------------- uploads
def test_upload_needs_formats_and_octet_stream(demo):
    bare = demo("POST", "/v2/images", {"name": "no-formats"}).json()
    resp = demo.upload(bare["id"], b"data")
    assert resp.status_code == 400 and "disk_format" in _message(resp)
    image = demo.create(name="wrong-type")
    resp = demo("PUT", f"/v2/images/{image['id']}/file", data=b"x",
                headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415
    assert demo.show(image["id"])["status"] == "queued"


def test_upload_over_the_size_cap(cloud, demo):
    image = demo.create(name="too-large")
    # the HTTP server refuses the body by its announced length
    resp = demo.upload(image["id"], b"x" * (CAP + 1))
    assert resp.status_code == 413
    # chunked: the app stops reading past the cap
    resp = demo.upload(image["id"], iter([b"x" * 4096] * (CAP // 4096 + 1)))
    assert resp.status_code == 413, resp.text
    assert "size limit" in _message(resp)
    assert demo.show(image["id"])["status"] == "queued"
    assert [f for f in _store_files(cloud) if f.startswith(image["id"])] == []
    # and the image still takes data of an acceptable size
    assert demo.upload(image["id"], b"y" * CAP).status_code == 204


def test_upload_over_the_storage_quota(cloud):
    quota = Client(cloud, "q:quota-project")
    first = quota.create(name="first")
    assert quota.upload(first["id"], b"a" * CAP).status_code == 204
    second = quota.create(name="second")
    resp = quota.upload(second["id"], b"b" * (QUOTA - CAP + 1))
    assert resp.status_code == 413 and "quota" in _message(resp)
    assert quota.show(second["id"])["status"] == "queued"
    assert [f for f in _store_files(cloud) if f.startswith(second["id"])] == []
    # freeing space lets it in
    assert quota("DELETE", f"/v2/images/{first['id']}").status_code == 204
    assert quota.upload(second["id"], b"b" * (QUOTA - CAP + 1)).status_code == 204


def test_checksum_mismatch(cloud, demo):
    image = demo.create(name="bad-md5")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    resp = demo.upload(image["id"], b"payload", **{"Content-MD5": wrong})
    assert resp.status_code == 400 and "Checksum" in _message(resp)
    assert demo.show(image["id"])["status"] == "queued"
    assert [f for f in _store_files(cloud) if f.startswith(image["id"])] == []
    resp = demo.upload(image["id"], b"payload", **{"Content-MD5": "garbage"})
    assert resp.status_code == 400 and "Content-MD5" in _message(resp)
    right = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    assert demo.upload(image["id"], b"payload", **{"Content-MD5": right}).status_code == 204


def test_truncated_upload_reaching_the_app_kills_the_image(cloud, demo):
    """A body shorter than announced (a client gone under mod_wsgi): the
    app sees it end early; the image is killed and no data is left."""
    image = demo.create(name="truncated")
    services = cloud._api  # only for its conf; the image app gets its own below
    from compute_core import assembly

    image_services = assembly.image_services(services.conf)
    try:
        app = assembly.load_wsgi_app(services.conf, "image", image_services)
        req = webob.Request.blank(f"/v2/images/{image['id']}/file", method="PUT",
                                  headers={"X-Auth-Token": "demo:demo",
                                           "Content-Type": OCTET,
                                           "Accept": "application/json"})
        req.environ["wsgi.input"] = io.BytesIO(b"z" * 1000)
        req.environ["CONTENT_LENGTH"] = "5000"
        resp = req.get_response(app)
    finally:
        image_services.api_db.dispose()
    assert resp.status_code == 400 and "truncated" in resp.json["message"]
    assert demo.show(image["id"])["status"] == "killed"
    assert [f for f in _store_files(cloud) if f.startswith(image["id"])] == []
    assert demo.upload(image["id"], b"late").status_code == 409


def _wait_status(client, image_id, status, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        got = client.show(image_id)["status"]
        if got == status or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_truncated_upload_over_http_kills_the_image(cloud, demo, chunked):
    """A client that disconnects in the middle of its body: the server still
    hands the request to the app with what came, so the image ends killed,
    with no data left, whether the body was announced or chunked."""
    image = demo.create(name="cut-off")
    url = urllib.parse.urlsplit(cloud.image_url)
    framing = ("Transfer-Encoding: chunked\r\n\r\n" if chunked
               else "Content-Length: 10000\r\n\r\n")
    body = b"64\r\n" + b"q" * 100 + b"\r\n" if chunked else b"q" * 100
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall((f"PUT /v2/images/{image['id']}/file HTTP/1.1\r\nHost: x\r\n"
                      "X-Auth-Token: demo:demo\r\nContent-Type: application/octet-stream\r\n"
                      + framing).encode() + body)
        time.sleep(0.2)
    assert _wait_status(demo, image["id"], "killed") == "killed"
    assert [f for f in _store_files(cloud) if f.startswith(image["id"])] == []
    assert demo.upload(image["id"], b"late").status_code == 409


# ------------------------------------------------------------------ list
def test_list_filters_sorting_and_pages(cloud):
    lister = Client(cloud, "lister:list-project")
    made = []
    for n, (name, size) in enumerate([("l-a", 10), ("l-b", 20), ("l-c", 30), ("l-d", 40)]):
        image = lister.create(name=name, tags=["even"] if n % 2 else ["odd"],
                              flavour=str(n), disk_format="qcow2" if n == 3 else "raw")
        lister.upload(image["id"], b"x" * size)
        made.append(image["id"])
    mine = {"owner": "list-project"}

    def names(**params):
        resp = lister("GET", "/v2/images?" + urllib.parse.urlencode({**mine, **params},
                                                                    doseq=True))
        assert resp.status_code == 200, resp.text
        return [i["name"] for i in resp.json()["images"]]

    assert names(sort="name:asc", limit=10) == ["l-a", "l-b", "l-c", "l-d"]
    assert names(sort_key="size", sort_dir="desc", limit=10) == ["l-d", "l-c", "l-b", "l-a"]
    assert names(name="l-b") == ["l-b"]
    assert sorted(names(name="in:l-a,l-c")) == ["l-a", "l-c"]
    assert sorted(names(tag="even")) == ["l-b", "l-d"]
    assert names(flavour="2") == ["l-c"]
    assert names(disk_format="qcow2") == ["l-d"]
    assert sorted(names(size_min=20, size_max=30)) == ["l-b", "l-c"]
    assert names(status="queued") == []
    # pages: the default limit is 3 here, "next" carries the marker
    resp = lister("GET", "/v2/images?owner=list-project&sort=name:asc")
    page = resp.json()
    assert [i["name"] for i in page["images"]] == ["l-a", "l-b", "l-c"]
    assert page["first"] == "/v2/images" and page["schema"] == "/v2/schemas/images"
    nxt = lister("GET", page["next"][len(""):]).json()
    assert [i["name"] for i in nxt["images"]] == ["l-d"] and "next" not in nxt
    # created_at filter with an operator
    assert len(names(created_at="gte:2000-01-01T00:00:00Z", limit=10)) == 4
    assert names(created_at="lt:2000-01-01T00:00:00Z") == []


@pytest.mark.parametrize("query, field", [
    ("limit=-1", "limit"), ("limit=abc", "limit"), ("sort_key=colour", "colour"),
    ("sort_dir=up", "up"), ("sort=name:sideways", "sideways"),
    ("marker=00000000-0000-0000-0000-00000000dead", "marker"),
    ("marker=not-a-uuid", "marker"), ("visibility=everyone", "visibility"),
    ("member_status=maybe", "member_status"), ("size_min=big", "size_min"),
    ("protected=perhaps", "protected"), ("created_at=gt:yesterday", "created_at"),
    ("sort=name&sort_key=size", "sort"),
    # times whose UTC falls past year 9999 or before year 1
    ("created_at=lt:9999-12-31T23:59:59-01:00", "created_at"),
    ("updated_at=gte:0001-01-01T00:00:00%2B01:00", "updated_at"),
])
def test_list_bad_parameters(demo, query, field):
    resp = demo("GET", "/v2/images?" + query)
    assert resp.status_code == 400, resp.text
    assert field in _message(resp)


# ----------------------------------------------------------------- PATCH
def test_patch(demo):
    image = demo.create(name="patched", flavour="plain")
    resp = demo.patch(image["id"], [{"op": "replace", "path": "/name", "value": "renamed"},
                                    {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
                                    {"op": "remove", "path": "/flavour"},
                                    {"op": "add", "path": "/tags", "value": ["x", "y"]},
                                    {"op": "replace", "path": "/min_ram", "value": 128}])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["name"] == "renamed" and body["hw_disk_bus"] == "virtio"
    assert "flavour" not in body and body["tags"] == ["x", "y"] and body["min_ram"] == 128
    assert demo.show(image["id"])["hw_disk_bus"] == "virtio"
    # formats change while queued only
    assert demo.patch(image["id"], [{"op": "replace", "path": "/disk_format",
                                     "value": "qcow2"}]).status_code == 200
    demo.upload(image["id"], b"data")
    resp = demo.patch(image["id"], [{"op": "replace", "path": "/disk_format",
                                     "value": "raw"}])
    assert resp.status_code == 403


@pytest.mark.parametrize("ops, status, field", [
    ([{"op": "replace", "path": "/status", "value": "active"}], 403, "status"),
    ([{"op": "replace", "path": "/id", "value": "x"}], 403, "id"),
    ([{"op": "replace", "path": "/disk_format", "value": "floppy"}], 400, "disk_format"),
    ([{"op": "remove", "path": "/nothing-here"}], 409, "nothing-here"),
    ([{"op": "replace", "path": "/nothing-here", "value": "x"}], 409, "nothing-here"),
    ([{"op": "remove", "path": "/name"}], 403, "name"),
    ([{"op": "move", "path": "/name"}], 400, "op"),
    ([{"op": "add", "path": "name", "value": "x"}], 400, "pointer"),
    ([{"op": "add", "path": "/a/b", "value": "x"}], 400, "pointer"),
    ([{"op": "add", "path": "/name"}], 400, "value"),
    ([{"op": "add", "path": "/custom", "value": 3}], 400, "custom"),
    (["not an object"], 400, "Operation 0"),
    ({"op": "add"}, 400, "array"),
])
def test_patch_bad_operations(demo, ops, status, field):
    image = demo.create(name="bad-patch")
    resp = demo.patch(image["id"], ops)
    assert resp.status_code == status, resp.text
    assert field in _message(resp)


def test_patch_needs_its_media_type(demo):
    image = demo.create(name="json-patch")
    resp = demo.patch(image["id"], [], content_type="application/json")
    assert resp.status_code == 415 and "json-patch" in _message(resp)
    v20 = "application/openstack-images-v2.0-json-patch"
    assert demo.patch(image["id"], [], content_type=v20).status_code == 200


# ----------------------------------------------------------- visibility
def test_visibility_rules(demo, other, admin):
    private = demo.create(name="private", visibility="private")
    community = demo.create(name="community", visibility="community")
    assert other("GET", f"/v2/images/{private['id']}").status_code == 404
    assert other("GET", f"/v2/images/{community['id']}").status_code == 200
    listed = [i["id"] for i in other("GET", "/v2/images?limit=1000").json()["images"]]
    assert private["id"] not in listed and community["id"] not in listed
    listed = [i["id"] for i in other(
        "GET", "/v2/images?visibility=community&limit=1000").json()["images"]]
    assert community["id"] in listed
    # other projects cannot change it
    resp = other.patch(community["id"], [{"op": "replace", "path": "/name", "value": "x"}])
    assert resp.status_code == 403
    assert other("DELETE", f"/v2/images/{community['id']}").status_code == 403
    # only admins publish
    resp = demo("POST", "/v2/images", {"name": "pub", "visibility": "public"})
    assert resp.status_code == 403 and "publicize_image" in _message(resp)
    resp = demo.patch(private["id"], [{"op": "replace", "path": "/visibility",
                                       "value": "public"}])
    assert resp.status_code == 403
    assert admin.patch(private["id"], [{"op": "replace", "path": "/visibility",
                                        "value": "public"}]).status_code == 200
    assert other("GET", f"/v2/images/{private['id']}").status_code == 200
    # admins see everything
    assert admin("GET", f"/v2/images/{community['id']}").status_code == 200


def test_hidden_images(demo):
    image = demo.create(name="hidden", os_hidden=True)
    listed = [i["id"] for i in demo("GET", "/v2/images?limit=1000").json()["images"]]
    assert image["id"] not in listed
    listed = [i["id"] for i in demo("GET", "/v2/images?os_hidden=true&limit=1000").json()[
        "images"]]
    assert image["id"] in listed


def test_protected_image_cannot_be_deleted(demo):
    image = demo.create(name="keep", protected=True)
    resp = demo("DELETE", f"/v2/images/{image['id']}")
    assert resp.status_code == 403 and "protected" in _message(resp)
    demo.patch(image["id"], [{"op": "replace", "path": "/protected", "value": False}])
    assert demo("DELETE", f"/v2/images/{image['id']}").status_code == 204


# --------------------------------------------------------------- members
def test_members(demo, other):
    private = demo.create(name="not-shared", visibility="private")
    resp = demo("POST", f"/v2/images/{private['id']}/members", {"member": "other"})
    assert resp.status_code == 403 and "shared" in _message(resp)
    image = demo.create(name="shared-one")
    demo.upload(image["id"], b"shared data")
    path = f"/v2/images/{image['id']}/members"
    resp = demo("POST", path, {"member": "other"})
    assert resp.status_code == 200, resp.text
    member = resp.json()
    assert member["status"] == "pending" and member["member_id"] == "other"
    assert member["schema"] == "/v2/schemas/member"
    assert demo("POST", path, {"member": "other"}).status_code == 409
    assert demo("POST", path, {"member": ""}).status_code == 400
    assert demo("POST", path, {}).status_code == 400
    # pending: the member sees it, but not in its default list
    assert other("GET", f"/v2/images/{image['id']}").status_code == 200
    listed = [i["id"] for i in other("GET", "/v2/images?limit=1000").json()["images"]]
    assert image["id"] not in listed
    listed = [i["id"] for i in other(
        "GET", "/v2/images?limit=1000&member_status=pending").json()["images"]]
    assert image["id"] in listed
    # only the member answers
    assert demo("PUT", f"{path}/other", {"status": "accepted"}).status_code == 403
    assert other("PUT", f"{path}/other", {"status": "maybe"}).status_code == 400
    resp = other("PUT", f"{path}/other", {"status": "accepted"})
    assert resp.status_code == 200 and resp.json()["status"] == "accepted"
    listed = [i["id"] for i in other("GET", "/v2/images?limit=1000").json()["images"]]
    assert image["id"] in listed
    assert other("GET", f"/v2/images/{image['id']}/file").content == b"shared data"
    assert [m["member_id"] for m in demo("GET", path).json()["members"]] == ["other"]
    assert other("GET", f"{path}/other").json()["status"] == "accepted"
    assert demo("GET", f"{path}/nobody").status_code == 404
    # a member does not share further
    assert other("POST", path, {"member": "third"}).status_code == 403
    assert demo("DELETE", f"{path}/other").status_code == 204
    assert demo("DELETE", f"{path}/other").status_code == 404
    assert other("GET", f"/v2/images/{image['id']}").status_code == 404


# ------------------------------------------------------------------ tags
def test_tags(demo, other):
    image = demo.create(name="tagged")
    path = f"/v2/images/{image['id']}/tags"
    assert demo("PUT", f"{path}/blue").status_code == 204
    assert demo("PUT", f"{path}/blue").status_code == 204
    assert demo.show(image["id"])["tags"] == ["blue"]
    assert demo("DELETE", f"{path}/blue").status_code == 204
    assert demo("DELETE", f"{path}/blue").status_code == 404
    assert demo("PUT", f"{path}/{'t' * 256}").status_code == 400
    assert other("PUT", f"{path}/red").status_code == 404  # shared, not a member


# --------------------------------------------------------------- actions
def test_deactivate_and_reactivate(demo, admin):
    image = demo.create(name="deactivated")
    actions = f"/v2/images/{image['id']}/actions"
    resp = demo("POST", f"{actions}/deactivate")
    assert resp.status_code == 403 and "queued" in _message(resp)
    demo.upload(image["id"], b"bits")
    assert demo("POST", f"{actions}/deactivate").status_code == 204
    assert demo.show(image["id"])["status"] == "deactivated"
    assert demo("GET", f"/v2/images/{image['id']}/file").status_code == 403
    assert admin("GET", f"/v2/images/{image['id']}/file").content == b"bits"
    assert demo("POST", f"{actions}/reactivate").status_code == 204
    assert demo.show(image["id"])["status"] == "active"
    assert demo("GET", f"/v2/images/{image['id']}/file").content == b"bits"
    assert demo("GET", f"{actions}/reactivate").status_code == 405


# ------------------------------------------------ images and the servers
def test_uploaded_image_boots_and_may_be_deleted_in_use(cloud, demo):
    image = demo.create(name="bootable", visibility="community", hw_architecture="x86_64")
    assert demo.upload(image["id"], b"\0" * 4096).status_code == 204
    resp = api_request(cloud, "POST", "/servers", token="demo:demo", body={"server": {
        "name": "from-upload", "imageRef": image["id"], "flavorRef": "1",
        "networks": "none"}}, version="2.37")
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    server = wait_for_server(cloud, server_id, token="demo:demo")
    assert server["status"] == "ACTIVE" and server["image"]["id"] == image["id"]
    # deleting the image of a running server is allowed, as in Glance
    assert demo("DELETE", f"/v2/images/{image['id']}").status_code == 204
    assert wait_for_server(cloud, server_id, token="demo:demo")["status"] == "ACTIVE"
    api_request(cloud, "DELETE", f"/servers/{server_id}", token="demo:demo")
    wait_for_server(cloud, server_id, statuses=("DELETED",), token="demo:demo")


def test_the_image_service_is_in_the_catalog(tmp_path):
    with Cloud(auth="keystone", state_dir=str(tmp_path)) as c:
        conn = c.connection()
        assert conn.session.get_endpoint(service_type="image",
                                         interface="public").rstrip("/") == c.image_url
        names = [i.name for i in conn.image.images()]
        assert "default-raw" in names
        token = c.member_token
        resp = requests.get(c.image_url + "/v2/images", headers={"X-Auth-Token": token})
        assert resp.status_code == 200
        resp = requests.get(c.image_url + "/v2/images", headers={"X-Auth-Token": "bogus"})
        assert resp.status_code == 401



@pytest.mark.parametrize("query, field", [
    ("size_max=99999999999999999999999999", "size_max"),
    ("limit=99999999999999999999999", "limit"),
    ("id=in:" + ",".join(["x"] * 1001), "id"),
])
def test_list_out_of_range_parameters(demo, query, field):
    resp = demo("GET", "/v2/images?" + query)
    assert resp.status_code == 400 and field in _message(resp)


def test_ids_in_upper_case_and_long_property_names(demo):
    image = demo.create(name="upper")
    assert demo.show(image["id"].upper())["id"] == image["id"]
    for name in ("x" * 256, ""):
        resp = demo("POST", "/v2/images", {name: "v"})
        assert resp.status_code == 400 and "Property names" in _message(resp)


def test_image_properties_reach_the_scheduler(cloud, demo):
    """Properties set through the image API are what ImagePropertiesFilter
    reads: an s390x image finds no x86_64 host."""
    image = demo.create(name="s390x", visibility="community", hw_architecture="s390x")
    assert demo.upload(image["id"], b"\0" * 512).status_code == 204
    resp = api_request(cloud, "POST", "/servers", token="demo:demo", body={"server": {
        "name": "wrong-arch", "imageRef": image["id"], "flavorRef": "1",
        "networks": "none"}}, version="2.37")
    assert resp.status_code == 202, resp.text
    server = wait_for_server(cloud, resp.json()["server"]["id"], token="demo:demo")
    assert server["status"] == "ERROR" and "No valid host" in server["fault"]["message"]
    demo.patch(image["id"], [{"op": "replace", "path": "/hw_architecture",
                              "value": "x86_64"}])
    resp = api_request(cloud, "POST", "/servers", token="demo:demo", body={"server": {
        "name": "right-arch", "imageRef": image["id"], "flavorRef": "1",
        "networks": "none"}}, version="2.37")
    assert wait_for_server(cloud, resp.json()["server"]["id"],
                           token="demo:demo")["status"] == "ACTIVE"


def test_local_backend_properties_and_members(cloud, demo):
    backend = cloud._api.images
    image = demo.create(name="backend-view", colour="red", size_class="s")
    changed = backend.set_properties(image["id"], {"colour": "blue"}, remove=["size_class"])
    assert changed["properties"] == {"colour": "blue"}
    assert demo.show(image["id"])["colour"] == "blue"
    assert backend.visible(changed, "demo") and not backend.visible(changed, "other")
    demo("POST", f"/v2/images/{image['id']}/members", {"member": "other"})
    assert backend.visible(changed, "other")
