"""Versions, auth, microversions and the fault format."""
import json

import requests

from tests import tempest_schemas


def test_version_document(compute_cloud):
    root = compute_cloud.compute_url.rsplit("/v2.1", 1)[0]
    resp = requests.get(root + "/")
    v20, v = tempest_schemas.check(resp, "versions", "list_versions")["versions"]
    assert (v20["id"], v20["status"]) == ("v2.0", "SUPPORTED")
    assert v20["links"][0]["href"] == root + "/v2/"
    assert v["id"] == "v2.1" and v["status"] == "CURRENT"
    assert v["min_version"] == "2.1" and v["version"] == "2.104"
    body = requests.get(compute_cloud.compute_url + "/",
                        headers={"X-Auth-Token": "admin:admin"}).json()
    assert body["version"]["id"] == "v2.1"
    # Version discovery needs no token, as in Nova.
    resp = requests.get(compute_cloud.compute_url)
    assert resp.status_code == 200 and resp.json()["version"]["version"] == "2.104"


def test_no_token_is_401_in_fault_format(compute_cloud):
    resp = requests.get(compute_cloud.compute_url + "/servers")
    assert resp.status_code == 401
    assert resp.json()["unauthorized"]["code"] == 401


def test_microversion_negotiation(api):
    resp = api("GET", "/flavors", version="2.60")
    assert resp.headers["OpenStack-API-Version"] == "compute 2.60"
    resp = api("GET", "/flavors", version="latest")
    assert resp.headers["OpenStack-API-Version"] == "compute 2.104"
    resp = api("GET", "/flavors")
    assert resp.headers["OpenStack-API-Version"] == "compute 2.1"
    resp = api("GET", "/flavors", headers={"X-OpenStack-Nova-API-Version": "2.11"})
    assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.11"


def test_unsupported_microversion_is_406(api):
    resp = api("GET", "/flavors", version="2.1000")
    assert resp.status_code == 406
    assert "not supported" in resp.json()["computeFault"]["message"]


def test_malformed_microversion_is_400(api):
    resp = api("GET", "/flavors", version="two")
    assert resp.status_code == 400
    assert "badRequest" in resp.json()


def test_unknown_path_and_method(api):
    resp = api("GET", "/no-such-thing")
    assert resp.status_code == 404 and resp.json()["itemNotFound"]["code"] == 404
    resp = api("PATCH", "/servers")
    assert resp.status_code == 405
    assert "GET" in resp.headers["Allow"]


def test_request_id_header(api):
    resp = api("GET", "/flavors")
    assert resp.headers["x-openstack-request-id"].startswith("req-")
    assert resp.headers["x-compute-request-id"] == resp.headers["x-openstack-request-id"]


def test_malformed_json_is_400(api):
    resp = api("POST", "/servers", body=b"{not json")
    assert resp.status_code == 400
    assert "badRequest" in resp.json()
    resp = api("POST", "/servers", body=json.dumps([1, 2]))
    assert resp.status_code == 400


def test_extensions_list(api):
    body = tempest_schemas.check(api("GET", "/extensions"), "extensions", "list_extensions")
    aliases = [e["alias"] for e in body["extensions"]]
    assert "os-keypairs" in aliases and "os-aggregates" in aliases
    shown = api("GET", "/extensions/os-keypairs", token="demo:demo").json()["extension"]
    assert shown["name"] == "Keypairs"
    assert api("GET", "/extensions/os-nothing").status_code == 404
