"""Asking for a host: a server's ``host`` / ``hypervisor_hostname`` at 2.74
(validated, the filters still judge it) and the ``zone:host:node`` form of
its availability zone (an admin's forced host, no filters)."""
import pytest

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests.functional.test_servers import boot


@pytest.fixture(scope="module")
def cloud():
    with Cloud(hosts=3) as c:
        yield c


@pytest.fixture(scope="module")
def image(cloud):
    return first_image_id(cloud)


@pytest.fixture(scope="module")
def nodes(cloud):
    """{host: hypervisor hostname} of the cloud's compute hosts."""
    hvs = api_request(cloud, "GET", "/os-hypervisors/detail").json()["hypervisors"]
    return {h["service"]["host"]: h["hypervisor_hostname"] for h in hvs}


def _api(cloud):
    return lambda m, p, **kw: api_request(cloud, m, p, **kw)


def _host_of(cloud, sid):
    server = wait_for_server(cloud, sid)
    assert server["status"] == "ACTIVE", server
    return server["OS-EXT-SRV-ATTR:host"]


def test_a_requested_host_is_where_the_server_lands(cloud, image, nodes):
    for host in sorted(nodes):
        sid = boot(_api(cloud), image, name=f"on-{host}", version="2.74", host=host,
                   networks="auto")
        assert _host_of(cloud, sid) == host


def test_a_requested_node_alone_is_enough(cloud, image, nodes):
    host = sorted(nodes)[-1]
    sid = boot(_api(cloud), image, name="by-node", version="2.74",
               hypervisor_hostname=nodes[host], networks="auto")
    assert _host_of(cloud, sid) == host


@pytest.mark.parametrize("fields,named", [
    ({"host": "no-such-host"}, "no-such-host"),
    ({"hypervisor_hostname": "no-such-node"}, "no-such-node"),
])
def test_an_unknown_host_or_node_is_a_400_naming_it(cloud, image, fields, named):
    before = len(api_request(cloud, "GET", "/servers").json()["servers"])
    body = {"server": {"name": "x", "imageRef": image, "flavorRef": "1", "networks": "auto",
                       **fields}}
    resp = api_request(cloud, "POST", "/servers", body=body, version="2.74")
    assert resp.status_code == 400, resp.text
    assert resp.json()["badRequest"]["message"] == f"Compute host {named} could not be found."
    assert len(api_request(cloud, "GET", "/servers").json()["servers"]) == before


def test_a_host_with_a_node_it_does_not_have_is_a_400(cloud, image, nodes):
    a, b = sorted(nodes)[:2]
    body = {"server": {"name": "x", "imageRef": image, "flavorRef": "1", "host": a,
                       "hypervisor_hostname": nodes[b], "networks": "auto"}}
    resp = api_request(cloud, "POST", "/servers", body=body, version="2.74")
    assert resp.status_code == 400 and "could not be found" in resp.text


def test_requesting_a_host_is_for_admins_and_from_274(cloud, image, nodes):
    host = sorted(nodes)[0]
    body = {"server": {"name": "x", "imageRef": image, "flavorRef": "1", "host": host,
                       "networks": "auto"}}
    resp = api_request(cloud, "POST", "/servers", body=body, version="2.74",
                       token="demo:demo")
    assert resp.status_code == 403, resp.text
    resp = api_request(cloud, "POST", "/servers", body=body, version="2.73")
    assert resp.status_code == 400 and "'host' was unexpected" in resp.text


def test_a_forced_host_lands_there(cloud, image, nodes):
    host = sorted(nodes)[1]
    sid = boot(_api(cloud), image, name="forced", availability_zone=f"nova:{host}")
    assert _host_of(cloud, sid) == host
    sid = boot(_api(cloud), image, name="forced-node",
               availability_zone=f"nova::{nodes[host]}")
    assert _host_of(cloud, sid) == host


def test_a_requested_host_that_is_down_is_no_valid_host(cloud, image, nodes):
    host = sorted(nodes)[2]
    cloud.stop_host(host)
    try:
        sid = boot(_api(cloud), image, name="down", version="2.74", host=host,
                   networks="auto")
        server = wait_for_server(cloud, sid)
        assert server["status"] == "ERROR"
        assert server["fault"]["message"].startswith("No valid host was found")
    finally:
        cloud.start_host(host)


@pytest.mark.parametrize("zone,message", [
    ("elsewhere", "The requested availability zone is not available"),
    ("nova:a:b:c", "Invalid input received: Unable to parse availability_zone"),
])
def test_an_unknown_or_unreadable_zone_is_a_400(cloud, image, zone, message):
    body = {"server": {"name": "x", "imageRef": image, "flavorRef": "1",
                       "availability_zone": zone}}
    resp = api_request(cloud, "POST", "/servers", body=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["badRequest"]["message"] == message


def test_the_default_zone_is_available(cloud, image):
    sid = boot(_api(cloud), image, name="in-nova", availability_zone="nova")
    server = wait_for_server(cloud, sid)
    assert server["status"] == "ACTIVE" and server["OS-EXT-AZ:availability_zone"] == "nova"


def test_a_forced_host_is_not_held_to_its_zone(cloud, image, nodes):
    # As in Nova: the zone of a forced host is not checked, the filters skipped.
    host = sorted(nodes)[0]
    sid = boot(_api(cloud), image, name="forced-zone", availability_zone=f"other:{host}")
    assert _host_of(cloud, sid) == host
