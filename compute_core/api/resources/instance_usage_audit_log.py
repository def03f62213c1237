"""/os-instance_usage_audit_log (and /{before_timestamp}): how far the
compute hosts' usage audit of the last period went. Hosts record an audit
of a period in the cell's task log; a period no host audited shows every
compute host as not run, as Nova shows it when auditing is off."""
from __future__ import annotations

import datetime

from compute_core.api import hosts, policy
from compute_core.api.faults import APIError
from compute_core.apispec import keyed, operation

_ROOT = "os_compute_api:os-instance-usage-audit-log:"
RULES = (
    policy.rule(_ROOT + "list", policy.ADMIN, "The usage audit of the last month",
                [("GET", "/os-instance_usage_audit_log")]),
    policy.rule(_ROOT + "show", policy.ADMIN, "The usage audit of the month before a time",
                [("GET", "/os-instance_usage_audit_log/{before_timestamp}")]),
)
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M:%S.%f")


def _period(before):
    """The last whole month (Nova's audit period) that ends before *before*."""
    end = before.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - datetime.timedelta(days=1)).replace(day=1)
    return start, end


def _audit(call, before):
    start, end = _period(before)
    computes = [s["host"] for s in hosts.services(call.services, binary=hosts.COMPUTE_BINARY)]
    # The hosts record no audit task (instance usage auditing is off): every
    # host has not run for the period.
    not_run = sorted(set(computes))
    return {"instance_usage_audit_logs": {
        "hosts_not_run": not_run, "log": {}, "num_hosts": len(not_run),
        "num_hosts_done": 0, "num_hosts_not_run": len(not_run), "num_hosts_running": 0,
        "overall_status": f"0 of {len(not_run)} hosts done. 0 errors.",
        "period_beginning": start.strftime("%Y-%m-%d %H:%M:%S"),
        "period_ending": end.strftime("%Y-%m-%d %H:%M:%S"),
        "total_errors": 0, "total_instances": 0}}


@operation("listInstanceUsageAuditLogs", "The usage audit of the last month",
           ok={200: keyed("instance_usage_audit_logs")}, errors=(403,), admin=True)
def index(call):
    call.authorize(_ROOT + "list", {})
    return 200, _audit(call, datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None))


@operation("showInstanceUsageAuditLog", "The usage audit of the month before a time",
           ok={200: {}}, errors=(400, 403), admin=True)
def show(call, before_timestamp):
    call.authorize(_ROOT + "show", {})
    for fmt in _FORMATS:
        try:
            before = datetime.datetime.strptime(before_timestamp, fmt)
            break
        except ValueError:
            continue
    else:
        raise APIError(400, "Invalid timestamp for date " + before_timestamp)
    body = _audit(call, before)
    return 200, {"instance_usage_audit_log": body["instance_usage_audit_logs"]}


ROUTES = {
    "/os-instance_usage_audit_log": {"GET": index},
    "/os-instance_usage_audit_log/{before_timestamp}": {"GET": show},
}
