"""os-simple-tenant-usage through the HTTP API: hours counted from launch
and termination, deleted servers included, pages from 2.40, checked against
tempest's schemas."""
import datetime

from compute_core.testing import wait_for_server
from tests import tempest_schemas

TOKEN = "usage-user:usage-project"


def test_usage_of_a_project(compute_cloud, api, image_id):
    start = (datetime.datetime.utcnow() - datetime.timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%S")
    ids = []
    for name in ("u1", "u2", "u3"):
        resp = api("POST", "/servers", token=TOKEN, body={"server": {
            "name": name, "imageRef": image_id, "flavorRef": "1"}})
        ids.append(resp.json()["server"]["id"])
        wait_for_server(compute_cloud, ids[-1], token=TOKEN)
    api("DELETE", f"/servers/{ids[0]}", token=TOKEN)
    wait_for_server(compute_cloud, ids[0], ("DELETED",), token=TOKEN)
    end = (datetime.datetime.utcnow() + datetime.timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%S")
    query = f"start={start}&end={end}"
    body = tempest_schemas.check(api("GET", f"/os-simple-tenant-usage/usage-project?{query}",
                                     token=TOKEN), "tenant_usages", "get_tenant_usage")
    usage = body["tenant_usage"]
    assert {s["instance_id"] for s in usage["server_usages"]} == set(ids)
    states = {s["instance_id"]: s["state"] for s in usage["server_usages"]}
    assert states[ids[0]] == "terminated" and states[ids[1]] == "active"
    assert usage["total_hours"] > 0 and usage["total_vcpus_usage"] > 0
    listed = tempest_schemas.check(api("GET", f"/os-simple-tenant-usage?{query}&detailed=1"),
                                   "tenant_usages", "list_tenant_usage")
    mine = [u for u in listed["tenant_usages"] if u["tenant_id"] == "usage-project"]
    assert len(mine) == 1 and len(mine[0]["server_usages"]) == 3
    brief = api("GET", f"/os-simple-tenant-usage?{query}").json()["tenant_usages"]
    assert all("server_usages" not in u for u in brief)
    # pages of servers from 2.40
    page = api("GET", f"/os-simple-tenant-usage/usage-project?{query}&limit=2",
               token=TOKEN, version="2.40").json()
    assert len(page["tenant_usage"]["server_usages"]) == 2 and "tenant_usage_links" in page
    last = page["tenant_usage"]["server_usages"][-1]["instance_id"]
    rest = api("GET", f"/os-simple-tenant-usage/usage-project?{query}&limit=2&marker={last}",
               token=TOKEN, version="2.40").json()
    assert len(rest["tenant_usage"]["server_usages"]) == 1
    # a period before everything is empty
    assert api("GET", "/os-simple-tenant-usage/usage-project?start=2001-01-01T00:00:00"
                      "&end=2001-01-02T00:00:00", token=TOKEN).json() == {"tenant_usage": {}}
    for path in ("/os-simple-tenant-usage?start=yesterday",
                 f"/os-simple-tenant-usage?start={end}&end={start}",
                 "/os-simple-tenant-usage?marker=nope&limit=1"):
        version = "2.40" if "marker" in path else "2.1"
        assert api("GET", path, version=version).status_code == 400, path
    assert api("GET", "/os-simple-tenant-usage", token=TOKEN).status_code == 403
    assert api("GET", "/os-simple-tenant-usage/other", token=TOKEN).status_code == 403
    for sid in ids[1:]:
        api("DELETE", f"/servers/{sid}", token=TOKEN)
