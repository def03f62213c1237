"""/os-instance_usage_audit_log (and /{before_timestamp}): how far the
compute hosts' usage audit (the periodic task of [DEFAULT]
instance_usage_audit) went for the last period of [DEFAULT]
instance_usage_audit_period completed before now (or before the time
given). Each host records its audit of a period in its cell's task log;
a compute host with no row for the period has not run it, as Nova reports
(disabled hosts included: they may have instances)."""
from __future__ import annotations

import datetime

from compute_core.api import hosts, policy
from compute_core.api.faults import APIError
from compute_core.apispec import keyed, operation
from compute_core.compute import audit
from compute_core.db import cell_db, task_log

_ROOT = "os_compute_api:os-instance-usage-audit-log:"
RULES = (
    policy.rule(_ROOT + "list", policy.ADMIN, "The usage audit of the last period",
                [("GET", "/os-instance_usage_audit_log")]),
    policy.rule(_ROOT + "show", policy.ADMIN, "The usage audit of the period before a time",
                [("GET", "/os-instance_usage_audit_log/{before_timestamp}")]),
)


def _audit(call, before, period=None):
    s = call.services
    begin, end = period or audit.last_completed_period(s.conf.instance_usage_audit_period,
                                                       before)
    rows = []
    for cell in s.cells.cells(include_cell0=False):
        rows += task_log.list_tasks(s.cells.get(cell["uuid"]), audit.TASK_NAME, begin, end)
    computes = {svc["host"] for svc in hosts.services(s, binary=hosts.COMPUTE_BINARY)}
    seen = {r["host"] for r in rows}
    done = {r["host"] for r in rows if r["state"] == "DONE"}
    running = {r["host"] for r in rows if r["state"] == "RUNNING"}
    errors = sum(r["errors"] or 0 for r in rows)
    done_text = "ALL" if len(done) == len(computes) else f"{len(done)} of {len(computes)}"
    return {
        "hosts_not_run": sorted(computes - seen),
        "log": {r["host"]: {"state": r["state"], "instances": r["task_items"] or 0,
                            "errors": r["errors"] or 0, "message": r["message"]}
                for r in rows},
        "num_hosts": len(computes), "num_hosts_done": len(done),
        "num_hosts_not_run": len(computes - seen), "num_hosts_running": len(running),
        "overall_status": f"{done_text} hosts done. {errors} errors.",
        "period_beginning": str(begin), "period_ending": str(end),
        "total_errors": errors, "total_instances": sum(r["task_items"] or 0 for r in rows)}


@operation("listInstanceUsageAuditLogs", "The usage audit of the last period",
           ok={200: keyed("instance_usage_audit_logs")}, errors=(403,), admin=True)
def index(call):
    call.authorize(_ROOT + "list", {})
    return 200, {"instance_usage_audit_logs": _audit(call, cell_db.now())}


@operation("showInstanceUsageAuditLog", "The usage audit of the period before a time",
           ok={200: {}}, errors=(400, 403), admin=True)
def show(call, before_timestamp):
    call.authorize(_ROOT + "show", {})
    # Nova's two forms, a space between date and time (no "T"), fractional
    # seconds when there is a dot
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in before_timestamp else "%Y-%m-%d %H:%M:%S"
    try:
        before = datetime.datetime.strptime(before_timestamp, fmt)
    except ValueError:
        raise APIError(400, "Invalid timestamp for date " + before_timestamp) from None
    unit = call.services.conf.instance_usage_audit_period
    try:
        period = audit.last_completed_period(unit, before)
    except (ValueError, OverflowError):
        # the period before it would start before year 1
        raise APIError(400, f"Invalid timestamp for date {before_timestamp}: no audit "
                            f"period ({unit}) completes before it") from None
    return 200, {"instance_usage_audit_log": _audit(call, before, period)}


ROUTES = {
    "/os-instance_usage_audit_log": {"GET": index},
    "/os-instance_usage_audit_log/{before_timestamp}": {"GET": show},
}
