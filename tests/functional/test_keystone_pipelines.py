"""The keystone pipelines of both APIs ([api] auth_strategy = keystone):
keystonemiddleware's auth_token, then our context filter. Keystone itself is
replaced by keystonemiddleware's own AuthTokenFixture, which answers token
validation in-process; everything else (paste pipelines, auth_token, the
context, policy, a boot through scheduler and placement) is real."""
import pytest
import requests
from keystonemiddleware import auth_token
from keystonemiddleware import fixture as ks_fixture

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server


@pytest.fixture(scope="module")
def keystone():
    tokens = ks_fixture.AuthTokenFixture()
    tokens.setUp()
    tokens.add_token_data(token_id="admin-token", user_id="admin-u", project_id="admin-p",
                          role_list=["admin", "member", "reader"])
    tokens.add_token_data(token_id="member-token", user_id="u1", project_id="p1",
                          role_list=["member", "reader"])
    # The services' own placement client authenticates with noauth2's
    # admin token ([placement] auth_strategy is separate): let it through.
    tokens.add_token_data(token_id="admin:admin", user_id="admin", project_id="admin",
                          role_list=["admin"])
    yield tokens
    tokens.cleanUp()


@pytest.fixture(scope="module")
def cloud(keystone, tmp_path_factory):
    # What an operator sets for auth_token: where clients should go for a
    # token (the WWW-Authenticate of a 401).
    config = tmp_path_factory.mktemp("keystone") / "compute.conf"
    config.write_text("[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:5000/v3\n")
    with Cloud(config_file=str(config), overrides={"api.auth_strategy": "keystone"}) as c:
        yield c


def test_compute_api_takes_identity_from_the_token(cloud):
    resp = requests.get(cloud.compute_url + "/flavors", timeout=10)  # no token at all
    assert resp.status_code == 401, resp.text
    assert "127.0.0.1:5000" in resp.headers["WWW-Authenticate"]
    resp = api_request(cloud, "GET", "/flavors", token="not-a-token")
    assert resp.status_code == 401, resp.text
    assert api_request(cloud, "GET", "/flavors", token="member-token").status_code == 200
    # Admin-only resources follow the token's roles.
    assert api_request(cloud, "GET", "/os-hypervisors", token="member-token").status_code == 403
    assert api_request(cloud, "GET", "/os-hypervisors", token="admin-token").status_code == 200
    image = first_image_id(cloud, token="member-token")
    resp = api_request(cloud, "POST", "/servers", token="member-token", body={
        "server": {"name": "ks", "imageRef": image, "flavorRef": "1"}})
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    server = wait_for_server(cloud, sid, token="member-token")
    assert server["status"] == "ACTIVE", server
    assert (server["tenant_id"], server["user_id"]) == ("p1", "u1")
    assert api_request(cloud, "GET", f"/servers/{sid}", token="admin-token").status_code == 200
    assert api_request(cloud, "DELETE", f"/servers/{sid}",
                       token="member-token").status_code == 204
    wait_for_server(cloud, sid, ("DELETED",), token="member-token")


def _placement(cloud, token, path="/resource_providers"):
    headers = {"OpenStack-API-Version": "placement 1.39"}
    if token:
        headers["X-Auth-Token"] = token
    return requests.get(cloud.placement_url + path, headers=headers, timeout=10)


def test_placement_takes_identity_from_the_token(cloud):
    resp = _placement(cloud, None)
    assert resp.status_code == 401
    assert _placement(cloud, "not-a-token").status_code == 401
    resp = _placement(cloud, "member-token")
    assert resp.status_code == 403
    assert resp.json()["errors"][0]["status"] == 403
    resp = _placement(cloud, "admin-token")
    assert resp.status_code == 200
    assert resp.json()["resource_providers"]


def test_token_validation_that_fails_is_a_503_in_each_api_format(cloud, monkeypatch):
    def broken(self, token, **kwargs):
        raise RuntimeError("Keystone is down")

    monkeypatch.setattr(auth_token.AuthProtocol, "fetch_token", broken)
    resp = api_request(cloud, "GET", "/flavors", token="member-token")
    assert resp.status_code == 503, resp.text
    assert "identity service" in resp.json()["serviceUnavailable"]["message"]
    resp = _placement(cloud, "admin-token")
    assert resp.status_code == 503, resp.text
    assert resp.json()["errors"][0]["status"] == 503
