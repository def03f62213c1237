"""GET /openapi.json on both APIs: no token needed, the version asked."""
import requests

from compute_core import openapi


def _root(cloud):
    return cloud.compute_url.rsplit("/v2.1", 1)[0]


def test_compute_document_served_without_token(compute_cloud):
    for url in (_root(compute_cloud) + "/openapi.json", compute_cloud.compute_url + "/openapi.json"):
        resp = requests.get(url, timeout=30)
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        assert doc["info"]["version"] == "2.104"
        assert doc["servers"] == [{"url": compute_cloud.compute_url}]
        assert doc["paths"] == openapi.document("compute")["paths"]


def test_compute_document_of_the_version_asked(compute_cloud):
    url = compute_cloud.compute_url + "/openapi.json"
    resp = requests.get(url, headers={"OpenStack-API-Version": "compute 2.35"}, timeout=30)
    assert resp.json()["info"]["version"] == "2.35" and "/images" in resp.json()["paths"]
    resp = requests.get(url, headers={"OpenStack-API-Version": "compute 2.105"}, timeout=30)
    assert resp.status_code == 406 and resp.json()["computeFault"]["code"] == 406
    resp = requests.get(url, headers={"OpenStack-API-Version": "compute two"}, timeout=30)
    assert resp.status_code == 400 and "badRequest" in resp.json()


def test_placement_document_served_without_token(compute_cloud):
    url = compute_cloud.placement_url + "/openapi.json"
    resp = requests.get(url, headers={"OpenStack-API-Version": "placement 1.20"}, timeout=30)
    assert resp.status_code == 200
    assert resp.json()["info"]["version"] == "1.20"
    assert resp.json()["paths"] == openapi.document("placement", "1.20")["paths"]
    resp = requests.get(url, headers={"OpenStack-API-Version": "placement 1.40"}, timeout=30)
    assert resp.status_code == 406 and resp.json()["errors"][0]["status"] == 406
    # the rest of placement still wants a token
    assert requests.get(compute_cloud.placement_url + "/resource_providers",
                        timeout=30).status_code == 401
