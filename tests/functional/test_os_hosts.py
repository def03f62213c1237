"""/os-hosts (before 2.43) through the HTTP API, against tempest's schemas."""
from compute_core.testing import wait_for_server
from tests import tempest_schemas


def test_hosts(compute_cloud, api, image_id):
    listed = tempest_schemas.check(api("GET", "/os-hosts"), "hosts", "list_hosts")["hosts"]
    computes = [h for h in listed if h["service"] == "compute"]
    assert computes and all(h["zone"] == "nova" for h in computes)
    assert api("GET", "/os-hosts", version="2.43").status_code == 404
    assert api("GET", "/os-hosts?zone=nowhere").json()["hosts"] == []
    sid = api("POST", "/servers", token="h:hosts-project", body={"server": {
        "name": "on-host", "imageRef": image_id, "flavorRef": "1"}}).json()["server"]["id"]
    host = wait_for_server(compute_cloud, sid)["OS-EXT-SRV-ATTR:host"]
    try:
        body = tempest_schemas.check(api("GET", f"/os-hosts/{host}"), "hosts",
                                     "get_host_detail")
        projects = {r["resource"]["project"]: r["resource"] for r in body["host"]}
        assert {"(total)", "(used_now)", "(used_max)", "hosts-project"} <= set(projects)
        assert projects["hosts-project"]["cpu"] >= 1
        assert api("GET", "/os-hosts/nohost").status_code == 404
        body = tempest_schemas.check(api("PUT", f"/os-hosts/{host}",
                                         body={"status": "disable"}), "hosts", "update_host")
        assert body == {"host": host, "status": "disabled"}
        assert host not in [h["host_name"] for h in api("GET", "/os-hosts").json()["hosts"]]
        api("PUT", f"/os-hosts/{host}", body={"status": "enable"})
        assert host in [h["host_name"] for h in api("GET", "/os-hosts").json()["hosts"]]
        for body in [{}, {"status": "maybe"}, {"other": "x"}]:
            assert api("PUT", f"/os-hosts/{host}", body=body).status_code == 400, body
        assert api("GET", "/os-hosts", token="demo:demo").status_code == 403
    finally:
        api("DELETE", f"/servers/{sid}")


def test_host_power_and_maintenance(api):
    host = [h for h in api("GET", "/os-hosts").json()["hosts"]
            if h["service"] == "compute"][0]["host_name"]
    for action, schema in (("startup", "startup_host"), ("shutdown", "shutdown_host"),
                           ("reboot", "reboot_host")):
        body = tempest_schemas.check(api("GET", f"/os-hosts/{host}/{action}"), "hosts", schema)
        assert body == {"host": host, "power_action": action}
    body = tempest_schemas.check(api("PUT", f"/os-hosts/{host}",
                                     body={"maintenance_mode": "enable"}), "hosts",
                                 "update_host")
    assert body == {"host": host, "maintenance_mode": "on_maintenance"}
    assert api("PUT", f"/os-hosts/{host}", body={"maintenance_mode": "disable"}).json()[
        "maintenance_mode"] == "off_maintenance"
    assert api("GET", "/os-hosts/nohost/reboot").status_code == 404
    assert api("GET", f"/os-hosts/{host}/reboot", version="2.43").status_code == 404
