"""Nova 34's last microversions: 2.102 (every route closed to unknown query
parameters; flavors without rxtx_factor and OS-FLV-DISABLED:disabled, with
a name filter) and 2.104 (pinning a server's availability zone)."""
import pytest

from compute_core.db import api_db
from compute_core.testing import wait_for_server

from .test_servers import boot


def _message(resp):
    return next(iter(resp.json().values()))["message"]


@pytest.mark.parametrize("path", ["/os-availability-zone", "/flavors/1", "/extensions",
                                  "/os-instance_usage_audit_log", "/limits"])
def test_every_route_refuses_unknown_query_parameters_from_2_102(api, path):
    assert api("GET", f"{path}?bogus=1", version="2.101").status_code == 200
    resp = api("GET", f"{path}?bogus=1", version="2.102")
    assert resp.status_code == 400
    assert "bogus" in _message(resp) and "Additional properties" in _message(resp)


def test_declared_query_parameters_still_pass_at_2_102(api):
    assert api("GET", "/servers?name=x&limit=1", version="2.104").status_code == 200
    assert api("GET", "/limits?tenant_id=demo", version="2.104").status_code == 200
    assert api("GET", "/os-hypervisors?limit=1", version="2.104").status_code == 200
    assert api("GET", "/flavors?minRam=1&sort_key=name", version="2.104").status_code == 200


def test_server_show_is_closed_at_2_102(api, compute_cloud, image_id):
    sid = boot(api, image_id, name="closed")
    wait_for_server(compute_cloud, sid)
    assert api("GET", f"/servers/{sid}?x=1", version="2.101").status_code == 200
    assert api("GET", f"/servers/{sid}?x=1", version="2.102").status_code == 400
    api("DELETE", f"/servers/{sid}")


def test_flavors_at_2_102(api):
    gone = {"rxtx_factor", "OS-FLV-DISABLED:disabled"}
    old = api("GET", "/flavors/1", version="2.101").json()["flavor"]
    assert gone <= set(old)
    new = api("GET", "/flavors/1", version="2.102").json()["flavor"]
    assert not gone & set(new) and new["ram"] == old["ram"]
    for flavor in api("GET", "/flavors/detail", version="2.102").json()["flavors"]:
        assert not gone & set(flavor)
    body = {"flavor": {"name": "rx", "ram": 64, "vcpus": 1, "disk": 0, "rxtx_factor": 2.0}}
    resp = api("POST", "/flavors", body=body, version="2.102")
    assert resp.status_code == 400 and "rxtx_factor" in _message(resp)
    del body["flavor"]["rxtx_factor"]
    resp = api("POST", "/flavors", body=body, version="2.102")
    assert resp.status_code == 200 and not gone & set(resp.json()["flavor"])
    fid = resp.json()["flavor"]["id"]
    assert api("GET", "/flavors?sort_key=rxtx_factor", version="2.101").status_code == 200
    assert api("GET", "/flavors?sort_key=rxtx_factor", version="2.102").status_code == 400
    api("DELETE", f"/flavors/{fid}")


def test_flavor_name_filter(api):
    def names(query, version):
        resp = api("GET", f"/flavors?{query}", version=version)
        assert resp.status_code == 200, resp.text
        return sorted(f["name"] for f in resp.json()["flavors"])

    everything = names("", "2.102")
    assert names("name=^m1.tiny$", "2.102") == ["m1.tiny"]
    assert names("name=tiny|small", "2.102") == [n for n in everything
                                                 if "tiny" in n or "small" in n]
    # Below 2.75 the parameter is taken (and filters); from 2.75 to 2.101
    # the closed listing refuses it.
    assert names("name=^m1.tiny$", "2.1") == ["m1.tiny"]
    assert api("GET", "/flavors?name=x", version="2.75").status_code == 400
    assert api("GET", "/flavors?bogus=x", version="2.75").status_code == 400
    resp = api("GET", "/flavors?name=(a", version="2.102")
    assert resp.status_code == 400 and "name" in _message(resp)
    # ... and the OpenAPI documents say so (the fuzzers reach what they declare)
    from compute_core import openapi

    for version, declared in (("2.1", True), ("2.74", True), ("2.75", False),
                              ("2.101", False), ("2.102", True)):
        for path in ("/flavors", "/flavors/detail"):
            params = openapi.document("compute", version)["paths"][path]["get"]["parameters"]
            assert declared == any(p["in"] == "query" and p["name"] == "name"
                                   for p in params), (version, path)


def test_pinning_the_availability_zone_at_2_104(api, compute_cloud, image_id):
    sid = boot(api, image_id, name="pin")
    server = wait_for_server(compute_cloud, sid)
    zone = server["OS-EXT-AZ:availability_zone"]
    pinned = api("GET", f"/servers/{sid}", version="2.104").json()["server"]
    assert pinned["pinned_availability_zone"] is None

    def put(value, version="2.104"):
        return api("PUT", f"/servers/{sid}", version=version,
                   body={"server": {"pinned_availability_zone": value}})

    def spec_zone():
        return api_db.get_request_spec(compute_cloud._api.api_db, sid).get(
            "availability_zone")

    assert put(zone, version="2.103").status_code == 400  # not a field before
    resp = put("elsewhere")
    assert resp.status_code == 409 and f"'{zone}'" in _message(resp)
    resp = put(zone)
    assert resp.status_code == 200, resp.text
    assert resp.json()["server"]["pinned_availability_zone"] == zone
    assert resp.json()["server"]["OS-EXT-AZ:availability_zone"] == zone
    assert spec_zone() == zone
    assert put(zone).status_code == 200  # the same again: nothing changes
    resp = put("elsewhere")
    assert resp.status_code == 409 and "Unpin first" in _message(resp)
    resp = put(None)
    assert resp.status_code == 200
    assert resp.json()["server"]["pinned_availability_zone"] is None
    assert spec_zone() is None
    assert put("").status_code == 400
    api("DELETE", f"/servers/{sid}")


@pytest.mark.parametrize("method,path", [
    ("GET", "/os-agents"), ("POST", "/os-cells/sync_instances"), ("GET", "/os-fping/1"),
    ("DELETE", "/os-floating-ip-dns/d/entries/e"), ("GET", "/servers/x/os-virtual-interfaces"),
    ("POST", "/servers/x/consoles"), ("PUT", "/os-cloudpipe/p"),
])
def test_removed_apis_are_gone(api, method, path):
    """Nova's removed APIs answer 410 (not 404), to anyone, before any
    check of the server they name."""
    for token in ("admin:admin", "reader:demo"):
        resp = api(method, path, token=token, body={} if method in ("POST", "PUT") else None)
        assert resp.status_code == 410, resp.text
        assert resp.json()["computeFault"]["code"] == 410
    assert api("PATCH", path).status_code == 405
    # whatever the query, at any version
    assert api(method, f"{path}?x=1", version="2.104",
               body={} if method in ("POST", "PUT") else None).status_code == 410
