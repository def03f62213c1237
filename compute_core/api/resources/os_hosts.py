"""/os-hosts (before 2.43, as Nova still serves it): the hosts of the
services (no API services), a compute host's resources by project, and
enabling or disabling a host's compute service."""
from __future__ import annotations

from compute_core.api import hosts, policy, schemas
from compute_core.api.faults import APIError
from compute_core.api.microversion import versioned
from compute_core.apispec import keyed, operation
from compute_core.db import cell_db

_ROOT = "os_compute_api:os-hosts:"
RULES = tuple(
    policy.rule(_ROOT + name, policy.ADMIN, summary, ops) for name, summary, ops in (
        ("list", "List hosts (before 2.43)", [("GET", "/os-hosts")]),
        ("show", "Show a host's resources (before 2.43)", [("GET", "/os-hosts/{host_name}")]),
        ("update", "Enable or disable a host, or put it in maintenance (before 2.43)",
         [("PUT", "/os-hosts/{host_name}")]),
        ("start", "Start a host (before 2.43)", [("GET", "/os-hosts/{host_name}/startup")]),
        ("shutdown", "Shut a host down (before 2.43)",
         [("GET", "/os-hosts/{host_name}/shutdown")]),
        ("reboot", "Reboot a host (before 2.43)", [("GET", "/os-hosts/{host_name}/reboot")]),
    ))
_UNTIL = "2.42"
# the services' topics, as os-hosts names them
_TOPIC = {"compute-compute": "compute", "compute-conductor": "conductor",
          "compute-scheduler": "scheduler"}
UPDATE = {"type": "object",
          "properties": {"status": {"type": "string", "pattern": r"^\s*(?i:enable|disable)\s*$"},
                         "maintenance_mode": {"type": "string",
                                              "pattern": r"^\s*(?i:enable|disable)\s*$"}},
          "anyOf": [{"required": ["status"]}, {"required": ["maintenance_mode"]}],
          "additionalProperties": False}


@versioned(None, _UNTIL)
@operation("listHosts", "List hosts (before 2.43)", ok={200: keyed("hosts")}, errors=(403,),
           admin=True, query={"zone": {"type": "string"}})
def index(call):
    call.authorize(_ROOT + "list", {})
    zone_of = hosts.HostZones(call.services)
    wanted = call.req.GET.get("zone")
    out = []
    for svc in hosts.services(call.services):
        if svc["disabled"]:
            continue
        zone = zone_of(svc["host"]) if svc["binary"] == hosts.COMPUTE_BINARY \
            else zone_of.internal
        if wanted and zone != wanted:
            continue
        out.append({"host_name": svc["host"],
                    "service": _TOPIC.get(svc["binary"], svc.get("topic") or svc["binary"]),
                    "zone": zone})
    return 200, {"hosts": out}


def _compute(call, host_name):
    found = hosts.services(call.services, host=host_name, binary=hosts.COMPUTE_BINARY)
    if not found:
        raise APIError(404, f"Compute host {host_name} could not be found.")
    return found[0]


@versioned(None, _UNTIL)
@operation("showHost", "A compute host's resources: total, used now, used by its servers, "
           "by project (before 2.43)", ok={200: keyed("host")}, errors=(403, 404), admin=True)
def show(call, host_name):
    call.authorize(_ROOT + "show", {})
    svc = _compute(call, host_name)
    db = call.services.cells.get(svc["cell_uuid"])
    nodes = cell_db.list_compute_nodes(db, host=host_name)
    if not nodes:
        raise APIError(404, f"Compute host {host_name} could not be found.")
    node = nodes[0]
    instances = cell_db.list_instances(db, {"host": host_name}, with_faults=False)

    def resource(project, cpu, memory_mb, disk_gb):
        return {"resource": {"host": host_name, "project": project, "cpu": cpu,
                             "memory_mb": memory_mb, "disk_gb": disk_gb}}

    out = [resource("(total)", node["vcpus"], node["memory_mb"], node["local_gb"]),
           resource("(used_now)", node["vcpus_used"], node["memory_mb_used"],
                    node["local_gb_used"])]
    by_project: dict = {}
    for inst in instances:
        used = by_project.setdefault(inst["project_id"], [0, 0, 0])
        used[0] += inst.get("vcpus") or 0
        used[1] += inst.get("memory_mb") or 0
        used[2] += (inst.get("root_gb") or 0) + (inst.get("ephemeral_gb") or 0)
    totals = [sum(v[i] for v in by_project.values()) for i in range(3)]
    out.append(resource("(used_max)", *totals))
    out.extend(resource(project, *used) for project, used in by_project.items())
    return 200, {"host": out}


@versioned(None, _UNTIL)
@operation("updateHost", "Enable or disable a compute host (before 2.43)",
           ok={200: {}}, errors=(400, 403, 404, 501), admin=True, body=UPDATE)
def update(call, host_name):
    call.authorize(_ROOT + "update", {})
    body = call.json()
    schemas.validate(body, UPDATE)
    svc = _compute(call, host_name)
    result = {"host": host_name}
    if "status" in body:
        enable = body["status"].strip().lower() == "enable"
        cell_db.update_service(call.services.cells.get(svc["cell_uuid"]), svc["uuid"],
                               {"disabled": not enable, "disabled_reason": None})
        result["status"] = "enabled" if enable else "disabled"
    if "maintenance_mode" in body:
        mode = body["maintenance_mode"].strip().lower() == "enable"
        result["maintenance_mode"] = _ask_host(call, host_name, "supports_host_maintenance",
                                               "host_maintenance_mode", mode)
    return 200, result


def _ask_host(call, host_name, capability, method, *args):
    """Have the host's driver do a host action: 501 when it declared it
    cannot (as Nova answers), 400 with the driver's reason when it failed."""
    svc = _compute(call, host_name)
    db = call.services.cells.get(svc["cell_uuid"])
    nodes = cell_db.list_compute_nodes(db, host=host_name)
    declared = ((nodes[0].get("stats") or {}).get("driver_capabilities") if nodes else None)
    if declared is not None and not declared.get(capability):
        raise APIError(501, f"The driver of host {host_name} does not support this action.")
    answer = getattr(call.services.compute_rpc, method)(call.ctx, host_name, *args)
    if "error" in answer:
        if answer.get("unsupported"):
            raise APIError(501, answer["error"])
        raise APIError(400, answer["error"])
    return answer["result"]


def _power(name, action, rule):
    @versioned(None, _UNTIL)
    @operation(f"{name}Host", f"{action.capitalize()} a host (before 2.43)",
               ok={200: {}}, errors=(400, 403, 404, 501), admin=True)
    def handler(call, host_name):
        call.authorize(_ROOT + rule, {})
        return 200, {"host": host_name, "power_action": _ask_host(
            call, host_name, "supports_host_power", "host_power_action", action)}
    handler.__name__ = handler.__qualname__ = f"{name}_host"
    return handler


startup = _power("startup", "startup", "start")
shutdown = _power("shutdown", "shutdown", "shutdown")
reboot = _power("reboot", "reboot", "reboot")


ROUTES = {
    "/os-hosts": {"GET": index},
    "/os-hosts/{host_name}": {"GET": show, "PUT": update},
    "/os-hosts/{host_name}/startup": {"GET": startup},
    "/os-hosts/{host_name}/shutdown": {"GET": shutdown},
    "/os-hosts/{host_name}/reboot": {"GET": reboot},
}
