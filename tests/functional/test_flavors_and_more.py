"""Flavors, os-services, os-hypervisors, limits and the images proxy."""


def test_default_flavors(api):
    flavors = api("GET", "/flavors").json()["flavors"]
    names = [f["name"] for f in flavors]
    for name in ("m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"):
        assert name in names
    tiny = api("GET", "/flavors/1").json()["flavor"]
    assert (tiny["ram"], tiny["vcpus"], tiny["disk"], tiny["swap"]) == (512, 1, 1, "")
    assert api("GET", "/flavors/1", version="2.75").json()["flavor"]["swap"] == 0
    detail = api("GET", "/flavors/detail?minRam=4096").json()["flavors"]
    assert {f["name"] for f in detail} >= {"m1.medium", "m1.large", "m1.xlarge"}
    assert all(f["ram"] >= 4096 for f in detail)
    assert "extra_specs" in api("GET", "/flavors/1", version="2.61").json()["flavor"]


def test_flavor_filters_and_limits_of_any_integer(api):
    # found by the schemathesis run: a minimum past 64 bits was a 500 (the
    # database could not bind it)
    assert api("GET", f"/flavors?minDisk={10 ** 22}").json()["flavors"] == []
    assert api("GET", f"/flavors/detail?minRam={2 ** 31}").json()["flavors"] == []
    everything = api("GET", "/flavors").json()["flavors"]
    assert api("GET", f"/flavors?minRam=-{10 ** 30}").json()["flavors"] == everything
    # found by the schemathesis run too: limit=0 failed making the next link
    resp = api("GET", "/flavors/detail?limit=0")
    assert resp.status_code == 200 and resp.json() == {"flavors": []}
    resp = api("GET", "/flavors?minRam=big")
    assert resp.status_code == 400 and "minRam" in resp.json()["badRequest"]["message"]


def test_flavor_create_delete_admin_only(api):
    body = {"flavor": {"name": "custom.1", "ram": 256, "vcpus": 1, "disk": 2, "id": "c1"}}
    assert api("POST", "/flavors", body=body, token="demo:demo").status_code == 403
    resp = api("POST", "/flavors", body=body)
    assert resp.status_code == 200 and resp.json()["flavor"]["id"] == "c1"
    assert api("POST", "/flavors", body=body).status_code == 409
    assert api("GET", "/flavors/c1").json()["flavor"]["name"] == "custom.1"
    assert api("DELETE", "/flavors/c1", token="demo:demo").status_code == 403
    assert api("DELETE", "/flavors/c1").status_code == 202
    assert api("GET", "/flavors/c1").status_code == 404
    assert api("DELETE", "/flavors/c1").status_code == 404


def test_flavor_bad_bodies(api):
    resp = api("POST", "/flavors", body={"flavor": {"name": "x", "ram": -1, "vcpus": 1,
                                                    "disk": 1}})
    assert resp.status_code == 400 and "ram" in resp.json()["badRequest"]["message"]
    resp = api("POST", "/flavors", body={"flavor": {"name": "x", "vcpus": 1, "disk": 1}})
    assert resp.status_code == 400 and "ram" in resp.json()["badRequest"]["message"]


def test_os_services(api):
    services = api("GET", "/os-services").json()["services"]
    binaries = {s["binary"] for s in services}
    assert {"nova-conductor", "nova-scheduler", "nova-compute"} <= binaries
    assert all(s["state"] == "up" for s in services)
    compute = [s for s in services if s["binary"] == "nova-compute"][0]
    assert compute["zone"] == "nova" and compute["status"] == "enabled"
    new = api("GET", "/os-services", version="2.53").json()["services"]
    assert all(len(str(s["id"])) == 36 for s in new)
    assert api("GET", "/os-services", token="demo:demo").status_code == 403
    # Filtered by Nova's binary names, as clients ask (openstack compute
    # service list --service nova-compute), or by host.
    only = api("GET", "/os-services?binary=nova-compute").json()["services"]
    assert only and {s["binary"] for s in only} == {"nova-compute"}
    assert len(only) == len([s for s in services if s["binary"] == "nova-compute"])
    on_host = api("GET", f"/os-services?host={compute['host']}&binary=nova-compute")
    assert [s["host"] for s in on_host.json()["services"]] == [compute["host"]]


def test_os_hypervisors(api):
    hvs = api("GET", "/os-hypervisors").json()["hypervisors"]
    assert hvs and set(hvs[0]) == {"id", "hypervisor_hostname", "state", "status"}
    detail = api("GET", "/os-hypervisors/detail").json()["hypervisors"][0]
    assert detail["hypervisor_type"] == "fake" and detail["vcpus"] == 16
    one = api("GET", f"/os-hypervisors/{detail['id']}").json()["hypervisor"]
    assert one["hypervisor_hostname"] == detail["hypervisor_hostname"]
    new = api("GET", "/os-hypervisors/detail", version="2.88").json()["hypervisors"][0]
    assert "vcpus" not in new and len(new["id"]) == 36
    assert api("GET", "/os-hypervisors/99999").status_code == 404


def test_limits(fresh_compute_cloud):
    from compute_core.testing import api_request

    absolute = api_request(fresh_compute_cloud, "GET", "/limits").json()["limits"]["absolute"]
    assert absolute["maxTotalInstances"] == 10 and absolute["maxTotalCores"] == 20
    assert absolute["maxTotalRAMSize"] == 51200 and absolute["totalInstancesUsed"] == 0
    assert "maxPersonality" in absolute
    newer = api_request(fresh_compute_cloud, "GET", "/limits", version="2.57").json()
    assert "maxPersonality" not in newer["limits"]["absolute"]


def test_images_proxy(api, image_id):
    images = api("GET", "/images").json()["images"]
    assert image_id in {i["id"] for i in images}
    detail = api("GET", "/images/detail").json()["images"][0]
    assert detail["status"] == "ACTIVE" and detail["OS-EXT-IMG-SIZE:size"] > 0
    assert api("GET", f"/images/{image_id}").json()["image"]["id"] == image_id
    assert api("GET", "/images/11111111-2222-3333-4444-555555555555").status_code == 404
    assert api("GET", "/images", version="2.36").status_code == 404
