"""/os-simple-tenant-usage: what projects used in a period (server hours,
and vCPU, RAM and disk hours), for every project (admin) or one, counted
from the servers' launch and termination times, deleted servers included.
Pages (limit, marker: a server) from 2.40."""
from __future__ import annotations

import datetime
from urllib.parse import urlencode

from compute_core.api import policy, query
from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionRange
from compute_core.apispec import keyed, operation
from compute_core.db import usage as usage_db

_ROOT = "os_compute_api:os-simple-tenant-usage:"
RULES = (
    policy.rule(_ROOT + "list", policy.ADMIN, "Show every project's usage",
                [("GET", "/os-simple-tenant-usage")]),
    policy.rule(_ROOT + "show", policy.PROJECT_READER_OR_ADMIN, "Show a project's usage",
                [("GET", "/os-simple-tenant-usage/{tenant_id}")]),
)

PAGES = VersionRange("2.40")
QUERY = {"start": {"type": "string"}, "end": {"type": "string"},
         "detailed": {"type": "string"}, "limit": {"type": "integer", "minimum": 0},
         "marker": {"type": "string"}}


def list_query(version):
    """The parameters at *version*: paging (limit, marker) from 2.40."""
    return QUERY if version in PAGES else {name: QUERY[name]
                                           for name in ("start", "end", "detailed")}
_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _time(call, name, now):
    """*name* (start, end) in one of Nova's three forms, or *now* when not
    given. As Nova reads them: the first value that is not blank."""
    raw = next((v for v in call.req.GET.getall(name) if v), None)
    if raw is None:
        return now
    for fmt in _FORMATS:
        try:
            return datetime.datetime.strptime(raw, fmt)
        except ValueError:
            continue
    raise APIError(400, "Invalid datetime string: Datetime is in invalid format "
                        f"({name}: {raw!r})")


def _period(call):
    q = call.req.GET
    allowed = set(QUERY) if call.version in PAGES else {"start", "end", "detailed"}
    query.refuse_unknown(call, allowed)
    now = _now()
    start, stop = _time(call, "start", now), _time(call, "end", now)
    if not start < stop:
        raise APIError(400, "Invalid start time. The start time cannot occur after the end "
                            "time.")
    return start, stop, next((v for v in q.getall("detailed") if v), "0") == "1"


def _pages(call):
    if call.version not in PAGES:
        return call.services.conf.api.max_limit, None
    return query.page_limit(call), call.req.GET.get("marker")


def _hours(inst, start, stop) -> float:
    launched, terminated = inst.get("launched_at"), inst.get("terminated_at")
    if launched is None or launched > stop or (terminated and terminated < start):
        return 0
    end = min(stop, terminated) if terminated else stop
    return (end - max(launched, start)).total_seconds() / 3600.0


def _instances(call, start, stop, project_id, limit, marker):
    found = []
    for cell in call.services.cells.cells(include_cell0=False):
        try:
            found += usage_db.active_in_window(call.services.cells.get(cell["uuid"]), start, stop,
                                               project_id, limit, marker)
        except usage_db.MarkerNotFound:
            continue
        marker = None  # found in this cell: the next cells start from their first
        if limit is not None:
            limit -= len(found)
            if limit <= 0:
                break
    if marker is not None and not found:
        raise APIError(400, f"Marker {marker} could not be found.")
    return found


def usages(call, start, stop, project_id=None, detailed=True, limit=None, marker=None):
    """([tenant usage], [server usage]) of the period."""
    now = _now()
    by_project: dict = {}
    servers = []
    for inst in _instances(call, start, stop, project_id, limit, marker):
        flavor = inst.get("flavor") or {}
        hours = _hours(inst, start, stop)
        ended = inst.get("terminated_at")
        state = "terminated" if ended else inst.get("vm_state")
        server = {
            "instance_id": inst["uuid"], "name": inst.get("display_name") or "",
            "hours": hours, "memory_mb": flavor.get("memory_mb", inst.get("memory_mb") or 0),
            "local_gb": (flavor.get("root_gb", inst.get("root_gb") or 0)
                         + flavor.get("ephemeral_gb", inst.get("ephemeral_gb") or 0)),
            "vcpus": flavor.get("vcpus", inst.get("vcpus") or 0),
            "tenant_id": inst.get("project_id"), "flavor": flavor.get("name", ""),
            "started_at": inst["launched_at"].isoformat(),
            "ended_at": ended.isoformat() if ended else None, "state": state,
            "uptime": int(((ended or now) - inst["launched_at"]).total_seconds()),
        }
        summary = by_project.get(server["tenant_id"])
        if summary is None:
            summary = by_project[server["tenant_id"]] = {
                "tenant_id": server["tenant_id"], "total_local_gb_usage": 0,
                "total_vcpus_usage": 0, "total_memory_mb_usage": 0, "total_hours": 0,
                "start": start.isoformat(), "stop": stop.isoformat()}
            if detailed:
                summary["server_usages"] = []
        summary["total_local_gb_usage"] += server["local_gb"] * hours
        summary["total_vcpus_usage"] += server["vcpus"] * hours
        summary["total_memory_mb_usage"] += server["memory_mb"] * hours
        summary["total_hours"] += hours
        if detailed:
            summary["server_usages"].append(server)
        servers.append(server)
    return list(by_project.values()), servers


def _links(call, servers, limit, key):
    if call.version in PAGES and servers and len(servers) == limit:
        qs = dict(call.req.GET)
        qs.update(limit=str(limit), marker=servers[-1]["instance_id"])
        path = call.req.path_info.lstrip("/")
        return {key: [{"rel": "next", "href": f"{call.req.application_url}/{path}?"
                                              f"{urlencode(qs)}"}]}
    return {}


@operation("listTenantUsages", "Every project's usage in a period",
           ok={200: keyed("tenant_usages")}, errors=(400, 403), admin=True, query=list_query)
def index(call):
    call.authorize(_ROOT + "list", {})
    start, stop, detailed = _period(call)
    stop = min(stop, _now())
    limit, marker = _pages(call)
    found, servers = usages(call, start, stop, None, detailed, limit, marker)
    return 200, {"tenant_usages": found,
                 **_links(call, servers, limit, "tenant_usages_links")}


@operation("showTenantUsage", "A project's usage in a period", ok={200: keyed("tenant_usage")},
           errors=(400, 403), query=list_query)
def show(call, tenant_id):
    call.authorize(_ROOT + "show", {"project_id": tenant_id})
    start, stop, _ = _period(call)
    stop = min(stop, _now())
    limit, marker = _pages(call)
    found, servers = usages(call, start, stop, tenant_id, True, limit, marker)
    return 200, {"tenant_usage": found[0] if found else {},
                 **_links(call, servers, limit, "tenant_usage_links")}


ROUTES = {
    "/os-simple-tenant-usage": {"GET": index},
    "/os-simple-tenant-usage/{tenant_id}": {"GET": show},
}
