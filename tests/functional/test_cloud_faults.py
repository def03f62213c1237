"""Scoped, seeded fault injection (issue 24 item 6) and the call log
(item 7), from Python and from the REST control API."""
import random
import time

import pytest
import requests

from compute_core import Cloud, exception
from compute_core.testing import api_request, first_image_id, wait_for_server


def _boot(cloud, name, **extra):
    body = {"server": {"name": name, "imageRef": first_image_id(cloud), "flavorRef": "1",
                       **extra}}
    resp = api_request(cloud, "POST", "/servers", body=body)
    assert resp.status_code == 202, resp.text
    return resp.json()["server"]["id"]


@pytest.fixture(scope="module")
def seeded():
    with Cloud(hosts=1, control_api=True) as cloud:
        with cloud.snapshot() as snap:
            yield cloud, snap


@pytest.fixture
def cloud(seeded):
    cloud, snap = seeded
    cloud.restore(snap)
    return cloud


def test_spawn_fault_by_name(cloud):
    rule = cloud.faults.add(operation="spawn", match={"name": "web-.*"},
                            message="disk on fire")
    web, db = _boot(cloud, "web-1"), _boot(cloud, "db-1")
    failed = wait_for_server(cloud, web)
    assert failed["status"] == "ERROR" and "disk on fire" in failed["fault"]["message"]
    assert wait_for_server(cloud, db)["status"] == "ACTIVE"    # no match
    assert rule.fired == 1
    assert [(e["operation"], e["target"]) for e in cloud.faults.log] == [("spawn", web)]


def test_count_and_host_matcher():
    # Two hosts: a build whose spawn fails is rescheduled to the other one.
    with Cloud(hosts=2) as cloud:
        rule = cloud.faults.add(operation="spawn", match={"host": "host1"}, count=1)
        sids = [_boot(cloud, f"s-{i}") for i in range(4)]
        assert {wait_for_server(cloud, s)["status"] for s in sids} == {"ACTIVE"}
        assert rule.fired == 1
        retried = cloud.faults.log[0]["target"]
        server = api_request(cloud, "GET", f"/servers/{retried}").json()["server"]
        assert server["OS-EXT-SRV-ATTR:host"] == "host2"
        # Resize steps are operations too.
        cloud.faults.add(operation="migrate_disk_and_power_off")
        resp = api_request(cloud, "POST", f"/servers/{sids[0]}/action",
                           body={"resize": {"flavorRef": "2"}})
        assert resp.status_code == 202, resp.text
        server = wait_for_server(cloud, sids[0], ("ERROR",))
        assert "Injected migrate_disk_and_power_off fault" in server["fault"]["message"]


def test_probability_is_reproducible_with_a_seed(cloud):
    cloud.faults.add(operation="spawn", probability=0.5, seed=42)
    failed = []
    for i in range(8):
        sid = _boot(cloud, f"p-{i}")
        failed.append(wait_for_server(cloud, sid)["status"] == "ERROR")
    draws = random.Random(42)
    assert failed == [draws.random() < 0.5 for _ in range(8)]


def test_metadata_and_delete_alias(cloud):
    cloud.faults.add(operation="delete", match={"metadata": {"tier": "db"}})
    keep = _boot(cloud, "db", metadata={"tier": "db"})
    gone = _boot(cloud, "web", metadata={"tier": "web"})
    for sid in (keep, gone):
        wait_for_server(cloud, sid)
        api_request(cloud, "DELETE", f"/servers/{sid}")
    assert wait_for_server(cloud, gone, ("DELETED",))["status"] == "DELETED"
    assert wait_for_server(cloud, keep, ("ERROR",))["status"] == "ERROR"
    assert cloud.faults.log[0]["operation"] == "destroy"


def test_api_route_error_and_error_but_do_it(cloud):
    cloud.faults.add(operation="compute:POST /servers", count=1)
    resp = api_request(cloud, "POST", "/servers", body={"server": {
        "name": "never", "imageRef": first_image_id(cloud), "flavorRef": "1"}})
    assert resp.status_code == 500 and "computeFault" in resp.json()
    assert api_request(cloud, "GET", "/servers").json()["servers"] == []

    sid = _boot(cloud, "deleted-anyway")
    wait_for_server(cloud, sid)
    cloud.faults.add(operation="compute:DELETE /servers/{server_id}", mode="error-but-do-it")
    assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 500
    assert wait_for_server(cloud, sid, ("DELETED",))["status"] == "DELETED"


def test_added_latency(cloud):
    cloud.faults.add(operation="compute:GET /flavors", latency=0.3, mode="error", count=1)
    t0 = time.perf_counter()
    assert api_request(cloud, "GET", "/flavors").status_code == 500
    assert time.perf_counter() - t0 >= 0.3
    assert cloud.calls(route="/flavors")[-1].status == 500


def test_bad_rules_are_refused(cloud):
    for kwargs in ({"operation": ""}, {"operation": "spawn", "match": {"colour": "x"}},
                   {"operation": "spawn", "match": {"name": "("}},
                   {"operation": "spawn", "count": 0}, {"operation": "spawn", "mode": "x"},
                   {"operation": "spawn", "probability": 2},
                   # a metadata matcher is {key: regex}: a bare regex would
                   # break the matching of every later spawn
                   {"operation": "spawn", "match": {"metadata": "x"}},
                   {"operation": "rpc:compute.build_and_run_instance",
                    "match": {"metadata": ["x"]}},
                   {"operation": "spawn", "match": {"metadata": {"k": 5}}},
                   {"operation": "nova:GET /x"}):
        with pytest.raises(exception.Invalid):
            cloud.faults.add(**kwargs)


def test_call_log(cloud):
    sid = _boot(cloud, "logged")
    wait_for_server(cloud, sid)
    posts = cloud.calls(route="/servers", method="POST")
    assert len(posts) == 1
    assert posts[0].status == 202 and posts[0].microversion == "compute 2.1"
    assert posts[0].duration > 0
    gets = cloud.calls(route="/servers/{server_id}")
    assert gets and all(c.path.endswith(sid) for c in gets)
    rpc = [c.route for c in cloud.calls(kind="rpc")]
    assert "conductor.schedule_and_build_instances" in rpc
    assert "compute.build_and_run_instance" in rpc
    assert cloud.calls(kind="placement", method="PUT")     # the claim, in process
    assert all(c.status == "ok" for c in cloud.calls(kind="rpc"))


def _control(cloud, method, path, token=None, **kw):
    return requests.request(method, cloud.compute_endpoint + "/cloud-control" + path,
                            headers={"X-Auth-Token": token or cloud.admin_token},
                            timeout=10, **kw)


def test_control_api(cloud):
    assert _control(cloud, "GET", "/faults", token=cloud.member_token).status_code == 403
    resp = _control(cloud, "POST", "/faults", json={"fault": {
        "operation": "spawn", "match": {"name": "rest-.*"}, "count": 1}})
    assert resp.status_code == 201, resp.text
    rule_id = resp.json()["fault"]["id"]
    sid = _boot(cloud, "rest-1")
    assert wait_for_server(cloud, sid)["status"] == "ERROR"
    listed = _control(cloud, "GET", "/faults").json()
    assert listed["faults"][0]["fired"] == 1 and listed["log"][0]["target"] == sid
    bad = _control(cloud, "POST", "/faults", json={"fault": {"operation": "spawn",
                                                             "count": "x"}})
    assert bad.status_code == 400 and "fault.count" in bad.json()["error"]["message"]
    assert _control(cloud, "POST", "/faults", data="{").status_code == 400
    assert _control(cloud, "DELETE", f"/faults/{rule_id}").status_code == 204
    assert _control(cloud, "DELETE", f"/faults/{rule_id}").status_code == 404
    calls = _control(cloud, "GET", "/calls", params={"route": "/servers"}).json()["calls"]
    assert [c["status"] for c in calls] == [202]
    assert _control(cloud, "POST", "/clock", json={"advance": 5}).status_code == 409
    assert _control(cloud, "PUT", "/faults").status_code == 405
    assert _control(cloud, "GET", "/nothing").status_code == 404
    # bytes that are not UTF-8 in the path or the query: a 400, not a 500
    for method, path in (("GET", "/faults/%FF"), ("DELETE", "/faults/%FF"), ("GET", "/%FF"),
                         ("DELETE", "/%FF"), ("GET", "/calls?kind=%FF")):
        resp = _control(cloud, method, path)
        assert resp.status_code == 400, (method, path, resp.text)
        assert "UTF-8" in resp.json()["error"]["message"]


def test_control_api_is_off_unless_enabled():
    with Cloud() as cloud:
        assert _control(cloud, "GET", "/faults").status_code == 404


def test_compute_aio_control_api_for_any_language(tmp_path):
    """compute-aio --control-api --clock virtual: a test in another language
    drives faults and the clock over HTTP only."""
    import signal

    from tests.aio_process import start_compute_aio

    proc, banner, compute_url, _ = start_compute_aio(
        tmp_path / "state", "--control-api", "--clock", "virtual", "--quiet")
    try:
        control = compute_url.rsplit("/v2.1", 1)[0] + "/cloud-control"
        assert f"control API   {control}" in banner
        admin = {"X-Auth-Token": "admin:admin"}
        before = requests.get(control + "/clock", headers=admin, timeout=10).json()["clock"]
        assert before["virtual"] is True
        after = requests.post(control + "/clock", json={"advance": 3600}, headers=admin,
                              timeout=30).json()["clock"]
        assert after["time"] - before["time"] >= 3600
        resp = requests.post(control + "/faults", headers=admin, timeout=10,
                             json={"fault": {"operation": "compute:GET /flavors"}})
        assert resp.status_code == 201
        assert requests.get(compute_url + "/flavors", headers=admin,
                            timeout=10).status_code == 500
        assert requests.get(control + "/faults", headers={"X-Auth-Token": "demo:demo"},
                            timeout=10).status_code == 403
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
