"""ComputeManager.instance_usage_audit (Nova's _instance_usage_audit): the
task log's RUNNING row, a notification per instance, the DONE row with the
errors counted; once per period; nothing when the option is off."""
from __future__ import annotations

import datetime

from compute_core import clock
from compute_core import conf as conf_mod
from compute_core.compute.manager import ComputeManager
from compute_core.virt.driver import load_driver


class AuditConductor:
    """The conductor's 1.10 task log, over a dict keyed by period and host."""

    def __init__(self, instances):
        self.instances = instances
        self.rows = {}
        self.asked = []

    def task_log_get(self, ctxt, task_name, begin, end, host):
        return self.rows.get((task_name, begin, end, host))

    def instances_active_in_window(self, ctxt, host, begin, end):
        self.asked.append((host, begin, end))
        return list(self.instances)

    def task_log_begin_task(self, ctxt, task_name, begin, end, host, items, message):
        key = (task_name, begin, end, host)
        if key in self.rows:
            return {"error": "TaskAlreadyRunning", "message": "running"}
        self.rows[key] = {"state": "RUNNING", "task_items": items, "errors": 0,
                          "message": message}
        return self.rows[key]

    def task_log_end_task(self, ctxt, task_name, begin, end, host, errors, message):
        self.rows[(task_name, begin, end, host)].update(state="DONE", errors=errors,
                                                        message=message)


class Notifier:
    """Refuses the notification of the instance named "bad"."""

    def __init__(self):
        self.sent = []

    def info(self, ctxt, event_type, payload):
        if payload["nova_object.data"]["uuid"] == "bad":
            raise RuntimeError("the notification bus refused it")
        self.sent.append((event_type, payload["nova_object.data"]))


def _manager(conductor, **overrides):
    conf = conf_mod.load(args=[], overrides={"compute_driver": "fake", **overrides})
    notifier = Notifier()
    return ComputeManager(conf, "h1", load_driver(conf, "h1"), conductor, None,
                          notifier), notifier


def _inst(uuid):
    return {"uuid": uuid, "project_id": "p", "user_id": "u", "host": "h1",
            "vm_state": "active", "flavor": {"name": "m1"}, "image_ref": "img",
            "launched_at": "2026-12-04T10:00:00"}


def test_an_audit_records_its_run_and_counts_the_failures():
    conductor = AuditConductor([_inst("good"), _inst("bad"), _inst("other")])
    mgr, notifier = _manager(conductor, instance_usage_audit=True,
                             instance_usage_audit_period="day")
    mgr.instance_usage_audit()
    today = clock.utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    period = ((today - datetime.timedelta(days=1)).isoformat(), today.isoformat())
    assert conductor.asked == [("h1", *period)]
    row = conductor.rows[("instance_usage_audit", *period, "h1")]
    assert (row["state"], row["task_items"], row["errors"]) == ("DONE", 3, 1)
    assert row["message"].startswith("Instance usage audit ran for host h1, 3 instances in ")
    assert [(t, d["uuid"]) for t, d in notifier.sent] == [
        ("compute.instance.exists", "good"), ("compute.instance.exists", "other")]
    assert notifier.sent[0][1]["audit_period_beginning"] == period[0]
    assert notifier.sent[0][1]["audit_period_ending"] == period[1]
    # the same period is not audited twice
    mgr.instance_usage_audit()
    assert len(conductor.asked) == 1 and len(notifier.sent) == 2


def test_no_audit_when_the_option_is_off():
    conductor = AuditConductor([_inst("good")])
    mgr, notifier = _manager(conductor)
    mgr.instance_usage_audit()
    assert conductor.rows == {} and notifier.sent == [] and conductor.asked == []
