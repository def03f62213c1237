"""The compute hosts' instance usage audit (issue 19): with [DEFAULT]
instance_usage_audit each host audits the last completed
instance_usage_audit_period once (a compute.instance.exists notification
per instance that ran in it, a task_log row), driven here by the embedded
cloud's virtual clock; GET /os-instance_usage_audit_log reports the rows,
checked against tempest's schemas."""
import datetime
import time

import oslo_messaging as messaging
import pytest

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas
from tests.functional import test_notifications as notifications_test


class Collector(notifications_test.Collector):
    def exists(self):
        with self.lock:
            return [(pub, p["nova_object.data"]) for t, pub, p in self.events
                    if t == "compute.instance.exists"]


@pytest.fixture(scope="module")
def cloud():
    overrides = {"instance_usage_audit": True, "instance_usage_audit_period": "hour",
                 "oslo_messaging_notifications.driver": ["messagingv2"]}
    with Cloud(hosts=2, clock="virtual", overrides=overrides) as c:
        yield c


@pytest.fixture(scope="module")
def collector(cloud):
    collector = Collector()
    listener = messaging.get_notification_listener(
        cloud.notification_transport, [messaging.Target(topic="versioned_notifications")],
        [collector], executor="threading")
    listener.start()
    yield collector
    listener.stop()
    listener.wait()


def _log(cloud, before=None):
    if before is None:
        resp = api_request(cloud, "GET", "/os-instance_usage_audit_log")
        return tempest_schemas.check(resp, "instance_usage_audit_log",
                                     "list_instance_usage_audit_log")[
            "instance_usage_audit_logs"]
    resp = api_request(cloud, "GET", f"/os-instance_usage_audit_log/{before}")
    return tempest_schemas.check(resp, "instance_usage_audit_log",
                                 "get_instance_usage_audit_log")["instance_usage_audit_log"]


def _boot(cloud, name, host):
    resp = api_request(cloud, "POST", "/servers", version="2.74", body={"server": {
        "name": name, "imageRef": first_image_id(cloud), "flavorRef": "1", "host": host,
        "networks": "none"}})
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    assert wait_for_server(cloud, sid)["status"] == "ACTIVE"
    return sid


def _hour(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


def _wait_for(check, timeout=10):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


def test_hosts_audit_each_completed_hour_once(cloud, collector):
    clock = cloud.clock
    # nothing audited yet: every host has not run
    log = _log(cloud)
    assert log["hosts_not_run"] == ["host1", "host2"] and log["log"] == {}
    assert (log["num_hosts"], log["num_hosts_done"], log["num_hosts_not_run"]) == (2, 0, 2)
    assert log["overall_status"] == "0 of 2 hosts done. 0 errors."
    end = _hour(clock.utcnow())
    assert (log["period_beginning"], log["period_ending"]) == (
        str(end - datetime.timedelta(hours=1)), str(end))

    # two minutes into the next hour: the hosts audit the hour that ended
    # (no instance ran in it)
    now = clock.utcnow()
    clock.advance((_hour(now) + datetime.timedelta(hours=1, minutes=2) - now).total_seconds())
    hour = _hour(clock.utcnow())
    log = _log(cloud)
    assert log["period_ending"] == str(hour)
    assert log["overall_status"] == "ALL hosts done. 0 errors."
    assert (log["num_hosts_done"], log["total_instances"], log["hosts_not_run"]) == (2, 0, [])
    assert log["log"]["host1"]["state"] == "DONE" and log["log"]["host1"]["instances"] == 0
    assert log["log"]["host1"]["message"].startswith(
        "Instance usage audit ran for host host1, 0 instances in ")

    # servers run during this hour: two on host1 (one deleted before its
    # end, it still ran in it), one on host2
    a, b, c = _boot(cloud, "a", "host1"), _boot(cloud, "b", "host2"), _boot(cloud, "c", "host1")
    assert api_request(cloud, "DELETE", f"/servers/{c}").status_code == 204
    wait_for_server(cloud, c, ("DELETED",))
    clock.advance(3600)
    log = _log(cloud)
    assert (log["period_beginning"], log["period_ending"]) == (
        str(hour), str(hour + datetime.timedelta(hours=1)))
    assert log["log"] == {
        "host1": {"state": "DONE", "instances": 2, "errors": 0,
                  "message": log["log"]["host1"]["message"]},
        "host2": {"state": "DONE", "instances": 1, "errors": 0,
                  "message": log["log"]["host2"]["message"]}}
    assert "host2, 1 instances in" in log["log"]["host2"]["message"]
    assert (log["total_instances"], log["total_errors"]) == (3, 0)
    assert log["overall_status"] == "ALL hosts done. 0 errors."
    # one compute.instance.exists per instance and period, from its host
    _wait_for(lambda: len([d for _, d in collector.exists()
                           if d["audit_period_ending"] == (hour + datetime.timedelta(
                               hours=1)).isoformat()]) == 3)
    heard = {(pub, d["uuid"]) for pub, d in collector.exists()
             if d["audit_period_beginning"] == hour.isoformat()}
    assert heard == {("compute.host1", a), ("compute.host1", c), ("compute.host2", b)}

    # a period is audited once: later checks in the same hour add nothing
    clock.advance(120)
    assert _log(cloud)["total_instances"] == 3
    assert len(collector.exists()) == 3

    # the period before a time: the earlier hour, as recorded then
    before = (hour + datetime.timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S")
    earlier = _log(cloud, before)
    assert earlier["period_ending"] == str(hour) and earlier["total_instances"] == 0
    assert earlier["num_hosts_done"] == 2
    # long ago: no host ran it
    old = _log(cloud, "2020-01-01 00:30:00.5")
    assert old["period_beginning"] == "2019-12-31 23:00:00"
    assert old["overall_status"] == "0 of 2 hosts done. 0 errors."


def test_bad_timestamps_and_non_admins_are_refused(cloud):
    resp = api_request(cloud, "GET", "/os-instance_usage_audit_log/not-a-time")
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == "Invalid timestamp for date not-a-time"
    resp = api_request(cloud, "GET", "/os-instance_usage_audit_log", token="demo:demo")
    assert resp.status_code == 403 and "forbidden" in resp.json()


def test_without_the_option_no_host_audits():
    with Cloud(clock="virtual") as cloud:
        cloud.clock.advance(2 * 3600)
        log = _log(cloud)
        assert log["hosts_not_run"] == ["host1"] and log["num_hosts_done"] == 0
        assert log["period_ending"].endswith("-01 00:00:00")  # the default: a month
