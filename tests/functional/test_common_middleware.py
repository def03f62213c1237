"""The middleware every API pipeline takes from oslo.middleware: CORS (with
preflight), X-Forwarded-* parsing behind a proxy, and /healthcheck."""
import pytest
import requests

from compute_core import Cloud

ORIGIN = "https://dashboard.example"


@pytest.fixture(scope="module")
def cloud():
    with Cloud(overrides={"cors.allowed_origin": [ORIGIN],
                          "oslo_middleware.enable_proxy_headers_parsing": True}) as cloud:
        yield cloud


def _urls(cloud):
    return {"compute": cloud.compute_url + "/servers",
            "placement": cloud.placement_url + "/resource_providers"}


@pytest.mark.parametrize("api", ["compute", "placement"])
def test_a_preflight_from_an_allowed_origin(cloud, api):
    resp = requests.options(_urls(cloud)[api], timeout=10, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "X-Auth-Token, OpenStack-API-Version"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert resp.headers["Access-Control-Allow-Methods"] == "POST"
    assert "OpenStack-API-Version" in resp.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize("api", ["compute", "placement"])
def test_answers_carry_cors_headers_for_allowed_origins_only(cloud, api):
    token = {"X-Auth-Token": cloud.admin_token}
    allowed = requests.get(_urls(cloud)[api], timeout=10, headers={"Origin": ORIGIN, **token})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    exposed = allowed.headers["Access-Control-Expose-Headers"]
    assert "X-Openstack-Request-Id" in exposed and "OpenStack-API-Version" in exposed
    other = requests.get(_urls(cloud)[api], timeout=10,
                         headers={"Origin": "https://elsewhere.example", **token})
    assert other.status_code == 200
    assert "Access-Control-Allow-Origin" not in other.headers
    # An error answer (401 without a token) carries them too.
    refused = requests.get(_urls(cloud)[api], timeout=10, headers={"Origin": ORIGIN})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_links_follow_the_proxy_headers(cloud):
    resp = requests.get(cloud.compute_url + "/", timeout=10, headers={
        "X-Auth-Token": cloud.admin_token, "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "cloud.example"})
    assert resp.json()["version"]["links"][0]["href"] == "https://cloud.example/v2.1/"


def test_proxy_headers_are_ignored_unless_enabled():
    with Cloud() as plain:
        resp = requests.get(plain.compute_url + "/", timeout=10, headers={
            "X-Auth-Token": plain.admin_token, "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "cloud.example"})
        assert resp.json()["version"]["links"][0]["href"] == plain.compute_url + "/"


@pytest.mark.parametrize("api", ["compute", "placement"])
def test_healthcheck_needs_no_token(cloud, api):
    root = cloud.compute_url.rsplit("/v2.1", 1)[0] if api == "compute" else cloud.placement_url
    resp = requests.get(root + "/healthcheck", timeout=10,
                        headers={"Accept": "application/json"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["detailed"] is False
    assert requests.head(root + "/healthcheck", timeout=10).status_code == 204


def test_placement_serves_its_version_document_without_a_token(cloud):
    # As openstack-placement does: clients discover the versions first.
    resp = requests.get(cloud.placement_url + "/", timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["versions"][0]["max_version"] == "1.39"
    assert requests.get(cloud.placement_url + "/resource_providers",
                        timeout=10).status_code == 401
