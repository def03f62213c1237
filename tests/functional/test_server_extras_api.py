"""Server external events, the server password and the usage audit log
through the HTTP API, against tempest's schemas."""
import uuid

from compute_core.testing import wait_for_server
from tests import tempest_schemas


def _server(compute_cloud, api, image_id, token=None):
    sid = api("POST", "/servers", token=token, body={"server": {
        "name": "extra", "imageRef": image_id, "flavorRef": "1"}}).json()["server"]["id"]
    wait_for_server(compute_cloud, sid, token=token)
    return sid


def test_external_events(compute_cloud, api, image_id):
    sid = _server(compute_cloud, api, image_id)
    try:
        body = tempest_schemas.check(api("POST", "/os-server-external-events", body={"events": [
            {"name": "network-changed", "server_uuid": sid, "tag": "port-1"}]}),
            "server_external_events", "create")
        assert body["events"][0]["code"] == 200 and body["events"][0]["status"] == "completed"
        missing = str(uuid.uuid4())
        resp = api("POST", "/os-server-external-events", body={"events": [
            {"name": "network-vif-plugged", "server_uuid": sid},
            {"name": "network-vif-plugged", "server_uuid": missing}]})
        assert resp.status_code == 207
        assert [e["code"] for e in resp.json()["events"]] == [200, 404]
        assert api("POST", "/os-server-external-events", body={"events": [
            {"name": "network-changed", "server_uuid": missing}]}).status_code == 404
        # names by version
        volume = {"events": [{"name": "volume-extended", "server_uuid": sid}]}
        assert api("POST", "/os-server-external-events", body=volume,
                   version="2.50").status_code == 400
        assert api("POST", "/os-server-external-events", body=volume,
                   version="2.51").status_code == 200
        power = {"events": [{"name": "power-update", "server_uuid": sid, "tag": "SIDEWAYS"}]}
        resp = api("POST", "/os-server-external-events", body=power, version="2.76")
        assert resp.status_code == 207 and resp.json()["events"][0]["code"] == 400
        for bad in [{"events": []}, {"events": [{"name": "x", "server_uuid": sid}]},
                    {"events": [{"name": "network-changed", "server_uuid": "no"}]}]:
            assert api("POST", "/os-server-external-events", body=bad).status_code == 400
        assert api("POST", "/os-server-external-events", body=volume,
                   token="demo:demo").status_code == 403
    finally:
        api("DELETE", f"/servers/{sid}")


def test_server_password(compute_cloud, api, image_id):
    sid = _server(compute_cloud, api, image_id, token="pw:pw-project")
    try:
        path = f"/servers/{sid}/os-server-password"
        assert api("GET", path, token="pw:pw-project").json() == {"password": ""}
        # what the metadata service stores when the guest posts its password
        from compute_core.db import cell_db

        _, db = compute_cloud._api.cells.for_instance(sid)
        sysmeta = cell_db.get_instance(db, sid)["system_metadata"] or {}
        cell_db.update_instance(db, sid, {"system_metadata": dict(sysmeta, password="c2VjcmV0")})
        assert api("GET", path, token="pw:pw-project").json() == {"password": "c2VjcmV0"}
        assert api("GET", path, token="other:elsewhere").status_code == 404
        assert api("DELETE", path, token="pw:pw-project").status_code == 204
        assert api("GET", path, token="pw:pw-project").json() == {"password": ""}
    finally:
        api("DELETE", f"/servers/{sid}")


def test_usage_audit_log(api):
    body = tempest_schemas.check(api("GET", "/os-instance_usage_audit_log"),
                                 "instance_usage_audit_log",
                                 "list_instance_usage_audit_log")["instance_usage_audit_logs"]
    assert body["num_hosts"] == body["num_hosts_not_run"] >= 1
    body = tempest_schemas.check(api("GET", "/os-instance_usage_audit_log/2026-03-15 10:00:00"),
                                 "instance_usage_audit_log", "get_instance_usage_audit_log")
    log = body["instance_usage_audit_log"]
    assert (log["period_beginning"], log["period_ending"]) == ("2026-02-01 00:00:00",
                                                                "2026-03-01 00:00:00")
    assert api("GET", "/os-instance_usage_audit_log/not-a-time").status_code == 400
    assert api("GET", "/os-instance_usage_audit_log", token="demo:demo").status_code == 403
