"""os-services changes: enable, disable (with a reason), force down (by
host and binary before 2.53, by uuid from 2.53), delete; checked against
tempest's schemas, and the scheduler seeing a disabled host."""
import pytest

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas


@pytest.fixture(scope="module")
def cloud():
    with Cloud(hosts=2, overrides={"filter_scheduler.host_subset_size": 1}) as cloud:
        yield cloud


def call(cloud, method, path, **kw):
    return api_request(cloud, method, path, **kw)


def _compute(cloud, host, version="2.53"):
    services = call(cloud, "GET", f"/os-services?binary=nova-compute&host={host}",
                    version=version).json()["services"]
    return services[0]


def test_by_host_and_binary_before_2_53(cloud):
    hb = {"host": "host2", "binary": "nova-compute"}
    body = tempest_schemas.check(call(cloud, "PUT", "/os-services/disable-log-reason",
                                      body=dict(hb, disabled_reason="maintenance")),
                                 "services", "disable_log_reason")
    assert body["service"]["status"] == "disabled"
    svc = _compute(cloud, "host2", "2.1")
    assert (svc["status"], svc["disabled_reason"]) == ("disabled", "maintenance")
    tempest_schemas.check(call(cloud, "PUT", "/os-services/enable", body=hb), "services",
                          "enable_disable_service")
    tempest_schemas.check(call(cloud, "PUT", "/os-services/disable", body=hb), "services",
                          "enable_disable_service")
    call(cloud, "PUT", "/os-services/enable", body=hb)
    assert _compute(cloud, "host2", "2.1")["status"] == "enabled"
    assert call(cloud, "PUT", "/os-services/force-down", body=dict(hb, forced_down=True),
                version="2.10").status_code == 404
    body = tempest_schemas.check(call(cloud, "PUT", "/os-services/force-down", version="2.11",
                                      body=dict(hb, forced_down=True)), "services",
                                 "update_forced_down", "2.11")
    assert _compute(cloud, "host2", "2.11")["forced_down"] is True
    assert _compute(cloud, "host2", "2.11")["state"] == "down"
    call(cloud, "PUT", "/os-services/force-down", version="2.11",
         body=dict(hb, forced_down=False))
    for path, body in [("/os-services/enable", {"host": "nohost", "binary": "nova-compute"}),
                       ("/os-services/bogus", hb)]:
        assert call(cloud, "PUT", path, body=body).status_code == 404
    assert call(cloud, "PUT", "/os-services/enable", body={"host": "host2"}).status_code == 400
    assert call(cloud, "PUT", "/os-services/enable", body=hb, token="u:p").status_code == 403


def test_by_uuid_from_2_53_and_the_scheduler_sees_it(cloud):
    svc = _compute(cloud, "host1")
    path = f"/os-services/{svc['id']}"
    body = tempest_schemas.check(call(cloud, "PUT", path, version="2.53", body={
        "status": "disabled", "disabled_reason": "drain"}), "services", "update_service", "2.53")
    assert body["service"]["status"] == "disabled"
    # every new server goes to host2 now
    resp = call(cloud, "POST", "/servers", body={"server": {
        "name": "s", "imageRef": first_image_id(cloud), "flavorRef": "1", "min_count": 3}})
    assert resp.status_code == 202
    listed = call(cloud, "GET", "/servers/detail").json()["servers"]
    hosts = {wait_for_server(cloud, s["id"])["OS-EXT-SRV-ATTR:host"] for s in listed}
    assert hosts == {"host2"}
    call(cloud, "PUT", path, version="2.53", body={"status": "enabled"})
    for body in [{}, {"status": "enabled", "disabled_reason": "x"}, {"status": "off"},
                 {"host": "x"}]:
        assert call(cloud, "PUT", path, body=body, version="2.53").status_code == 400, body
    assert call(cloud, "PUT", "/os-services/not-a-uuid", body={"status": "enabled"},
                version="2.53").status_code == 400
    assert call(cloud, "PUT", "/os-services/00000000-0000-0000-0000-000000000001",
                body={"status": "enabled"}, version="2.53").status_code == 404
    conductor = call(cloud, "GET", "/os-services?binary=nova-conductor",
                     version="2.53").json()["services"]
    if conductor:
        assert call(cloud, "PUT", f"/os-services/{conductor[0]['id']}", version="2.53",
                    body={"forced_down": True}).status_code == 400
    # a host with servers cannot be deleted
    resp = call(cloud, "DELETE", f"/os-services/{_compute(cloud, 'host2')['id']}",
                version="2.53")
    assert resp.status_code == 409
    for s in listed:
        call(cloud, "DELETE", f"/servers/{s['id']}")


def test_delete_an_empty_compute_service(cloud):
    cloud.add_host("host9")
    svc = _compute(cloud, "host9")
    import requests

    def providers():
        return [p["name"] for p in requests.get(
            cloud.placement_url + "/resource_providers",
            headers={"X-Auth-Token": cloud.admin_token,
                     "OpenStack-API-Version": "placement 1.14"}).json()["resource_providers"]]

    assert "host9" in providers()
    assert call(cloud, "DELETE", f"/os-services/{svc['id']}", version="2.53").status_code == 204
    assert call(cloud, "GET", "/os-services?host=host9").json()["services"] == []
    nodes = call(cloud, "GET", "/os-hypervisors").json()["hypervisors"]
    assert "host9" not in [n["hypervisor_hostname"] for n in nodes]
    assert "host9" not in providers()
    assert call(cloud, "DELETE", f"/os-services/{svc['id']}", version="2.53").status_code == 404
