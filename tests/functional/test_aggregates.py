"""/os-aggregates and /os-availability-zone through the HTTP API, and the
scheduler's zone and aggregate filters over them for every instance of a
multi-create (issue 27)."""
import time

import pytest

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas


@pytest.fixture(scope="module")
def cloud():
    overrides = {"quota.instances": -1, "quota.cores": -1, "quota.ram": -1,
                 "filter_scheduler.host_subset_size": 1,
                 "filter_scheduler.enabled_filters": [
                     "ComputeFilter", "AvailabilityZoneFilter",
                     "AggregateMultiTenancyIsolation", "AggregateInstanceExtraSpecsFilter",
                     "ComputeCapabilitiesFilter", "ImagePropertiesFilter",
                     "AggregateImagePropertiesIsolation"]}
    with Cloud(hosts=3, overrides=overrides) as cloud:
        yield cloud


def call(cloud, method, path, **kw):
    return api_request(cloud, method, path, **kw)


@pytest.fixture
def aggregates(cloud):
    made = []
    yield made
    for agg_id in made:
        agg = call(cloud, "GET", f"/os-aggregates/{agg_id}").json()["aggregate"]
        for host in agg["hosts"]:
            call(cloud, "POST", f"/os-aggregates/{agg_id}/action",
                 body={"remove_host": {"host": host}})
        call(cloud, "DELETE", f"/os-aggregates/{agg_id}")


def _aggregate(cloud, made, name, zone=None, hosts=(), metadata=None):
    body = {"aggregate": {"name": name}}
    if zone:
        body["aggregate"]["availability_zone"] = zone
    resp = call(cloud, "POST", "/os-aggregates", body=body)
    assert resp.status_code == 200, resp.text
    agg_id = resp.json()["aggregate"]["id"]
    made.append(agg_id)
    for host in hosts:
        assert call(cloud, "POST", f"/os-aggregates/{agg_id}/action",
                    body={"add_host": {"host": host}}).status_code == 200
    if metadata:
        assert call(cloud, "POST", f"/os-aggregates/{agg_id}/action",
                    body={"set_metadata": {"metadata": metadata}}).status_code == 200
    return agg_id


@pytest.mark.parametrize("version", ["2.1", "2.41"])
def test_aggregate_lifecycle_against_tempest_schemas(cloud, aggregates, version):
    def check(resp, name):
        return tempest_schemas.check(resp, "aggregates", name, version)

    agg = check(call(cloud, "POST", "/os-aggregates", version=version, body={
        "aggregate": {"name": f"agg-{version}", "availability_zone": f"z-{version}"}}),
        "create_aggregate")["aggregate"]
    aggregates.append(agg["id"])
    assert ("uuid" in agg) == (version == "2.41")
    assert agg["availability_zone"] == f"z-{version}" and "hosts" not in agg
    body = check(call(cloud, "POST", f"/os-aggregates/{agg['id']}/action", version=version,
                      body={"add_host": {"host": "host1"}}), "aggregate_add_remove_host")
    assert body["aggregate"]["hosts"] == ["host1"]
    body = check(call(cloud, "POST", f"/os-aggregates/{agg['id']}/action", version=version,
                      body={"set_metadata": {"metadata": {"ssd": "true"}}}),
                 "aggregate_set_metadata")
    assert body["aggregate"]["metadata"] == {"ssd": "true",
                                             "availability_zone": f"z-{version}"}
    body = check(call(cloud, "PUT", f"/os-aggregates/{agg['id']}", version=version,
                      body={"aggregate": {"name": f"renamed-{version}"}}), "update_aggregate")
    assert body["aggregate"]["name"] == f"renamed-{version}"
    check(call(cloud, "GET", f"/os-aggregates/{agg['id']}", version=version), "get_aggregate")
    listed = check(call(cloud, "GET", "/os-aggregates", version=version), "list_aggregates")
    assert agg["id"] in [a["id"] for a in listed["aggregates"]]
    check(call(cloud, "POST", f"/os-aggregates/{agg['id']}/action", version=version,
               body={"remove_host": {"host": "host1"}}), "aggregate_add_remove_host")
    check(call(cloud, "DELETE", f"/os-aggregates/{agg['id']}", version=version),
          "delete_aggregate")
    aggregates.remove(agg["id"])
    assert call(cloud, "GET", f"/os-aggregates/{agg['id']}").status_code == 404


def test_aggregate_refusals(cloud, aggregates):
    a = _aggregate(cloud, aggregates, "ra", "za", ["host1"])
    b = _aggregate(cloud, aggregates, "rb", "zb")
    cases = [
        ("POST", "/os-aggregates", {"aggregate": {"name": "ra"}}, 409),
        ("POST", "/os-aggregates", {"aggregate": {"name": "x", "availability_zone": "a:b"}}, 400),
        ("POST", "/os-aggregates", {"aggregate": {"name": "x",
                                                  "availability_zone": "internal"}}, 400),
        ("POST", "/os-aggregates", {"aggregate": {}}, 400),
        ("PUT", f"/os-aggregates/{a}", {"aggregate": {}}, 400),
        ("PUT", f"/os-aggregates/{a}", {"aggregate": {"name": "rb"}}, 409),
        ("PUT", f"/os-aggregates/{a}", {"aggregate": {"availability_zone": "zz"}}, 200),
        ("GET", "/os-aggregates/abc", None, 400),
        ("GET", "/os-aggregates/99999", None, 404),
        ("POST", f"/os-aggregates/{a}/action", {"add_host": {"host": "host1"}}, 409),
        ("POST", f"/os-aggregates/{b}/action", {"add_host": {"host": "host1"}}, 409),
        ("POST", f"/os-aggregates/{b}/action", {"add_host": {"host": "nohost"}}, 404),
        ("POST", f"/os-aggregates/{b}/action", {"remove_host": {"host": "host1"}}, 404),
        ("POST", f"/os-aggregates/{b}/action", {"frobnicate": {}}, 400),
        ("POST", f"/os-aggregates/{b}/action", {"add_host": {"hostname": "x"}}, 400),
        ("DELETE", f"/os-aggregates/{a}", None, 400),  # not empty
    ]
    for method, path, body, code in cases:
        resp = call(cloud, method, path, body=body)
        assert resp.status_code == code, (method, path, body, resp.text)
        if code >= 400:
            assert set(resp.json()) <= {"badRequest", "itemNotFound", "conflictingRequest"}
    resp = call(cloud, "GET", "/os-aggregates", token="demo:demo")
    assert resp.status_code == 403


def test_zones_come_from_aggregates(cloud, aggregates):
    _aggregate(cloud, aggregates, "zone-agg", "east", ["host2"])
    listed = tempest_schemas.check(call(cloud, "GET", "/os-availability-zone", token="demo:demo"),
                                   "availability_zone", "list_availability_zone_list")
    names = {z["zoneName"] for z in listed["availabilityZoneInfo"]}
    assert names == {"nova", "east"}
    detail = tempest_schemas.check(call(cloud, "GET", "/os-availability-zone/detail"),
                                   "availability_zone", "list_availability_zone_list_detail")
    zones = {z["zoneName"]: z for z in detail["availabilityZoneInfo"]}
    assert set(zones["east"]["hosts"]) == {"host2"}
    assert zones["east"]["hosts"]["host2"]["nova-compute"]["available"] is True
    assert "internal" in zones
    assert call(cloud, "GET", "/os-availability-zone/detail",
                token="demo:demo").status_code == 403
    services = call(cloud, "GET", "/os-services?binary=nova-compute").json()["services"]
    assert {s["host"]: s["zone"] for s in services}["host2"] == "east"


def _image(cloud, name, properties):
    """An image with *properties*, straight into the cloud's image backend."""
    import io

    return cloud._api.images.create(name, io.BytesIO(b"\0" * 512), properties=properties)["id"]


def _create(cloud, name, count, flavor="1", token=None, az=None, image=None, status="ACTIVE"):
    body = {"server": {"name": name, "imageRef": image or first_image_id(cloud),
                       "flavorRef": flavor, "min_count": count,
                       "return_reservation_id": True}}
    if az:
        body["server"]["availability_zone"] = az
    resp = call(cloud, "POST", "/servers", body=body, token=token)
    assert resp.status_code == 202, resp.text
    rid = resp.json()["reservation_id"]
    listed = call(cloud, "GET", f"/servers?reservation_id={rid}&all_tenants=1").json()["servers"]
    servers = [wait_for_server(cloud, s["id"]) for s in listed]
    assert [s["status"] for s in servers] == [status] * count, servers
    for s in servers:
        call(cloud, "DELETE", f"/servers/{s['id']}")
    return servers


def test_zone_holds_for_every_instance_of_a_multi_create(cloud, aggregates):
    _aggregate(cloud, aggregates, "west-agg", "west", ["host3"])
    servers = _create(cloud, "west", 4, az="west")
    assert {s["OS-EXT-SRV-ATTR:host"] for s in servers} == {"host3"}
    assert {s["OS-EXT-AZ:availability_zone"] for s in servers} == {"west"}
    resp = call(cloud, "POST", "/servers", body={"server": {
        "name": "x", "imageRef": first_image_id(cloud), "flavorRef": "1",
        "availability_zone": "nowhere"}})
    assert resp.status_code == 400


def test_tenant_isolation_holds_for_every_instance(cloud, aggregates):
    _aggregate(cloud, aggregates, "tenant-agg", hosts=["host1"],
               metadata={"filter_tenant_id": "solo"})
    others = _create(cloud, "others", 4, token="demo:demo")
    assert "host1" not in {s["OS-EXT-SRV-ATTR:host"] for s in others}


def test_image_properties_hold_for_every_instance(cloud):
    arm = _image(cloud, "arm-only", {"hw_architecture": "aarch64"})
    _create(cloud, "arm", 3, image=arm, status="ERROR")  # no host runs aarch64
    x86 = _image(cloud, "x86", {"hw_architecture": "x86_64", "img_hv_type": "fake"})
    assert len(_create(cloud, "x86", 3, image=x86)) == 3


def test_aggregate_image_isolation_holds_for_every_instance(cloud, aggregates):
    _aggregate(cloud, aggregates, "windows-hosts", hosts=["host2"],
               metadata={"os_distro": "windows"})
    linux = _image(cloud, "linux", {"os_distro": "linux"})
    servers = _create(cloud, "linux", 4, image=linux)
    assert "host2" not in {s["OS-EXT-SRV-ATTR:host"] for s in servers}


def test_image_cache_from_2_81(cloud, aggregates):
    agg = _aggregate(cloud, aggregates, "cache-agg", hosts=["host1", "host3"])
    image = first_image_id(cloud)
    body = {"cache": [{"id": image}]}
    assert call(cloud, "POST", f"/os-aggregates/{agg}/images", body=body,
                version="2.80").status_code == 404
    assert call(cloud, "POST", f"/os-aggregates/{agg}/images", body=body,
                version="2.81").status_code == 202
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(
            image in cloud._drivers[h].cached_images for h in ("host1", "host3")):
        time.sleep(0.05)
    assert image in cloud._drivers["host1"].cached_images
    assert image in cloud._drivers["host3"].cached_images
    assert image not in cloud._drivers["host2"].cached_images
    for bad, code in [({"cache": []}, 400), ({"cache": [{"id": "x"}]}, 400),
                      ({"cache": [{"id": image}, {"id": image}]}, 400),
                      ({"cache": [{"id": "00000000-0000-0000-0000-000000000009"}]}, 400)]:
        assert call(cloud, "POST", f"/os-aggregates/{agg}/images", body=bad,
                    version="2.81").status_code == code, bad
    assert call(cloud, "POST", "/os-aggregates/99999/images", body=body,
                version="2.81").status_code == 404
