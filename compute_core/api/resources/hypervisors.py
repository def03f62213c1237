"""/os-hypervisors: the compute nodes of every cell (admin)."""
from __future__ import annotations

import json
import uuid

from compute_core.api import hosts, policy
from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionRange
from compute_core.api.views import ViewFields
from compute_core.apispec import keyed, operation

RULES = (
    policy.rule("os_compute_api:os-hypervisors:list", policy.ADMIN, "List hypervisors",
                [("GET", "/os-hypervisors")]),
    policy.rule("os_compute_api:os-hypervisors:list-detail", policy.ADMIN,
                "List hypervisors with details", [("GET", "/os-hypervisors/detail")]),
    policy.rule("os_compute_api:os-hypervisors:show", policy.ADMIN, "Show a hypervisor",
                [("GET", "/os-hypervisors/{hypervisor_id}")]),
)

IDS_ARE_UUIDS = VersionRange("2.53")
QUERY = {"hypervisor_hostname_pattern": {"type": "string"}}


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
    ("uptime", "2.88", None, lambda node, svc: None),
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


def _nodes(call):
    nodes = hosts.compute_nodes(call.services)
    pattern = call.req.GET.get("hypervisor_hostname_pattern")
    if pattern:
        nodes = [n for n in nodes if pattern in n["hypervisor_hostname"]]
        if not nodes:
            raise APIError(404, f"No hypervisor matching '{pattern}' could be found.")
    return nodes


@operation("listHypervisors", "List hypervisors", ok={200: keyed("hypervisors")},
           errors=(403, 404), admin=True, query=QUERY)
def index(call):
    call.authorize("os_compute_api:os-hypervisors:list")
    return 200, {"hypervisors": [hypervisor_view(call.version, n, False)
                                 for n in _nodes(call)]}


@operation("listHypervisorsDetailed", "List hypervisors with details",
           ok={200: keyed("hypervisors")}, errors=(403, 404), admin=True, query=QUERY)
def detail(call):
    call.authorize("os_compute_api:os-hypervisors:list-detail")
    return 200, {"hypervisors": [hypervisor_view(call.version, n, True)
                                 for n in _nodes(call)]}


@operation("showHypervisor", "Show a hypervisor", ok={200: keyed("hypervisor")},
           errors=(403, 404), admin=True)
def show(call, hypervisor_id):
    call.authorize("os_compute_api:os-hypervisors:show")
    for node in hosts.compute_nodes(call.services):
        if str(node["id"]) == hypervisor_id or node["uuid"] == hypervisor_id:
            return 200, {"hypervisor": hypervisor_view(call.version, node, True)}
    if call.version in IDS_ARE_UUIDS:
        try:
            uuid.UUID(hypervisor_id)
        except ValueError:
            raise APIError(400, f"Invalid uuid {hypervisor_id}") from None
    raise APIError(404, f"Hypervisor {hypervisor_id} could not be found.")


ROUTES = {
    "/os-hypervisors": {"GET": index},
    "/os-hypervisors/detail": {"GET": detail},
    "/os-hypervisors/{hypervisor_id}": {"GET": show},
}
