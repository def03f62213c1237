"""Multi-create through the API: every instance of a min_count request obeys
the filters that run once per request (Nova keeps, for instances 2..N, the
hosts the first instance's run of such a filter left)."""
import pytest

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server


@pytest.fixture
def three_hosts():
    overrides = {"quota.instances": -1, "quota.cores": -1, "quota.ram": -1,
                 "filter_scheduler.host_subset_size": 1,
                 "filter_scheduler.enabled_filters": [
                     "ComputeFilter", "SameHostFilter", "DifferentHostFilter",
                     "IsolatedHostsFilter"],
                 "filter_scheduler.isolated_hosts": ["host1"],
                 "filter_scheduler.isolated_images": ["not-this-image"]}
    with Cloud(hosts=3, overrides=overrides) as cloud:
        yield cloud


def _hosts_of(cloud, body):
    resp = api_request(cloud, "POST", "/servers", body=body, version="2.1")
    assert resp.status_code == 202, resp.text
    rid = resp.json()["reservation_id"]
    listed = api_request(cloud, "GET", f"/servers?reservation_id={rid}").json()["servers"]
    servers = [wait_for_server(cloud, s["id"]) for s in listed]
    assert [s["status"] for s in servers] == ["ACTIVE"] * len(servers)
    return sorted(s["OS-EXT-SRV-ATTR:host"] for s in servers)


def _create(cloud, name, count, image, hints=None):
    body = {"server": {"name": name, "imageRef": image, "flavorRef": "1",
                       "min_count": count, "return_reservation_id": True}}
    if hints:
        body["os:scheduler_hints"] = hints
    return _hosts_of(cloud, body)


def _one(cloud, image):
    resp = api_request(cloud, "POST", "/servers", body={"server": {
        "name": "anchor", "imageRef": image, "flavorRef": "1"}})
    return wait_for_server(cloud, resp.json()["server"]["id"])


def test_isolated_hosts_hold_for_every_instance(three_hosts):
    # host1 takes only isolated images: none of the five lands there.
    image = first_image_id(three_hosts)
    assert "host1" not in _create(three_hosts, "iso", 5, image)


def test_different_host_holds_for_every_instance(three_hosts):
    image = first_image_id(three_hosts)
    anchor = _one(three_hosts, image)
    hosts = _create(three_hosts, "apart", 4, image, {"different_host": [anchor["id"]]})
    assert anchor["OS-EXT-SRV-ATTR:host"] not in hosts, hosts


def test_same_host_holds_for_every_instance(three_hosts):
    image = first_image_id(three_hosts)
    anchor = _one(three_hosts, image)
    hosts = _create(three_hosts, "beside", 4, image, {"same_host": [anchor["id"]]})
    assert hosts == [anchor["OS-EXT-SRV-ATTR:host"]] * 4
