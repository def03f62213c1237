"""/os-hypervisors: the compute nodes of every cell (admin)."""
from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

from compute_core.api import hosts, policy, query
from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionRange, versioned
from compute_core.api.views import ViewFields
from compute_core.apispec import keyed, operation
from compute_core.db import cell_db

RULES = (
    policy.rule("os_compute_api:os-hypervisors:list", policy.ADMIN, "List hypervisors",
                [("GET", "/os-hypervisors")]),
    policy.rule("os_compute_api:os-hypervisors:list-detail", policy.ADMIN,
                "List hypervisors with details", [("GET", "/os-hypervisors/detail")]),
    policy.rule("os_compute_api:os-hypervisors:show", policy.ADMIN, "Show a hypervisor",
                [("GET", "/os-hypervisors/{hypervisor_id}")]),
    policy.rule("os_compute_api:os-hypervisors:statistics", policy.ADMIN,
                "Show the totals of every hypervisor (before 2.88)",
                [("GET", "/os-hypervisors/statistics")]),
    policy.rule("os_compute_api:os-hypervisors:uptime", policy.ADMIN,
                "Show a hypervisor's uptime (before 2.88)",
                [("GET", "/os-hypervisors/{hypervisor_id}/uptime")]),
    policy.rule("os_compute_api:os-hypervisors:search", policy.ADMIN,
                "Search hypervisors by host name (before 2.53)",
                [("GET", "/os-hypervisors/{hypervisor_hostname_pattern}/search")]),
    policy.rule("os_compute_api:os-hypervisors:servers", policy.ADMIN,
                "List the servers of hypervisors (before 2.53)",
                [("GET", "/os-hypervisors/{hypervisor_hostname_pattern}/servers")]),
)

IDS_ARE_UUIDS = VersionRange("2.53")
PAGES = VersionRange("2.33")  # limit and marker on the listings
WITH_SERVERS = VersionRange("2.53")  # ?with_servers= (and the pattern as a query)
SERVERS_ALWAYS = VersionRange("2.75")  # with_servers shows "servers": [] on an empty host
QUERY = {"hypervisor_hostname_pattern": {"type": "string"}, "with_servers": {"type": "string"},
         "limit": {"type": "integer", "minimum": 0}, "marker": {"type": "string"}}


def list_query(version):
    """The listings' parameters at *version*: paging from 2.33, the pattern
    and with_servers from 2.53 (before, others are ignored)."""
    names = (("limit", "marker") if version in PAGES else ()) + \
        (("hypervisor_hostname_pattern", "with_servers") if version in WITH_SERVERS else ())
    return {name: schema for name, schema in QUERY.items() if name in names}


def _cpu_info_text(node):
    return node.get("cpu_info") or "{}"


def _cpu_info_object(node):
    try:
        return json.loads(node.get("cpu_info") or "{}")
    except ValueError:
        return {}


def _free_disk(node):
    return node["local_gb"] - node["local_gb_used"]


# The fields of a hypervisor by version: in both views ...
FIELDS = ViewFields(
    ("id", None, "2.52", lambda node, svc: node["id"]),
    ("id", "2.53", None, lambda node, svc: node["uuid"]),
)
# ... and in the detailed one (the usage figures leave at 2.88: placement has them)
DETAIL_FIELDS = ViewFields(
    ("service", None, "2.52", lambda node, svc: {
        "host": node["host"], "id": svc.get("id"),
        "disabled_reason": svc.get("disabled_reason")}),
    ("service", "2.53", None, lambda node, svc: {
        "host": node["host"], "id": svc.get("uuid"),
        "disabled_reason": svc.get("disabled_reason")}),
    ("cpu_info", None, "2.27", lambda node, svc: _cpu_info_text(node)),
    ("cpu_info", "2.28", "2.87", lambda node, svc: _cpu_info_object(node)),
    *((name, None, "2.87", getter) for name, getter in (
        ("vcpus", lambda node, svc: node["vcpus"]),
        ("vcpus_used", lambda node, svc: node["vcpus_used"]),
        ("memory_mb", lambda node, svc: node["memory_mb"]),
        ("memory_mb_used", lambda node, svc: node["memory_mb_used"]),
        ("local_gb", lambda node, svc: node["local_gb"]),
        ("local_gb_used", lambda node, svc: node["local_gb_used"]),
        ("free_ram_mb", lambda node, svc: node["memory_mb"] - node["memory_mb_used"]),
        ("free_disk_gb", lambda node, svc: _free_disk(node)),
        ("current_workload", lambda node, svc: node.get("current_workload") or 0),
        ("running_vms", lambda node, svc: node.get("running_vms") or 0),
        ("disk_available_least", lambda node, svc: _free_disk(node)),
    )),
    ("uptime", "2.88", None, lambda node, svc: (node.get("stats") or {}).get("uptime")),
)


def hypervisor_view(version, node, detail):
    svc = node.get("service") or {}
    out = FIELDS.add({"hypervisor_hostname": node["hypervisor_hostname"],
                      "state": "up" if svc.get("up") else "down",
                      "status": "disabled" if svc.get("disabled") else "enabled"},
                     version, node, svc)
    if not detail:
        return out
    out.update({"host_ip": node.get("host_ip"), "hypervisor_type": node["hypervisor_type"],
                "hypervisor_version": node["hypervisor_version"]})
    return DETAIL_FIELDS.add(out, version, node, svc)


def _matching(call, pattern):
    nodes = [n for n in hosts.compute_nodes(call.services)
             if pattern in n["hypervisor_hostname"]]
    if not nodes:
        raise APIError(404, f"No hypervisor matching '{pattern}' could be found.")
    return nodes


def _nodes(call):
    nodes = sorted(hosts.compute_nodes(call.services), key=lambda n: (n["cell_uuid"], n["id"]))
    pattern = call.req.GET.get("hypervisor_hostname_pattern")
    if pattern and call.version in WITH_SERVERS:
        nodes = _matching(call, pattern)
    return nodes


def _with_servers(call) -> bool:
    if call.version not in WITH_SERVERS:
        return False
    raw = str(call.req.GET.get("with_servers", "false")).lower()
    if raw not in ("true", "false", "1", "0", "yes", "no", "on", "off", "t", "f", "y", "n"):
        raise APIError(400, f"Invalid input for query parameters with_servers. Value: {raw}. "
                            "It is not a boolean")
    return raw in ("true", "1", "yes", "on", "t", "y")


def servers_by_node(call, nodes) -> dict:
    """{(cell, host, node): [{"name", "uuid"}]} of the live servers on *nodes*."""
    out: dict = {}
    for cell_uuid in {n["cell_uuid"] for n in nodes}:
        db = call.services.cells.get(cell_uuid)
        for inst in cell_db.list_instances(db, {"host": [n["host"] for n in nodes
                                                         if n["cell_uuid"] == cell_uuid]},
                                           sort_dir="asc", with_faults=False):
            out.setdefault((cell_uuid, inst["host"], inst.get("node")), []).append(
                {"name": inst.get("display_name") or "", "uuid": inst["uuid"]})
    return out


def _views(call, nodes, detail, servers=False):
    found = servers_by_node(call, nodes) if servers else {}
    out = []
    for node in nodes:
        view = hypervisor_view(call.version, node, detail)
        mine = found.get((node["cell_uuid"], node["host"], node["hypervisor_hostname"]))
        if mine:
            view["servers"] = mine
        elif servers and call.version in SERVERS_ALWAYS:
            view["servers"] = []
        out.append(view)
    return out


def _list(call, detail):
    nodes = _nodes(call)
    body = {}
    if call.version in PAGES and ("limit" in call.req.GET or "marker" in call.req.GET):
        marker = call.req.GET.get("marker")
        if marker is not None:
            at = next((i for i, n in enumerate(nodes)
                       if marker in (str(n["id"]), n["uuid"])), None)
            if at is None:
                raise APIError(400, f"marker [{marker}] not found")
            nodes = nodes[at + 1:]
        limit = query.page_limit(call)
        more = len(nodes) > limit
        nodes = nodes[:limit]
        if more and nodes:
            qs = dict(call.req.GET)
            last = nodes[-1]
            qs.update(limit=str(limit),
                      marker=last["uuid"] if call.version in IDS_ARE_UUIDS else str(last["id"]))
            path = "os-hypervisors/detail" if detail else "os-hypervisors"
            body["hypervisors_links"] = [{"rel": "next", "href": f"{call.req.application_url}/"
                                          f"{path}?{urlencode(qs)}"}]
    body = {"hypervisors": _views(call, nodes, detail, _with_servers(call)), **body}
    return 200, body


@operation("listHypervisors", "List hypervisors", ok={200: keyed("hypervisors")},
           errors=(400, 403, 404), admin=True, query=list_query)
def index(call):
    call.authorize("os_compute_api:os-hypervisors:list")
    return _list(call, False)


@operation("listHypervisorsDetailed", "List hypervisors with details",
           ok={200: keyed("hypervisors")}, errors=(400, 403, 404), admin=True, query=list_query)
def detail(call):
    call.authorize("os_compute_api:os-hypervisors:list-detail")
    return _list(call, True)


_TOTALS = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used",
           "free_ram_mb", "free_disk_gb", "current_workload", "running_vms",
           "disk_available_least")


@versioned(None, "2.87")
@operation("showHypervisorStatistics", "The totals of every hypervisor (before 2.88)",
           ok={200: keyed("hypervisor_statistics")}, errors=(403,), admin=True)
def statistics(call):
    call.authorize("os_compute_api:os-hypervisors:statistics")
    nodes = hosts.compute_nodes(call.services)
    totals = dict.fromkeys(_TOTALS, 0)
    for node in nodes:
        view = DETAIL_FIELDS.add({}, "2.1", node, node.get("service") or {})
        for key in _TOTALS:
            totals[key] += view[key] or 0
    return 200, {"hypervisor_statistics": {"count": len(nodes), **totals}}


@versioned(None, "2.52")
@operation("searchHypervisors", "Hypervisors whose host name holds a pattern (before 2.53)",
           ok={200: keyed("hypervisors")}, errors=(403, 404), admin=True)
def search(call, hypervisor_hostname_pattern):
    call.authorize("os_compute_api:os-hypervisors:search")
    return 200, {"hypervisors": _views(call, _matching(call, hypervisor_hostname_pattern),
                                       False)}


@versioned(None, "2.52")
@operation("listHypervisorServers", "The servers of the hypervisors whose host name holds "
           "a pattern (before 2.53)", ok={200: keyed("hypervisors")}, errors=(403, 404),
           admin=True)
def servers(call, hypervisor_hostname_pattern):
    call.authorize("os_compute_api:os-hypervisors:servers")
    return 200, {"hypervisors": _views(call, _matching(call, hypervisor_hostname_pattern),
                                       False, servers=True)}


@operation("showHypervisor", "Show a hypervisor", ok={200: keyed("hypervisor")},
           errors=(403, 404), admin=True)
def show(call, hypervisor_id):
    call.authorize("os_compute_api:os-hypervisors:show")
    with_servers = _with_servers(call)
    node = _node(call, hypervisor_id)
    return 200, {"hypervisor": _views(call, [node], True, with_servers)[0]}


@versioned(None, "2.87")
@operation("showHypervisorUptime", "A hypervisor's uptime (before 2.88)",
           ok={200: keyed("hypervisor")}, errors=(400, 403, 404, 501), admin=True)
def uptime(call, hypervisor_id):
    call.authorize("os_compute_api:os-hypervisors:uptime")
    node = _node(call, hypervisor_id)
    found = (node.get("stats") or {}).get("uptime")
    if not found:
        raise APIError(501, "Action is not supported by this host's driver.")
    return 200, {"hypervisor": dict(hypervisor_view(call.version, node, False), uptime=found)}


def _node(call, hypervisor_id):
    for node in hosts.compute_nodes(call.services):
        if str(node["id"]) == hypervisor_id or node["uuid"] == hypervisor_id:
            return node
    if call.version in IDS_ARE_UUIDS:
        try:
            uuid.UUID(hypervisor_id)
        except ValueError:
            raise APIError(400, f"Invalid uuid {hypervisor_id}") from None
    raise APIError(404, f"Hypervisor {hypervisor_id} could not be found.")


ROUTES = {
    "/os-hypervisors": {"GET": index},
    "/os-hypervisors/detail": {"GET": detail},
    "/os-hypervisors/statistics": {"GET": statistics},
    "/os-hypervisors/{hypervisor_id}": {"GET": show},
    "/os-hypervisors/{hypervisor_id}/uptime": {"GET": uptime},
    "/os-hypervisors/{hypervisor_hostname_pattern}/search": {"GET": search},
    "/os-hypervisors/{hypervisor_hostname_pattern}/servers": {"GET": servers},
}
