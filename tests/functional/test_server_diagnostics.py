"""/servers/{id}/diagnostics through the HTTP API: the host driver's answer
in the standard shape from 2.48 and the flat one before."""
from compute_core.testing import wait_for_server
from tests import tempest_schemas


def test_diagnostics(compute_cloud, api, image_id):
    sid = api("POST", "/servers", body={"server": {"name": "diag", "imageRef": image_id,
                                                   "flavorRef": "1"}}).json()["server"]["id"]
    wait_for_server(compute_cloud, sid)
    try:
        body = tempest_schemas.check(api("GET", f"/servers/{sid}/diagnostics", version="2.48"),
                                     "servers", "show_server_diagnostics", "2.48")
        assert body["state"] == "running" and body["num_cpus"] == 1
        assert body["memory_details"]["maximum"] == 512
        old = api("GET", f"/servers/{sid}/diagnostics").json()
        assert old["cpu0_time"] == 0 and old["memory"] == 512 and "vda_read" in old
        assert api("GET", f"/servers/{sid}/diagnostics", token="demo:demo").status_code in \
            (403, 404)
        assert api("GET", "/servers/00000000-0000-0000-0000-000000000000/diagnostics"
                   ).status_code == 404
    finally:
        api("DELETE", f"/servers/{sid}")
