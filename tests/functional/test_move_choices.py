"""Where a move goes and whether it may: cold migration to a named host
(2.56), resizing or migrating onto the same host, and the quota check of an
upsize (and of reverting a downsize)."""
import pytest

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests.functional.test_server_moves import _act, _booted, _held, _migration, _settled


def _flavor(cloud, sid):
    """The server's flavor as 2.47 shows it (original_name, vcpus, ram...)."""
    return api_request(cloud, "GET", f"/servers/{sid}", version="2.47").json()[
        "server"]["flavor"]


def _delete(cloud, *sids):
    for sid in sids:
        api_request(cloud, "DELETE", f"/servers/{sid}")
    for sid in sids:
        wait_for_server(cloud, sid, ("DELETED",))


@pytest.fixture(scope="module")
def three():
    with Cloud(hosts=3) as c:
        yield c


def _hosts(cloud):
    hvs = api_request(cloud, "GET", "/os-hypervisors/detail").json()["hypervisors"]
    return sorted(h["service"]["host"] for h in hvs)


def test_migrate_to_a_named_host(three):
    sid, source = _booted(three, first_image_id(three), "to-named")
    target = [h for h in _hosts(three) if h != source][-1]
    resp = _act(three, sid, {"migrate": {"host": target}}, version="2.56")
    assert resp.status_code == 202, resp.text
    server = _settled(three, sid, "VERIFY_RESIZE")
    assert server["OS-EXT-SRV-ATTR:host"] == target
    assert _held(three, sid) == ({target: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}},
                                 "INSTANCE")
    assert _act(three, sid, {"confirmResize": None}).status_code == 204
    assert _settled(three, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == target
    _delete(three, sid)


def test_migrate_with_a_null_host_lets_the_scheduler_choose(three):
    sid, source = _booted(three, first_image_id(three), "null-host")
    assert _act(three, sid, {"migrate": {"host": None}}, version="2.56").status_code == 202
    assert _settled(three, sid, "VERIFY_RESIZE")["OS-EXT-SRV-ATTR:host"] != source
    _delete(three, sid)


def test_before_256_the_host_is_not_read(three):
    sid, source = _booted(three, first_image_id(three), "old-version")
    resp = _act(three, sid, {"migrate": {"host": source}}, version="2.55")
    assert resp.status_code == 202, resp.text  # not refused as the same host: ignored
    assert _settled(three, sid, "VERIFY_RESIZE")["OS-EXT-SRV-ATTR:host"] != source
    _delete(three, sid)


def test_a_named_host_that_is_its_own_or_not_admin_is_refused(three):
    sid, source = _booted(three, first_image_id(three), "refused")
    resp = _act(three, sid, {"migrate": {"host": source}}, version="2.56")
    assert resp.status_code == 400, resp.text
    assert resp.json()["badRequest"]["message"] == \
        "Cannot migrate to the host where the server exists."
    other = [h for h in _hosts(three) if h != source][0]
    # a member of the server's project (noauth2: member and reader) may not migrate
    resp = _act(three, sid, {"migrate": {"host": other}}, version="2.56", token="demo:admin")
    assert resp.status_code == 403 and "os_compute_api:os-migrate-server:migrate" in resp.text
    server = api_request(three, "GET", f"/servers/{sid}").json()["server"]
    assert (server["status"], server["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    assert _migration(three, sid) is None
    _delete(three, sid)


def test_a_named_host_that_cannot_take_it_leaves_the_server_where_it_was(three):
    sid, source = _booted(three, first_image_id(three), "down-target")
    target = [h for h in _hosts(three) if h != source][0]
    three.stop_host(target)
    try:
        assert _act(three, sid, {"migrate": {"host": target}}, version="2.56").status_code \
            == 202
        server = _settled(three, sid, "ACTIVE")
        assert server["OS-EXT-SRV-ATTR:host"] == source
        assert _migration(three, sid)["status"] == "error"
        assert _held(three, sid) == ({source: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}},
                                     "INSTANCE")
    finally:
        three.start_host(target)
        _delete(three, sid)


def test_resize_stays_on_its_only_host_when_allowed():
    with Cloud(hosts=1, overrides={"allow_resize_to_same_host": True}) as one:
        sid, host = _booted(one, first_image_id(one), "same-host")
        assert _act(one, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
        server = _settled(one, sid, "VERIFY_RESIZE")
        assert server["OS-EXT-SRV-ATTR:host"] == host
        migration = _migration(one, sid)
        assert (migration["source_compute"], migration["dest_compute"]) == (host, host)
        # Both flavors held on the one host: the old by the migration record.
        assert _held(one, sid) == ({host: {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}},
                                   "INSTANCE")
        assert _held(one, migration["uuid"]) == (
            {host: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}, "MIGRATION")
        # Revert: the new guest goes, the old one runs again.
        assert _act(one, sid, {"revertResize": None}).status_code == 202
        _settled(one, sid, "ACTIVE")
        assert _flavor(one, sid)["original_name"] == "m1.tiny"
        assert sid in one.driver(host).list_instances()
        assert one.driver(host).get_info({"uuid": sid}).state == 1
        assert _held(one, sid) == ({host: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}},
                                   "INSTANCE")
        # Again, confirmed this time: the guest keeps running.
        assert _act(one, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
        _settled(one, sid, "VERIFY_RESIZE")
        assert _act(one, sid, {"confirmResize": None}).status_code == 204
        _settled(one, sid, "ACTIVE")
        assert one.driver(host).get_info({"uuid": sid}).state == 1
        assert _held(one, _migration(one, sid)["uuid"])[0] == {}
        _delete(one, sid)
        assert _held(one, sid)[0] == {}


def test_resize_needs_another_host_by_default():
    with Cloud(hosts=1) as one:
        sid, host = _booted(one, first_image_id(one), "no-same-host")
        assert _act(one, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
        _settled(one, sid, "ACTIVE")
        assert _flavor(one, sid)["original_name"] == "m1.tiny"
        assert _migration(one, sid)["status"] == "error"


def test_cold_migration_stays_on_its_host_where_the_driver_supports_it():
    with Cloud(hosts=1, overrides={"fake_driver.migrate_to_same_host": True}) as one:
        sid, host = _booted(one, first_image_id(one), "same-host-migrate")
        assert _act(one, sid, {"migrate": None}).status_code == 202
        assert _settled(one, sid, "VERIFY_RESIZE")["OS-EXT-SRV-ATTR:host"] == host
        assert _act(one, sid, {"confirmResize": None}).status_code == 204
        _settled(one, sid, "ACTIVE")
        assert one.driver(host).get_info({"uuid": sid}).state == 1


def test_an_upsize_must_fit_the_quota():
    with Cloud(hosts=2, overrides={"quota.cores": 2, "quota.ram": 5000}) as two:
        sid, _ = _booted(two, first_image_id(two), "upsize")  # m1.tiny: 1 vCPU, 512 MiB
        resp = _act(two, sid, {"resize": {"flavorRef": "4"}})  # m1.large: 4 vCPUs
        assert resp.status_code == 403, resp.text
        assert resp.json()["forbidden"]["message"] == \
            "Quota exceeded for cores: Requested 3, but already used 1 of 2 cores"
        resp = _act(two, sid, {"resize": {"flavorRef": "3"}})  # m1.medium: 2, 4096 MiB
        assert resp.status_code == 202, resp.text
        _settled(two, sid, "VERIFY_RESIZE")
        assert _act(two, sid, {"confirmResize": None}).status_code == 204
        _settled(two, sid, "ACTIVE")
        assert _flavor(two, sid)["vcpus"] == 2
        _delete(two, sid)


def test_reverting_a_downsize_must_fit_the_quota():
    with Cloud(hosts=2, overrides={"quota.ram": 3000}) as two:
        small = {"flavor": {"name": "low-ram", "ram": 256, "vcpus": 1, "disk": 20,
                            "id": "low-ram"}}
        assert api_request(two, "POST", "/flavors", body=small).status_code == 200
        sid, _ = _booted(two, first_image_id(two), "downsize", flavor="2")  # m1.small: 2048 MiB
        assert _act(two, sid, {"resize": {"flavorRef": "low-ram"}}).status_code == 202
        _settled(two, sid, "VERIFY_RESIZE")
        # The room the downsize freed is taken by another server...
        other, _ = _booted(two, first_image_id(two), "takes-the-room", flavor="2")
        # ...so growing back (+1792 MiB on 256 + 2048 used of 3000) does not fit.
        resp = _act(two, sid, {"revertResize": None})
        assert resp.status_code == 403, resp.text
        assert "Quota exceeded for ram" in resp.text
        _settled(two, sid, "VERIFY_RESIZE")
        assert _flavor(two, sid)["ram"] == 256
        _delete(two, other)
        assert _act(two, sid, {"revertResize": None}).status_code == 202
        _settled(two, sid, "ACTIVE")
        assert _flavor(two, sid)["ram"] == 2048
        _delete(two, sid)
