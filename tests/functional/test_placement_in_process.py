"""[aio] placement_in_process: the embedded services call placement's WSGI
pipeline in the process; its HTTP endpoint still serves outside clients,
and with the option off every call goes over HTTP."""
import json

import pytest
import requests

from compute_core import Cloud
from compute_core.placement_client.client import PlacementClient
from compute_core.testing import api_request, first_image_id, wait_for_server

BIG = {"vcpus": 64, "memory_mb": 65536, "disk_gb": 1000}


def _boot(cloud):
    image = first_image_id(cloud)
    resp = api_request(cloud, "POST", "/servers", version="2.37", body={"server": {
        "name": "p", "imageRef": image, "flavorRef": "1", "networks": "none"}})
    assert resp.status_code == 202, resp.text
    server = wait_for_server(cloud, resp.json()["server"]["id"])
    assert server["status"] == "ACTIVE", server
    return server["id"]


def _allocations_over_http(cloud, consumer):
    resp = requests.get(f"{cloud.placement_url}/allocations/{consumer}", timeout=10,
                        headers={"X-Auth-Token": "admin", "OpenStack-API-Version":
                                 "placement 1.28"})
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.mark.parametrize("in_process", [True, False])
def test_boot_and_delete_either_way(tmp_path, in_process):
    with Cloud(state_dir=str(tmp_path), hosts=1, host_resources=BIG, compute_port=0,
               placement_port=0,
               overrides={"aio.placement_in_process": in_process}) as cloud:
        client = cloud.scheduler.driver.placement
        assert (client._app is not None) is in_process
        server = _boot(cloud)
        held = _allocations_over_http(cloud, server)["allocations"]
        assert [r["resources"] for r in held.values()] == [
            {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}]
        assert api_request(cloud, "DELETE", f"/servers/{server}").status_code == 204
        wait_for_server(cloud, server, statuses=("DELETED",))
        assert _allocations_over_http(cloud, server)["allocations"] == {}


def test_in_process_answers_are_the_http_answers(compute_cloud):
    local = PlacementClient(compute_cloud.conf, app=compute_cloud._placement_app)
    remote = PlacementClient(compute_cloud.conf, endpoint=compute_cloud.placement_url)
    try:
        cases = [
            ("GET", "/resource_providers", None, None),
            ("GET", "/resource_providers", None, {"name": "no-such-provider"}),
            ("GET", "/resource_providers/00000000-0000-0000-0000-000000000000", None, None),
            ("GET", "/allocation_candidates", None, {"resources": "VCPU:x"}),
            ("GET", "/allocation_candidates", None, {"resources": "VCPU:1", "limit": "2"}),
            ("PUT", "/allocations/00000000-0000-0000-0000-000000000001",
             {"allocations": "wrong"}, None),
        ]
        for method, path, body, params in cases:
            a = local.request(method, path, json=body, params=params)
            b = remote.request(method, path, json=body, params=params)
            assert a.status_code == b.status_code, (path, a.text, b.text)
            ja, jb = json.loads(a.text), b.json()
            assert a.json() == ja
            if a.status_code >= 400:
                for err in ja["errors"] + jb["errors"]:
                    err.pop("request_id", None)
            assert ja == jb, path
    finally:
        local.close()
        remote.close()
