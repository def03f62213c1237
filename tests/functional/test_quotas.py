"""/os-quota-sets and /os-quota-class-sets through the HTTP API (against
tempest's schemas), enforcement of project and user limits, and the
recheck that keeps concurrent creates within a quota."""
import concurrent.futures

import pytest

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas


@pytest.fixture(scope="module")
def cloud():
    with Cloud(hosts=2) as cloud:
        yield cloud


def call(cloud, method, path, **kw):
    return api_request(cloud, method, path, **kw)


@pytest.mark.parametrize("version", ["2.1", "2.36", "2.57"])
def test_show_detail_defaults_update_delete(cloud, version):
    project = f"qp-{version}"
    base = f"/os-quota-sets/{project}"
    body = tempest_schemas.check(call(cloud, "GET", base, version=version), "quotas",
                                 "get_quota_set", version)["quota_set"]
    assert body["id"] == project and body["instances"] == 10
    assert ("fixed_ips" in body) == (version == "2.1")
    assert ("injected_files" in body) == (version != "2.57")
    tempest_schemas.check(call(cloud, "GET", base + "/defaults", version=version), "quotas",
                          "get_quota_set", version)
    detail = tempest_schemas.check(call(cloud, "GET", base + "/detail", version=version),
                                   "quotas", "get_quota_set_details", version)["quota_set"]
    assert detail["instances"] == {"limit": 10, "in_use": 0, "reserved": 0}
    updated = tempest_schemas.check(call(cloud, "PUT", base, version=version, body={
        "quota_set": {"instances": 3, "cores": "7"}}), "quotas", "update_quota_set",
        version)["quota_set"]
    assert (updated["instances"], updated["cores"]) == (3, 7) and "id" not in updated
    assert call(cloud, "GET", base).json()["quota_set"]["instances"] == 3
    tempest_schemas.check(call(cloud, "DELETE", base, version=version), "quotas",
                          "delete_quota", version)
    assert call(cloud, "GET", base).json()["quota_set"]["instances"] == 10


def test_refusals_and_policy(cloud):
    base = "/os-quota-sets/qref"
    for version, body in [("2.1", {"quota_set": {"instances": -2}}),
                          ("2.1", {"quota_set": {"instances": "x"}}),
                          ("2.1", {"quota_set": {"bogus": 1}}),
                          ("2.36", {"quota_set": {"fixed_ips": 1}}),
                          ("2.57", {"quota_set": {"injected_files": 1}}),
                          ("2.1", {"quotas": {}})]:
        resp = call(cloud, "PUT", base, body=body, version=version)
        assert resp.status_code == 400, (version, body, resp.text)
    assert call(cloud, "PUT", base, body={"quota_set": {"instances": 1}},
                token="u:qref").status_code == 403
    assert call(cloud, "GET", base, token="u:qref").status_code == 200  # its own project
    assert call(cloud, "GET", base, token="u:elsewhere").status_code == 403
    assert call(cloud, "GET", base + "?foo=1", version="2.75").status_code == 400


def _boot(cloud, token, count=1):
    resp = call(cloud, "POST", "/servers", token=token, body={"server": {
        "name": "q", "imageRef": first_image_id(cloud), "flavorRef": "1", "min_count": count}})
    return resp


def test_limits_below_usage_and_user_limits(cloud):
    project, token = "qusers", "alice:qusers"
    sid = _boot(cloud, token).json()["server"]["id"]
    wait_for_server(cloud, sid)
    base = f"/os-quota-sets/{project}"
    resp = call(cloud, "PUT", base, body={"quota_set": {"instances": 0}})
    assert resp.status_code == 400 and "already used" in resp.text
    assert call(cloud, "PUT", base, body={"quota_set": {"instances": 0, "force": True}}
                ).status_code == 200
    call(cloud, "DELETE", base)
    # a user's own limit: alice may have 1 server, bob still more
    assert call(cloud, "PUT", f"{base}?user_id=alice",
                body={"quota_set": {"instances": 1}}).status_code == 200
    resp = call(cloud, "PUT", f"{base}?user_id=bob", body={"quota_set": {"instances": 50}})
    assert resp.status_code == 400 and "less than or equal to 10" in resp.text
    shown = call(cloud, "GET", f"{base}?user_id=alice").json()["quota_set"]
    assert shown["instances"] == 1
    detail = call(cloud, "GET", f"{base}/detail?user_id=alice").json()["quota_set"]
    assert detail["instances"]["in_use"] == 1
    resp = _boot(cloud, token)
    assert resp.status_code == 403 and "instances" in resp.text
    resp = _boot(cloud, "bob:qusers")
    assert resp.status_code == 202
    wait_for_server(cloud, resp.json()["server"]["id"])
    call(cloud, "DELETE", f"{base}?user_id=alice")
    assert _boot(cloud, token).status_code == 202


def test_quota_classes(cloud):
    body = tempest_schemas.check(call(cloud, "GET", "/os-quota-class-sets/default"),
                                 "quota_classes", "get_quota_class_set")
    assert body["quota_class_set"]["id"] == "default"
    body = tempest_schemas.check(call(cloud, "PUT", "/os-quota-class-sets/default", body={
        "quota_class_set": {"key_pairs": 77}}), "quota_classes", "update_quota_class_set")
    assert body["quota_class_set"]["key_pairs"] == 77
    try:
        # the default class is every project's default
        assert call(cloud, "GET", "/os-quota-sets/anyproj").json()["quota_set"][
            "key_pairs"] == 77
        assert call(cloud, "GET", "/os-quota-class-sets/default",
                    token="u:p").status_code == 403
    finally:
        call(cloud, "PUT", "/os-quota-class-sets/default",
             body={"quota_class_set": {"key_pairs": 100}})


def test_thirty_concurrent_creates_against_a_quota_of_five(cloud):
    project = "qrace"
    call(cloud, "PUT", f"/os-quota-sets/{project}", body={"quota_set": {"instances": 5}})
    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(lambda _: _boot(cloud, f"u:{project}").status_code, range(30)))
    # (two racing rechecks may both give way, so fewer than 5 is possible,
    # more never; seen here: 5 of 5, three runs out of three)
    assert 1 <= codes.count(202) <= 5 and codes.count(202) + codes.count(403) == 30, codes
    listed = call(cloud, "GET", f"/servers?all_tenants=1&project_id={project}").json()
    assert len(listed["servers"]) == codes.count(202) <= 5


def test_hostile_limits_are_400s(cloud):
    # found by a deeper schemathesis run: digits past any database integer
    for value in ("-38637747660838512984154", "7670110860594061", 2 ** 40, -2):
        resp = call(cloud, "PUT", "/os-quota-sets/hostile", body={"quota_set": {
            "instances": value}})
        assert resp.status_code == 400 and "instances" in resp.text, (value, resp.text)
        resp = call(cloud, "PUT", "/os-quota-class-sets/default", body={"quota_class_set": {
            "cores": value}})
        assert resp.status_code == 400 and "cores" in resp.text, (value, resp.text)
    assert call(cloud, "PUT", "/os-quota-sets/hostile", body={"quota_set": {
        "instances": 2147483646.0}}).status_code == 200
