"""Recovery, on the embedded cloud: a compute host down while its servers
are deleted, then back; a build past instance_build_timeout; builds whose
records were left half-written (the "ghost" listed but not found); a
listing while a server moves into its cell."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from compute_core import Cloud
from compute_core.api.server_service import ServerService
from compute_core.context import get_admin_context
from compute_core.db import api_db, cell_db
from compute_core.testing import api_request, first_image_id, wait_for_server


def _boot(cloud, name="r", flavor="1", image=None):
    resp = api_request(cloud, "POST", "/servers", body={"server": {
        "name": name, "imageRef": image or first_image_id(cloud), "flavorRef": flavor}})
    assert resp.status_code == 202, resp.text
    return resp.json()["server"]["id"]


def _placement(cloud, path):
    resp = requests.get(cloud.placement_url + path, timeout=30, headers={
        "X-Auth-Token": cloud.admin_token, "OpenStack-API-Version": "placement 1.20"})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _allocations(cloud, uuid):
    return _placement(cloud, f"/allocations/{uuid}")["allocations"]


def _listed(cloud):
    return {s["id"]: s for s in
            api_request(cloud, "GET", "/servers/detail?all_tenants=1").json()["servers"]}


def _running_vms(cloud):
    hypervisors = api_request(cloud, "GET", "/os-hypervisors/detail").json()["hypervisors"]
    return {h["hypervisor_hostname"]: h["running_vms"] for h in hypervisors}


def _wait(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached in {timeout}s")


@pytest.mark.parametrize("action, running, powered", [
    ("reap", 0, None), ("shutdown", 2, "SHUTDOWN"), ("log", 2, "RUNNING"),
    ("noop", 2, "RUNNING")])
def test_servers_deleted_while_their_host_is_down(fresh_compute_cloud, action, running,
                                                  powered):
    cloud = fresh_compute_cloud
    cloud.conf.set_override("running_deleted_instance_action", action)
    doomed = [_boot(cloud, f"doomed-{i}") for i in range(2)]
    kept = _boot(cloud, "kept")
    for uuid in doomed + [kept]:
        assert wait_for_server(cloud, uuid)["status"] == "ACTIVE"
    cloud.stop_host("host1")
    for uuid in doomed:
        assert api_request(cloud, "DELETE", f"/servers/{uuid}").status_code == 204
        assert api_request(cloud, "GET", f"/servers/{uuid}").status_code == 404
        assert _allocations(cloud, uuid) == {}
    driver = cloud.driver("host1")
    assert set(driver.list_instances()) == set(doomed + [kept])  # the hypervisor kept them
    cloud.start_host("host1")
    assert set(driver.list_instances()) == set(doomed[:2 if running else 0] + [kept])
    for uuid in doomed if powered else []:
        assert driver.get_info({"uuid": uuid}).state.name == powered
    assert _running_vms(cloud) == {"host1": running + 1}
    assert wait_for_server(cloud, kept)["status"] == "ACTIVE"


def test_guests_outlive_a_restart_of_the_cloud_and_deleted_ones_are_reaped(tmp_path):
    state = tmp_path / "state"
    with Cloud(state_dir=state) as cloud:
        doomed, kept = _boot(cloud, "doomed"), _boot(cloud, "kept")
        for uuid in (doomed, kept):
            wait_for_server(cloud, uuid)
        cloud.stop_host("host1")
        assert api_request(cloud, "DELETE", f"/servers/{doomed}").status_code == 204
    with Cloud(state_dir=state) as cloud:
        assert cloud.driver("host1").list_instances() == [kept]
        assert _running_vms(cloud) == {"host1": 1}
        assert wait_for_server(cloud, kept)["status"] == "ACTIVE"


def test_a_build_past_the_timeout_ends_in_error_and_frees_its_allocations():
    with Cloud(overrides={"instance_build_timeout": 2}) as cloud:
        cloud.set_spawn_delay("host1", 4)
        uuid = _boot(cloud, "slow")
        server = wait_for_server(cloud, uuid, timeout=10)
        assert server["status"] == "ERROR", server
        # The timeout ended it, not the spawn.
        assert server["fault"]["message"] == f"Build of instance {uuid} timed out. " \
                                             "Set to error state."
        assert _allocations(cloud, uuid) == {}
        # The spawn finishes later and finds its build gone: its guest goes.
        _wait(lambda: cloud.driver("host1").list_instances() == [], 10, "guest dropped")
        assert api_request(cloud, "DELETE", f"/servers/{uuid}").status_code == 204


def _interrupt_before_mapping(monkeypatch):
    """The conductor stops between writing the cell row and mapping it (as
    a process killed there would): the server keeps its build request and
    has a row in BUILD on its host that nothing maps."""
    def killed(db, uuid, cell_id):
        raise SystemExit("conductor killed")  # not caught as an Exception by the build

    monkeypatch.setattr(api_db, "finish_build", killed)


def _cell_rows(cloud, uuid):
    _, db = cloud._api.cells.for_host("host1")
    return cell_db.list_instances(db, {"uuid": uuid})


def test_a_server_whose_build_stopped_before_mapping_is_found_listed_and_deleted(
        fresh_compute_cloud, monkeypatch):
    cloud = fresh_compute_cloud
    _interrupt_before_mapping(monkeypatch)
    uuid = _boot(cloud, "half")
    _wait(lambda: _cell_rows(cloud, uuid), what="cell row written")
    assert api_request(cloud, "GET", f"/servers/{uuid}").json()["server"]["status"] == "BUILD"
    assert list(_listed(cloud)).count(uuid) == 1
    assert api_request(cloud, "DELETE", f"/servers/{uuid}").status_code == 204
    # Gone everywhere at once: not listed, not counted, not found.
    assert uuid not in _listed(cloud)
    assert api_request(cloud, "GET", f"/servers/{uuid}").status_code == 404
    assert _cell_rows(cloud, uuid) == []
    limits = api_request(cloud, "GET", "/limits").json()["limits"]["absolute"]
    assert limits["totalInstancesUsed"] == 0
    assert _allocations(cloud, uuid) == {}


def test_an_existing_ghost_is_reachable_and_recovery_deletes_it(fresh_compute_cloud,
                                                                monkeypatch):
    cloud = fresh_compute_cloud
    _interrupt_before_mapping(monkeypatch)
    ghosts = [_boot(cloud, f"ghost-{i}") for i in range(2)]
    for uuid in ghosts:
        _wait(lambda: _cell_rows(cloud, uuid), what="cell row written")
        # What a delete did before it deleted the rows too: only the API records went.
        api_db.delete_instance_records(cloud._api.api_db, uuid)
    listed = _listed(cloud)
    for uuid in ghosts:
        assert listed[uuid]["status"] == "BUILD" and listed[uuid]["OS-EXT-SRV-ATTR:host"]
        assert api_request(cloud, "GET", f"/servers/{uuid}").status_code == 200
        # Found in its cell, yet still kept from other projects.
        assert api_request(cloud, "GET", f"/servers/{uuid}",
                           token=cloud.member_token).status_code == 404
        assert api_request(cloud, "DELETE", f"/servers/{uuid}",
                           token=cloud.member_token).status_code == 404
    # One is deleted by the user, the other by the conductor's recovery.
    assert api_request(cloud, "DELETE", f"/servers/{ghosts[0]}").status_code == 204
    conductor = next(b.service for b in cloud._services
                     if b.service.name == "compute-conductor")
    conductor.recovery.sweep()
    listed = _listed(cloud)
    for uuid in ghosts:
        assert uuid not in listed
        assert api_request(cloud, "GET", f"/servers/{uuid}").status_code == 404
        assert _allocations(cloud, uuid) == {}
    usages = api_request(cloud, "GET", "/limits").json()["limits"]["absolute"]
    assert usages["totalInstancesUsed"] == 0


def test_a_listing_sees_a_server_moving_into_its_cell(fresh_compute_cloud, monkeypatch):
    """The server moves into its cell between the listing's two reads (of
    the build requests and of the cells): it must be in one of them."""
    cloud = fresh_compute_cloud
    writing, go = threading.Event(), threading.Event()
    real_create = cell_db.create_instance

    def held_create(db, values, *args, **kwargs):
        writing.set()
        assert go.wait(20)
        return real_create(db, values, *args, **kwargs)

    monkeypatch.setattr(cell_db, "create_instance", held_create)
    uuid = _boot(cloud, "moving")
    assert writing.wait(20)
    lister = threading.current_thread()
    _, its_cell = cloud._api.cells.for_host("host1")
    first_read = []

    def after_first_read(read):
        """*read*, then (the first time the lister reads the build requests
        or the server's cell) the move into the cell."""
        def wrapped(*args, **kwargs):
            rows = read(*args, **kwargs)
            if threading.current_thread() is lister and not first_read and (
                    read is real_list_builds or args[0].url == its_cell.url):
                first_read.append(read.__name__)
                go.set()  # let the conductor move it into its cell, all the way
                _wait(lambda: api_db.get_build_request(cloud._api.api_db, uuid) is None,
                      what="build request dropped")
            return rows
        return wrapped

    real_list_builds = api_db.list_build_requests
    monkeypatch.setattr(api_db, "list_build_requests", after_first_read(real_list_builds))
    monkeypatch.setattr(cell_db, "list_instances", after_first_read(cell_db.list_instances))
    listed = ServerService(cloud._api).list(get_admin_context(), {})
    assert first_read  # the race took place
    assert uuid in [s["uuid"] for s in listed]
    assert wait_for_server(cloud, uuid)["status"] == "ACTIVE"
