"""Flavor extra specs, private flavors and their access lists, flavor
descriptions (2.55) and numeric flavor ids, through the HTTP API; the
scheduler's extra-spec filters for every instance of a multi-create."""
import pytest

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas

DEMO = "demo:demo"


@pytest.fixture
def flavor(api):
    resp = api("POST", "/flavors", body={"flavor": {"name": "xs-test", "ram": 256, "vcpus": 1,
                                                    "disk": 1, "id": 4242}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["flavor"]["id"] == "4242"  # a number keeps its text form
    yield "4242"
    api("DELETE", "/flavors/4242")


def test_extra_specs(api, flavor):
    base = f"/flavors/{flavor}/os-extra_specs"
    body = tempest_schemas.check(api("POST", base, body={"extra_specs": {
        "hw:cpu_policy": "dedicated", "quota:vif": 5}}), "flavors", "set_get_flavor_extra_specs")
    assert body == {"extra_specs": {"hw:cpu_policy": "dedicated", "quota:vif": "5"}}
    tempest_schemas.check(api("GET", base, token=DEMO), "flavors", "set_get_flavor_extra_specs")
    body = tempest_schemas.check(api("GET", f"{base}/quota:vif"), "flavors",
                                 "set_get_flavor_extra_specs_key")
    assert body == {"quota:vif": "5"}
    body = tempest_schemas.check(api("PUT", f"{base}/quota:vif", body={"quota:vif": "6"}),
                                 "flavors", "set_get_flavor_extra_specs_key")
    assert api("GET", f"/flavors/{flavor}", version="2.61").json()["flavor"]["extra_specs"] == {
        "hw:cpu_policy": "dedicated", "quota:vif": "6"}
    tempest_schemas.check(api("DELETE", f"{base}/quota:vif"), "flavors",
                          "unset_flavor_extra_specs")
    cases = [("PUT", f"{base}/a", {"b": "1"}, 400), ("PUT", f"{base}/a", {"a": "1", "b": "2"}, 400),
             ("POST", base, {"extra_specs": {"bad/key": "1"}}, 400),
             ("POST", base, {"extra_specs": {"k": "x" * 256}}, 400),
             ("POST", base, {"specs": {}}, 400),
             ("DELETE", f"{base}/quota:vif", None, 404), ("GET", f"{base}/nope", None, 404),
             ("GET", "/flavors/none/os-extra_specs", None, 404),
             ("POST", base, {"extra_specs": {"a": "b"}}, 403)]
    for method, path, body, code in cases:
        token = DEMO if code == 403 else None
        resp = api(method, path, body=body, token=token)
        assert resp.status_code == code, (method, path, body, resp.text)


def test_private_flavor_access(api):
    resp = api("POST", "/flavors", body={"flavor": {"name": "private-1", "ram": 256, "vcpus": 1,
                                                    "disk": 1, "id": "priv1",
                                                    "os-flavor-access:is_public": False}})
    assert resp.status_code == 200
    try:
        assert api("GET", "/flavors/priv1", token=DEMO).status_code == 404
        body = tempest_schemas.check(api("POST", "/flavors/priv1/action", body={
            "addTenantAccess": {"tenant": "demo"}}), "flavors", "add_remove_list_flavor_access")
        assert body == {"flavor_access": [{"flavor_id": "priv1", "tenant_id": "demo"}]}
        assert api("GET", "/flavors/priv1", token=DEMO).status_code == 200
        assert api("POST", "/flavors/priv1/action", body={
            "addTenantAccess": {"tenant": "demo"}}).status_code == 409
        tempest_schemas.check(api("GET", "/flavors/priv1/os-flavor-access"), "flavors",
                              "add_remove_list_flavor_access")
        assert api("GET", "/flavors/1/os-flavor-access").status_code == 404  # public
        assert api("POST", "/flavors/1/action", body={
            "addTenantAccess": {"tenant": "demo"}}).status_code == 409
        assert api("POST", "/flavors/priv1/action", token=DEMO, body={
            "removeTenantAccess": {"tenant": "demo"}}).status_code == 403
        assert api("POST", "/flavors/priv1/action", body={
            "removeTenantAccess": {"tenant": "demo"}}).json() == {"flavor_access": []}
        assert api("POST", "/flavors/priv1/action", body={
            "removeTenantAccess": {"tenant": "demo"}}).status_code == 404
        assert api("POST", "/flavors/priv1/action", body={"grant": {}}).status_code == 400
        assert api("GET", "/flavors/priv1", token=DEMO).status_code == 404
    finally:
        api("DELETE", "/flavors/priv1")


def test_flavor_description_from_2_55(api, flavor):
    body = {"flavor": {"description": "tiny test flavor"}}
    assert api("PUT", f"/flavors/{flavor}", body=body, version="2.54").status_code == 404
    resp = api("PUT", f"/flavors/{flavor}", body=body, version="2.55")
    body = tempest_schemas.check(resp, "flavors", "create_update_get_flavor_details", "2.55")
    assert body["flavor"]["description"] == "tiny test flavor"
    assert api("PUT", f"/flavors/{flavor}", body={"flavor": {"name": "x"}},
               version="2.55").status_code == 400
    assert api("PUT", "/flavors/nope", body={"flavor": {"description": None}},
               version="2.55").status_code == 404
    assert api("PUT", f"/flavors/{flavor}", body={"flavor": {"description": None}},
               version="2.55", token=DEMO).status_code == 403


@pytest.fixture(scope="module")
def three_hosts():
    overrides = {"quota.instances": -1, "quota.cores": -1, "quota.ram": -1,
                 "filter_scheduler.host_subset_size": 1,
                 "filter_scheduler.enabled_filters": [
                     "ComputeFilter", "AggregateInstanceExtraSpecsFilter",
                     "ComputeCapabilitiesFilter"]}
    with Cloud(hosts=3, overrides=overrides) as cloud:
        yield cloud


def _hosts(cloud, flavor, count):
    body = {"server": {"name": "spec", "imageRef": first_image_id(cloud), "flavorRef": flavor,
                       "min_count": count, "return_reservation_id": True}}
    resp = api_request(cloud, "POST", "/servers", body=body)
    assert resp.status_code == 202, resp.text
    rid = resp.json()["reservation_id"]
    listed = api_request(cloud, "GET", f"/servers?reservation_id={rid}").json()["servers"]
    servers = [wait_for_server(cloud, s["id"]) for s in listed]
    assert [s["status"] for s in servers] == ["ACTIVE"] * count
    return {s["OS-EXT-SRV-ATTR:host"] for s in servers}


def test_aggregate_extra_specs_hold_for_every_instance(three_hosts):
    call = lambda *a, **kw: api_request(three_hosts, *a, **kw)  # noqa: E731
    agg = call("POST", "/os-aggregates", body={"aggregate": {"name": "ssd"}}).json()["aggregate"]
    call("POST", f"/os-aggregates/{agg['id']}/action", body={"add_host": {"host": "host2"}})
    call("POST", f"/os-aggregates/{agg['id']}/action",
         body={"set_metadata": {"metadata": {"ssd": "true"}}})
    call("POST", "/flavors", body={"flavor": {"name": "ssd", "ram": 64, "vcpus": 1, "disk": 1,
                                              "id": "ssd"}})
    call("POST", "/flavors/ssd/os-extra_specs",
         body={"extra_specs": {"aggregate_instance_extra_specs:ssd": "true"}})
    assert _hosts(three_hosts, "ssd", 4) == {"host2"}


def test_capabilities_hold_for_every_instance(three_hosts):
    call = lambda *a, **kw: api_request(three_hosts, *a, **kw)  # noqa: E731
    hosts = call("GET", "/os-hypervisors/detail").json()["hypervisors"]
    hv_type = hosts[0]["hypervisor_type"]
    call("POST", "/flavors", body={"flavor": {"name": "cap", "ram": 64, "vcpus": 1, "disk": 1,
                                              "id": "cap"}})
    call("POST", "/flavors/cap/os-extra_specs",
         body={"extra_specs": {"capabilities:hypervisor_type": hv_type,
                               "capabilities:nodename": "host3"}})
    assert _hosts(three_hosts, "cap", 3) == {"host3"}
    call("POST", "/flavors", body={"flavor": {"name": "nocap", "ram": 64, "vcpus": 1,
                                              "disk": 1, "id": "nocap"}})
    call("POST", "/flavors/nocap/os-extra_specs",
         body={"extra_specs": {"capabilities:hypervisor_type": "s390x-nothing"}})
    resp = call("POST", "/servers", body={"server": {"name": "none", "flavorRef": "nocap",
                                                     "imageRef": first_image_id(three_hosts)}})
    assert wait_for_server(three_hosts, resp.json()["server"]["id"])["status"] == "ERROR"
