"""cloud.snapshot() / cloud.restore(): databases, guests and image files go
back to the snapshot; a restore is cheap (issue 24 item 4)."""
import io
import os
import statistics
import time

import pytest

from compute_core import Cloud, exception
from compute_core.testing import api_request, first_image_id, wait_for_server


def _boot(cloud, name, **extra):
    body = {"server": {"name": name, "imageRef": first_image_id(cloud), "flavorRef": "1",
                       **extra}}
    resp = api_request(cloud, "POST", "/servers", body=body)
    assert resp.status_code == 202, resp.text
    return resp.json()["server"]["id"]


def _names(cloud):
    return sorted(s["name"] for s in api_request(cloud, "GET", "/servers").json()["servers"])


@pytest.fixture(scope="module")
def seeded():
    with Cloud(hosts=2) as cloud:
        ids = [_boot(cloud, f"seed-{i}") for i in range(3)]
        for sid in ids:
            wait_for_server(cloud, sid, "ACTIVE")
        with cloud.snapshot() as snap:
            yield cloud, snap, ids


def test_restore_undoes_creates_deletes_and_power_changes(seeded):
    cloud, snap, ids = seeded
    cloud.restore(snap)
    extra = _boot(cloud, "extra")
    wait_for_server(cloud, extra, "ACTIVE")
    assert api_request(cloud, "DELETE", f"/servers/{ids[0]}").status_code == 204
    api_request(cloud, "POST", f"/servers/{ids[1]}/action", body={"os-stop": None})
    wait_for_server(cloud, ids[1], "SHUTOFF")
    flavor = {"flavor": {"name": "later", "ram": 64, "vcpus": 1, "disk": 1, "id": "later"}}
    assert api_request(cloud, "POST", "/flavors", body=flavor).status_code == 200
    cloud.wait_idle()

    cloud.restore(snap)
    assert _names(cloud) == ["seed-0", "seed-1", "seed-2"]
    assert api_request(cloud, "GET", f"/servers/{ids[1]}").json()["server"]["status"] \
        == "ACTIVE"
    assert api_request(cloud, "GET", "/flavors/later").status_code == 404
    # The fake hosts' guests followed: three guests, all running.
    guests = {u: g for h in cloud.host_names for u, g in cloud.driver(h).instances.items()}
    assert sorted(guests) == sorted(ids)
    assert all(g["state"].name == "RUNNING" for g in guests.values())
    assert cloud.leaks(snap) == {}
    # The scheduler forgot what it had seen: a new boot lands and goes ACTIVE.
    assert wait_for_server(cloud, _boot(cloud, "after"), "ACTIVE")["status"] == "ACTIVE"


def test_restore_brings_back_stopped_hosts_and_drops_added_ones(seeded):
    cloud, snap, _ = seeded
    cloud.restore(snap)
    cloud.stop_host("host2")
    cloud.add_host("host3")
    cloud.restore(snap)
    assert cloud.host_names == ["host1", "host2"]
    hypervisors = api_request(cloud, "GET", "/os-hypervisors").json()["hypervisors"]
    assert sorted(h["hypervisor_hostname"] for h in hypervisors) == ["host1", "host2"]
    assert wait_for_server(cloud, _boot(cloud, "on-restored"), "ACTIVE")["status"] == "ACTIVE"


def test_image_files_follow(seeded):
    cloud, snap, _ = seeded
    cloud.restore(snap)
    before = {i["id"] for i in cloud._api.images.list()}
    added = cloud._api.images.create("later-image", io.BytesIO(b"x" * 100))
    assert added["id"] not in before
    cloud.restore(snap)
    assert {i["id"] for i in cloud._api.images.list()} == before
    assert not os.path.exists(os.path.join(cloud.conf.image.images_path, added["id"]))


def test_restore_is_fast(seeded):
    cloud, snap, ids = seeded
    cloud.restore(snap)
    untouched, touched = [], []
    for _ in range(20):
        t0 = time.perf_counter()
        cloud.restore(snap)
        untouched.append(time.perf_counter() - t0)
        api_request(cloud, "POST", f"/servers/{ids[2]}/action", body={"os-stop": None})
        cloud.wait_idle()
        t0 = time.perf_counter()
        cloud.restore(snap)
        touched.append(time.perf_counter() - t0)
    # Goal 5 ms (bench/startup.py measures it); loose bounds here, on 2 CPUs
    # shared by many test runs: a full copy of every database each time, or
    # a restart of the services, would still exceed them.
    assert statistics.median(untouched) < 0.015
    assert statistics.median(touched) < 0.05


def test_leaks_reports_what_a_test_left_behind(seeded):
    cloud, snap, _ = seeded
    cloud.restore(snap)
    sid = _boot(cloud, "left-behind")
    wait_for_server(cloud, sid, "ACTIVE")
    leaks = cloud.leaks(snap)
    assert leaks["servers"] == [sid]
    assert leaks["allocations"] == [sid]
    assert [p.split("/")[1] for p in leaks["ports"]] == [sid]
    api_request(cloud, "DELETE", f"/servers/{sid}")
    wait_for_server(cloud, sid, ("DELETED",))
    assert cloud.leaks(snap) == {}


def test_snapshot_needs_sqlite_files_and_an_open_snapshot(seeded):
    cloud, snap, _ = seeded
    closed = cloud.snapshot()
    closed.close()
    with pytest.raises(exception.Invalid, match="closed"):
        cloud.restore(closed)


def test_restore_to_before_a_project_first_claimed():
    # Placement remembers project ids it has seen; a restore to before the
    # project's first claim must make it forget them.
    with Cloud() as cloud, cloud.snapshot() as empty:
        for _ in range(2):
            cloud.restore(empty)
            body = {"server": {"name": "demo-server", "imageRef": first_image_id(cloud),
                               "flavorRef": "1"}}
            sid = api_request(cloud, "POST", "/servers", body=body,
                              token=cloud.member_token).json()["server"]["id"]
            assert wait_for_server(cloud, sid)["status"] == "ACTIVE"
