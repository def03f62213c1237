"""The boot path and the server resource through the HTTP API."""
import pytest

from compute_core.testing import api_request, first_image_id, wait_for_server


def boot(api, image_id, name="vm", flavor="1", token=None, version=None, **extra):
    body = {"server": {"name": name, "imageRef": image_id, "flavorRef": flavor, **extra}}
    kw = {"token": token} if token else {}
    resp = api("POST", "/servers", body=body, version=version, **kw)
    assert resp.status_code == 202, resp.text
    return resp.json()["server"]["id"]


def placement_allocations(cloud, consumer):
    import requests

    resp = requests.get(f"{cloud.placement_url}/allocations/{consumer}",
                        headers={"X-Auth-Token": "admin:admin",
                                 "OpenStack-API-Version": "placement 1.28"})
    return resp.json()["allocations"]


def test_boot_to_active_and_delete(compute_cloud, api, image_id):
    sid = boot(api, image_id, name="first")
    server = wait_for_server(compute_cloud, sid)
    assert server["status"] == "ACTIVE"
    assert server["OS-EXT-STS:vm_state"] == "active"
    assert server["OS-EXT-STS:task_state"] is None
    assert server["OS-EXT-STS:power_state"] == 1
    assert server["OS-EXT-SRV-ATTR:host"].startswith("host")
    (addr,) = server["addresses"]["private"]
    assert addr["addr"].startswith("10.0.0.")
    assert server["OS-SRV-USG:launched_at"]
    allocs = placement_allocations(compute_cloud, sid)
    (rp,) = allocs.values()
    assert rp["resources"] == {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
    assert api("DELETE", f"/servers/{sid}").status_code == 204
    wait_for_server(compute_cloud, sid, ("DELETED",))
    assert api("GET", f"/servers/{sid}").status_code == 404
    assert placement_allocations(compute_cloud, sid) == {}
    assert compute_cloud.driver(server["OS-EXT-SRV-ATTR:host"]).instances.get(sid) is None


def test_show_shapes_per_microversion(compute_cloud, api, image_id):
    sid = boot(api, image_id, name="shapes", version="2.19", description="d1")
    wait_for_server(compute_cloud, sid)
    old = api("GET", f"/servers/{sid}", version="2.1").json()["server"]
    assert old["flavor"]["id"] == "1" and "description" not in old and "locked" not in old
    new = api("GET", f"/servers/{sid}", version="2.100").json()["server"]
    assert new["flavor"]["original_name"] == "m1.tiny" and new["flavor"]["ram"] == 512
    assert new["description"] == "d1" and new["locked"] is False and new["tags"] == []
    assert new["host_status"] == "UP" and "scheduler_hints" in new
    assert "properties" in new["image"]
    api("DELETE", f"/servers/{sid}")


def test_list_filters_and_paging(compute_cloud, api, image_id):
    ids = [boot(api, image_id, name=f"page-{i}") for i in range(5)]
    for sid in ids:
        wait_for_server(compute_cloud, sid)
    listed = api("GET", "/servers?name=^page-").json()["servers"]
    assert {s["id"] for s in listed} == set(ids)
    assert set(listed[0]) == {"id", "name", "links"}
    first = api("GET", "/servers/detail?name=^page-&limit=2").json()
    assert len(first["servers"]) == 2
    assert first["servers_links"][0]["rel"] == "next"
    marker = first["servers"][-1]["id"]
    rest = api("GET", f"/servers/detail?name=^page-&marker={marker}").json()["servers"]
    assert [s["id"] for s in first["servers"] + rest] == [s["id"] for s in listed]
    active = api("GET", "/servers?name=^page-&status=ACTIVE").json()["servers"]
    assert len(active) == 5
    assert api("GET", "/servers?name=^page-&status=ERROR").json()["servers"] == []
    assert api("GET", "/servers?marker=nope").status_code == 400
    for sid in ids:
        api("DELETE", f"/servers/{sid}")


def test_list_changes_since_and_before(compute_cloud, api, image_id):
    """The window on updated_at: changes-since always, changes-before from
    2.66 (ignored below), both bounds inclusive, deleted servers shown, an
    upside-down window or a bad time a 400 naming the parameter."""
    import datetime
    import time

    sid = boot(api, image_id, name="window")
    server = wait_for_server(compute_cloud, sid)
    changed = datetime.datetime.fromisoformat(server["updated"].replace("Z", "+00:00"))
    time.sleep(1.1)
    gone = boot(api, image_id, name="window-gone")
    wait_for_server(compute_cloud, gone)
    api("DELETE", f"/servers/{gone}")
    wait_for_server(compute_cloud, gone, ("DELETED",))

    def names(query, version="2.66"):
        resp = api("GET", f"/servers/detail?name=^window&{query}", version=version)
        assert resp.status_code == 200, resp.text
        return sorted(s["name"] for s in resp.json()["servers"])

    # "updated" has whole seconds: the first server changed within the
    # second after it, the second server more than a second later.
    since = changed.strftime("%Y-%m-%dT%H:%M:%SZ")
    changed += datetime.timedelta(seconds=1)
    at = changed.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The same instant at another offset is the same bound.
    at_plus_two = (changed + datetime.timedelta(hours=2)).strftime(
        "%Y-%m-%dT%H:%M:%S") + "%2B02:00"
    assert names(f"changes-since={since}") == ["window", "window-gone"]
    assert names(f"changes-before={at}") == ["window"]
    assert names(f"changes-before={at_plus_two}") == ["window"]
    assert names(f"changes-before={at}", version="2.65") == ["window"]  # no deleted
    later = (changed + datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resp = api("GET", f"/servers?changes-since={later}&changes-before={at}", version="2.66")
    assert resp.status_code == 400 and "changes-since" in resp.text
    resp = api("GET", "/servers?changes-before=yesterday", version="2.66")
    assert resp.status_code == 400 and "changes-before" in resp.text
    api("DELETE", f"/servers/{sid}")


def test_projects_are_isolated(compute_cloud, api, image_id):
    sid = boot(api, image_id, name="mine", token="alice:proj-a")
    wait_for_server(compute_cloud, sid, token="alice:proj-a")
    assert api("GET", f"/servers/{sid}", token="bob:proj-b").status_code == 404
    assert api("GET", "/servers", token="bob:proj-b").json()["servers"] == []
    assert api("DELETE", f"/servers/{sid}", token="bob:proj-b").status_code == 404
    everyone = api("GET", "/servers?all_tenants=1").json()["servers"]
    assert sid in {s["id"] for s in everyone}
    assert api("DELETE", f"/servers/{sid}", token="alice:proj-a").status_code == 204


def test_no_valid_host_goes_to_cell0_in_error(compute_cloud, api, image_id):
    resp = api("POST", "/flavors", body={"flavor": {"name": "huge", "ram": 40000,
                                                    "vcpus": 1, "disk": 1}})
    assert resp.status_code == 200
    fid = resp.json()["flavor"]["id"]
    sid = boot(api, image_id, name="toobig", flavor=fid)
    server = wait_for_server(compute_cloud, sid)
    assert server["status"] == "ERROR"
    assert server["fault"]["message"].startswith("No valid host was found")
    assert server["OS-EXT-SRV-ATTR:host"] is None
    from compute_core.db import api_db

    mapping = api_db.get_instance_mapping(compute_cloud._api.api_db, sid)
    assert mapping["cell_uuid"] == api_db.CELL0_UUID
    assert api("DELETE", f"/servers/{sid}").status_code == 204
    assert api("GET", f"/servers/{sid}").status_code == 404
    api("DELETE", f"/flavors/{fid}")


def test_driver_failure_is_error_with_fault_and_frees_claim(fresh_compute_cloud):
    cloud = fresh_compute_cloud
    image = first_image_id(cloud)
    body = {"server": {"name": "bad", "imageRef": image, "flavorRef": "1",
                       "metadata": {"fake_fail": "spawn"}}}
    sid = api_request(cloud, "POST", "/servers", body=body).json()["server"]["id"]
    server = wait_for_server(cloud, sid)
    assert server["status"] == "ERROR"
    assert "Injected spawn failure" in server["fault"]["message"]
    assert placement_allocations(cloud, sid) == {}
    assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 204
    wait_for_server(cloud, sid, ("DELETED",))


@pytest.mark.compute_cloud_hosts(2)
def test_spawn_failure_is_retried_on_an_alternate(fresh_compute_cloud):
    cloud = fresh_compute_cloud
    image = first_image_id(cloud)
    cloud.inject_fault("host1", "spawn")
    cloud.inject_fault("host2", "spawn", count=0)  # a no-op fault: host2 works
    body = {"server": {"name": "retry", "imageRef": image, "flavorRef": "1"}}
    sids = []
    for _ in range(2):  # at least one lands first on host1
        sids.append(api_request(cloud, "POST", "/servers", body=body).json()["server"]["id"])
    for sid in sids:
        server = wait_for_server(cloud, sid)
        assert server["status"] == "ACTIVE", server.get("fault")
        assert server["OS-EXT-SRV-ATTR:host"] == "host2"
        (rp,) = placement_allocations(cloud, sid)
    assert any(op == "spawn" for op, _ in cloud.driver("host1").calls)


def test_delete_during_build_leaves_nothing(fresh_compute_cloud):
    cloud = fresh_compute_cloud
    cloud.set_spawn_delay("host1", 0.5)
    image = first_image_id(cloud)
    body = {"server": {"name": "slow", "imageRef": image, "flavorRef": "1"}}
    sid = api_request(cloud, "POST", "/servers", body=body).json()["server"]["id"]
    server = api_request(cloud, "GET", f"/servers/{sid}").json()["server"]
    assert server["status"] == "BUILD"
    assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 204
    wait_for_server(cloud, sid, ("DELETED",), timeout=10)
    import time

    time.sleep(1.0)  # let the build finish and notice
    assert api_request(cloud, "GET", f"/servers/{sid}").status_code == 404
    assert sid not in cloud.driver("host1").instances
    assert placement_allocations(cloud, sid) == {}
    assert sid not in {s["id"] for s in api_request(cloud, "GET", "/servers").json()["servers"]}


def test_delete_right_after_create(compute_cloud, api, image_id):
    sid = boot(api, image_id, name="blink")
    assert api("DELETE", f"/servers/{sid}").status_code == 204
    wait_for_server(compute_cloud, sid, ("DELETED",))
    import time

    time.sleep(0.5)
    assert api("GET", f"/servers/{sid}").status_code == 404
    assert placement_allocations(compute_cloud, sid) == {}


def test_delete_on_a_down_host_is_local(fresh_compute_cloud):
    cloud = fresh_compute_cloud
    image = first_image_id(cloud)
    body = {"server": {"name": "orphan", "imageRef": image, "flavorRef": "1"}}
    sid = api_request(cloud, "POST", "/servers", body=body).json()["server"]["id"]
    wait_for_server(cloud, sid)
    cloud.stop_host("host1")
    services = api_request(cloud, "GET", "/os-services").json()["services"]
    assert [s["state"] for s in services if s["host"] == "host1"] == ["down"]
    assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 204
    assert api_request(cloud, "GET", f"/servers/{sid}").status_code == 404
    assert placement_allocations(cloud, sid) == {}
    cloud.start_host("host1")
    services = api_request(cloud, "GET", "/os-services").json()["services"]
    assert [s["state"] for s in services if s["host"] == "host1"] == ["up"]


@pytest.mark.parametrize("body,field", [
    ({"server": {"imageRef": "x", "flavorRef": "1"}}, "name"),
    ({"server": {"name": "a", "imageRef": "x"}}, "flavorRef"),
    ({"server": {"name": "a", "flavorRef": "1", "bogus": 1}}, "bogus"),
    ({"server": {"name": " lead", "flavorRef": "1"}}, "name"),
    ({"server": {"name": "a", "flavorRef": "1", "metadata": {"k": 1}}}, "metadata"),
    ({"server": {"name": "a", "flavorRef": "1", "min_count": 0}}, "min_count"),
    ({"srv": {}}, "server"),
])
def test_bad_create_bodies_name_the_field(api, body, field):
    resp = api("POST", "/servers", body=body)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["badRequest"]["message"]


def test_unknown_flavor_and_image(api, image_id):
    resp = api("POST", "/servers", body={"server": {"name": "a", "imageRef": image_id,
                                                    "flavorRef": "nope"}})
    assert resp.status_code == 400 and "Flavor nope" in resp.json()["badRequest"]["message"]
    missing = "11111111-2222-3333-4444-555555555555"
    resp = api("POST", "/servers", body={"server": {"name": "a", "imageRef": missing,
                                                    "flavorRef": "1"}})
    assert resp.status_code == 400 and missing in resp.json()["badRequest"]["message"]
    assert api("GET", f"/servers/{missing}").status_code == 404
    assert api("DELETE", f"/servers/{missing}").status_code == 404


def test_networks_none_auto_and_required_at_237(compute_cloud, api, image_id):
    sid = boot(api, image_id, name="nonet", version="2.37", networks="none")
    assert wait_for_server(compute_cloud, sid)["addresses"] == {}
    sid2 = boot(api, image_id, name="autonet", version="2.37", networks="auto")
    assert wait_for_server(compute_cloud, sid2)["addresses"]["private"]
    resp = api("POST", "/servers", version="2.37",
               body={"server": {"name": "x", "imageRef": image_id, "flavorRef": "1"}})
    assert resp.status_code == 400 and "networks" in resp.text
    for s in (sid, sid2):
        api("DELETE", f"/servers/{s}")


def test_quota_instances_exceeded(fresh_compute_cloud):
    cloud = fresh_compute_cloud
    cloud.conf.set_override("instances", 2, group="quota")
    image = first_image_id(cloud)
    body = {"server": {"name": "q", "imageRef": image, "flavorRef": "1"}}
    for _ in range(2):
        assert api_request(cloud, "POST", "/servers", body=body).status_code == 202
    resp = api_request(cloud, "POST", "/servers", body=body)
    assert resp.status_code == 403
    assert "Quota exceeded for instances" in resp.json()["forbidden"]["message"]
    limits = api_request(cloud, "GET", "/limits").json()["limits"]["absolute"]
    assert limits["maxTotalInstances"] == 2 and limits["totalInstancesUsed"] == 2


def test_quota_cores_and_ram_exceeded(fresh_compute_cloud):
    cloud = fresh_compute_cloud
    cloud.conf.set_override("cores", 3, group="quota")
    cloud.conf.set_override("ram", 7000, group="quota")
    image = first_image_id(cloud)

    def create(flavor, count=1):
        return api_request(cloud, "POST", "/servers", body={"server": {
            "name": "q", "imageRef": image, "flavorRef": flavor, "min_count": count}})

    def refused(resp):
        assert resp.status_code == 403, resp.text
        return resp.json()["forbidden"]["message"]

    assert create("3").status_code == 202  # m1.medium: 2 vCPUs, 4096 MiB
    # As Nova words it: every resource the request would exceed, in name order
    assert refused(create("3")) == ("Quota exceeded for cores, ram: Requested 2, 4096, "
                                    "but already used 2, 4096 of 3, 7000 cores, ram")
    assert refused(create("2", count=2)) == ("Quota exceeded for cores, ram: Requested 2, "
                                             "4096, but already used 2, 4096 of 3, 7000 "
                                             "cores, ram")
    assert create("2").status_code == 202  # m1.small: 1 vCPU, 2048 MiB: 3 cores, 6144 MiB
    cloud.conf.set_override("cores", 10, group="quota")
    assert create("1").status_code == 202  # m1.tiny: 512 MiB: 6656 MiB
    assert refused(create("2")) == \
        "Quota exceeded for ram: Requested 2048, but already used 6656 of 7000 ram"
    limits = api_request(cloud, "GET", "/limits").json()["limits"]["absolute"]
    assert (limits["totalCoresUsed"], limits["totalRAMUsed"]) == (4, 6656)


def test_multi_create_with_reservation_id(compute_cloud, api, image_id):
    resp = api("POST", "/servers", body={"server": {
        "name": "multi", "imageRef": image_id, "flavorRef": "1", "min_count": 3,
        "return_reservation_id": True}})
    assert resp.status_code == 202
    rid = resp.json()["reservation_id"]
    servers = api("GET", f"/servers?reservation_id={rid}").json()["servers"]
    assert sorted(s["name"] for s in servers) == ["multi-1", "multi-2", "multi-3"]
    for s in servers:
        wait_for_server(compute_cloud, s["id"])
        api("DELETE", f"/servers/{s['id']}")


def test_delete_while_scheduling_leaves_nothing(fresh_compute_cloud):
    """The user deletes the server after the scheduler picked its host and
    before the conductor moved it into the cell: the conductor's instance
    is undone, and no mapping, allocation or address stays behind."""
    from compute_core.db import api_db, cell_db

    cloud = fresh_compute_cloud
    (conductor,) = [b.service.endpoints[0] for b in cloud._services
                    if b.service.name == "compute-conductor"]
    scheduler_api = conductor.scheduler_api
    real_select = scheduler_api.select_destinations
    deleted = []

    class DeletingScheduler:
        def select_destinations(self, ctxt, spec, uuids, alternates):
            result = real_select(ctxt, spec, uuids, alternates)
            for uuid in uuids:
                resp = api_request(cloud, "DELETE", f"/servers/{uuid}")
                deleted.append(resp.status_code)
            return result

    conductor.scheduler_api = DeletingScheduler()
    try:
        image = first_image_id(cloud)
        body = {"server": {"name": "gone", "imageRef": image, "flavorRef": "1"}}
        sid = api_request(cloud, "POST", "/servers", body=body).json()["server"]["id"]
        wait_for_server(cloud, sid, ("DELETED",), timeout=10)
        import time

        def left_behind():
            """What of the server still exists. The API's delete removes the
            mapping at once; the conductor, which was still in its scheduler
            call then, creates the cell instance afterwards and undoes it when
            it finds the build request gone: wait for that to finish."""
            found = []
            try:
                api_db.get_instance_mapping(cloud._api.api_db, sid)
                found.append("mapping")
            except Exception:
                pass
            for cell in cloud._api.cells.cells(include_cell0=True):
                if cell_db.list_instances(cloud._api.cells.get(cell["uuid"]), {"uuid": sid}):
                    found.append(f"instance in {cell['name']}")
            if placement_allocations(cloud, sid):
                found.append("allocations")
            return found

        deadline = time.monotonic() + 10
        while left_behind() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        conductor.scheduler_api = scheduler_api
    assert deleted == [204]
    assert api_request(cloud, "GET", f"/servers/{sid}").status_code == 404
    assert placement_allocations(cloud, sid) == {}
    with pytest.raises(Exception):
        api_db.get_instance_mapping(cloud._api.api_db, sid)
    for cell in cloud._api.cells.cells(include_cell0=True):
        live = cell_db.list_instances(cloud._api.cells.get(cell["uuid"]), {"uuid": sid})
        assert live == []
    assert sid not in cloud.driver("host1").instances


def test_the_conductor_builds_from_the_instances_the_api_sent(fresh_compute_cloud,
                                                              monkeypatch):
    """Conductor RPC 1.13: the API's cast carries the build requests'
    instances, so the conductor reads none back to build the server."""
    import sys

    from compute_core.db import api_db

    read = []
    real = api_db.get_build_request

    def get_build_request(db, uuid):
        # Only the conductor's reads (the API reads it too, for a GET of
        # a server not yet in a cell).
        caller = sys._getframe(1)
        while caller is not None and "conductor" not in caller.f_code.co_filename:
            caller = caller.f_back
        if caller is not None:
            read.append(uuid)
        return real(db, uuid)

    monkeypatch.setattr(api_db, "get_build_request", get_build_request)
    cloud = fresh_compute_cloud
    body = {"server": {"name": "sent", "imageRef": first_image_id(cloud), "flavorRef": "1"}}
    sid = api_request(cloud, "POST", "/servers", body=body).json()["server"]["id"]
    server = wait_for_server(cloud, sid)
    assert server["status"] == "ACTIVE" and server["name"] == "sent"
    assert read == []
