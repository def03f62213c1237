"""os-hypervisors beyond the listings: statistics, uptime, search and
servers (before 2.53), with_servers and pages (from 2.33 / 2.53), checked
against tempest's schemas."""
from compute_core.testing import wait_for_server
from tests import tempest_schemas


def test_statistics_and_uptime(api):
    stats = tempest_schemas.check(api("GET", "/os-hypervisors/statistics"), "hypervisor",
                                  "get_hypervisor_statistics")["hypervisor_statistics"]
    nodes = api("GET", "/os-hypervisors/detail").json()["hypervisors"]
    assert stats["count"] == len(nodes) and stats["vcpus"] == sum(n["vcpus"] for n in nodes)
    assert api("GET", "/os-hypervisors/statistics", version="2.88").status_code == 404
    hid = nodes[0]["id"]
    body = tempest_schemas.check(api("GET", f"/os-hypervisors/{hid}/uptime"), "hypervisor",
                                 "get_hypervisor_uptime")
    assert " up " in body["hypervisor"]["uptime"]
    assert api("GET", f"/os-hypervisors/{hid}/uptime", version="2.88").status_code == 404
    new = api("GET", "/os-hypervisors/detail", version="2.88").json()["hypervisors"]
    assert " up " in new[0]["uptime"] and "vcpus" not in new[0]
    assert api("GET", "/os-hypervisors/statistics", token="demo:demo").status_code == 403


def test_search_and_servers_before_2_53(compute_cloud, api, image_id):
    sid = api("POST", "/servers", body={"server": {"name": "on-hv", "imageRef": image_id,
                                                   "flavorRef": "1"}}).json()["server"]["id"]
    host = wait_for_server(compute_cloud, sid)["OS-EXT-SRV-ATTR:hypervisor_hostname"]
    try:
        found = tempest_schemas.check(api("GET", f"/os-hypervisors/{host}/search"),
                                      "hypervisor", "list_search_hypervisors")["hypervisors"]
        assert [h["hypervisor_hostname"] for h in found] == [host]
        body = tempest_schemas.check(api("GET", f"/os-hypervisors/{host}/servers"),
                                     "hypervisor", "get_hypervisors_servers")
        assert sid in [s["uuid"] for s in body["hypervisors"][0]["servers"]]
        assert api("GET", "/os-hypervisors/nomatch/search").status_code == 404
        assert api("GET", f"/os-hypervisors/{host}/search", version="2.53").status_code == 404
        # from 2.53: query parameters instead
        listed = api("GET", f"/os-hypervisors?hypervisor_hostname_pattern={host}"
                            "&with_servers=true", version="2.53").json()["hypervisors"]
        assert sid in [s["uuid"] for s in listed[0]["servers"]]
        shown = api("GET", f"/os-hypervisors/{listed[0]['id']}?with_servers=1",
                    version="2.53").json()["hypervisor"]
        assert sid in [s["uuid"] for s in shown["servers"]]
        assert api("GET", "/os-hypervisors?with_servers=maybe",
                   version="2.53").status_code == 400
    finally:
        api("DELETE", f"/servers/{sid}")


def test_pages_from_2_33(api):
    everyone = api("GET", "/os-hypervisors", version="2.33").json()["hypervisors"]
    if len(everyone) < 2:
        return  # one host: nothing to page (the session cloud has two)
    first = api("GET", "/os-hypervisors?limit=1", version="2.33").json()
    assert first["hypervisors"] == everyone[:1] and "hypervisors_links" in first
    rest = api("GET", f"/os-hypervisors?limit=10&marker={everyone[0]['id']}",
               version="2.33").json()
    assert rest["hypervisors"] == everyone[1:]
    assert api("GET", "/os-hypervisors?marker=999999", version="2.33").status_code == 400
    assert api("GET", "/os-hypervisors?limit=-1", version="2.33").status_code == 400
