"""/os-migrations and /servers/{id}/migrations through the HTTP API, at
each shape (2.1, 2.23, 2.59, 2.80) against tempest's schemas."""
import pytest

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas


@pytest.fixture(scope="module")
def moved():
    with Cloud(hosts=2, overrides={"quota.instances": -1}) as cloud:
        resp = api_request(cloud, "POST", "/servers", token="mover:moving", body={"server": {
            "name": "mover", "imageRef": first_image_id(cloud), "flavorRef": "1"}})
        sid = resp.json()["server"]["id"]
        wait_for_server(cloud, sid)
        api_request(cloud, "POST", f"/servers/{sid}/action", body={"resize": {"flavorRef": "2"}})
        wait_for_server(cloud, sid, ("VERIFY_RESIZE",))
        api_request(cloud, "POST", f"/servers/{sid}/action", body={"confirmResize": None})
        wait_for_server(cloud, sid, ("ACTIVE",))
        yield cloud, sid


def call(cloud, method, path, **kw):
    return api_request(cloud, method, path, **kw)


@pytest.mark.parametrize("version", ["2.1", "2.23", "2.59", "2.80"])
def test_list_at_each_shape(moved, version):
    cloud, sid = moved
    body = tempest_schemas.check(call(cloud, "GET", "/os-migrations", version=version),
                                 "migrations", "list_migrations", version)
    (move,) = [m for m in body["migrations"] if m["instance_uuid"] == sid]
    assert move["status"] == "confirmed" and move["old_instance_type_id"] != \
        move["new_instance_type_id"]
    assert ("migration_type" in move) == (version != "2.1")
    assert ("uuid" in move) == (version in ("2.59", "2.80"))
    if version == "2.80":
        assert (move["user_id"], move["project_id"]) == ("mover", "moving")


def test_filters_pages_and_refusals(moved):
    cloud, sid = moved
    assert call(cloud, "GET", f"/os-migrations?instance_uuid={sid}").json()["migrations"]
    assert call(cloud, "GET", "/os-migrations?status=error").json()["migrations"] == []
    assert call(cloud, "GET", "/os-migrations?migration_type=resize",
                version="2.23").json()["migrations"]
    assert call(cloud, "GET", "/os-migrations?project_id=moving",
                version="2.80").json()["migrations"]
    assert call(cloud, "GET", "/os-migrations?project_id=other",
                version="2.80").json()["migrations"] == []
    page = call(cloud, "GET", "/os-migrations?limit=0", version="2.59").json()
    assert page["migrations"] == []
    for path, version in [("/os-migrations?marker=nope", "2.59"),
                          ("/os-migrations?limit=x", "2.59"),
                          ("/os-migrations?changes-since=yesterday", "2.59"),
                          ("/os-migrations?project_id=x", "2.79"),
                          ("/os-migrations?changes-since=2030-01-01T00:00:00Z&"
                           "changes-before=2020-01-01T00:00:00Z", "2.66")]:
        assert call(cloud, "GET", path, version=version).status_code == 400, path
    assert call(cloud, "GET", "/os-migrations", token="u:p").status_code == 403


def test_a_servers_live_migrations(moved):
    cloud, sid = moved
    base = f"/servers/{sid}/migrations"
    assert call(cloud, "GET", base, version="2.22").status_code == 404
    assert call(cloud, "GET", base, version="2.23").json() == {"migrations": []}
    assert call(cloud, "GET", f"{base}/1", version="2.23").status_code == 404
    assert call(cloud, "DELETE", f"{base}/1", version="2.24").status_code == 404
    resp = call(cloud, "POST", f"{base}/1/action", body={"force_complete": None},
                version="2.22")
    assert resp.status_code == 400 and "not running" in resp.text
    assert call(cloud, "POST", f"{base}/1/action", body={"nope": None},
                version="2.22").status_code == 400
    assert call(cloud, "GET", base, version="2.23", token="u:p").status_code == 403
