"""/os-services: the compute services of every cell (admin)."""
from __future__ import annotations

import uuid as uuidlib

from compute_core import exception
from compute_core.api import hosts, policy, schemas, views
from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionedSchemas, VersionRange, versioned
from compute_core.apispec import keyed, operation
from compute_core.db import api_db, cell_db

RULES = (
    policy.rule("os_compute_api:os-services:list", policy.ADMIN, "List compute services",
                [("GET", "/os-services")]),
    policy.rule("os_compute_api:os-services:update", policy.ADMIN,
                "Enable, disable or force down a service",
                [("PUT", "/os-services/{service_id}")]),
    policy.rule("os_compute_api:os-services:delete", policy.ADMIN, "Delete a service",
                [("DELETE", "/os-services/{service_id}")]),
)

_NOVA_BINARY = {"compute-compute": "nova-compute", "compute-conductor": "nova-conductor",
                "compute-scheduler": "nova-scheduler"}
_OUR_BINARY = {nova: ours for ours, nova in _NOVA_BINARY.items()}


def _nova_binary(binary):
    # Clients (and operators' scripts) know Nova's binary names.
    return _NOVA_BINARY.get(binary, binary)


# The fields of a service by version
FIELDS = views.ViewFields(
    ("id", None, "2.52", lambda svc: svc["id"]),
    ("id", "2.53", None, lambda svc: svc["uuid"]),
    ("forced_down", "2.11", None, lambda svc: bool(svc.get("forced_down"))),
)


def service_view(version, svc, zone_of):
    out = {
        "binary": _nova_binary(svc["binary"]), "host": svc["host"],
        "zone": zone_of(svc["host"]) if svc["binary"] == hosts.COMPUTE_BINARY else zone_of.internal,
        "status": "disabled" if svc["disabled"] else "enabled",
        "state": "up" if svc["up"] else "down",
        "updated_at": views.iso_usec(svc.get("updated_at") or svc.get("created_at")),
        "disabled_reason": svc.get("disabled_reason"),
    }
    return FIELDS.add(out, version, svc)


@operation("listServices", "List compute services", ok={200: keyed("services")},
           errors=(403,), admin=True,
           query={"host": {"type": "string"}, "binary": {"type": "string"}})
def index(call):
    call.authorize("os_compute_api:os-services:list")
    q = call.req.GET
    binary = q.get("binary")
    binary = _OUR_BINARY.get(binary, binary)  # ?binary=nova-compute as clients ask
    zone = hosts.HostZones(call.services)
    return 200, {"services": [service_view(call.version, svc, zone) for svc in
                              hosts.services(call.services, host=q.get("host"),
                                             binary=binary)]}


# ------------------------------------------------- changes before 2.53

_HOST_BINARY = {"host": schemas.NAME, "binary": schemas.NAME}
_ACTIONS = {
    "enable": {},
    "disable": {},
    "disable-log-reason": {"disabled_reason": {"type": "string", "minLength": 1,
                                               "maxLength": 255}},
    "force-down": {"forced_down": {"type": "boolean"}},
}
FORCE_DOWN_SINCE = VersionRange("2.11")
UUIDS = VersionRange("2.53")


def _action_schema(action):
    extra = _ACTIONS[action]
    return {"type": "object", "properties": {**_HOST_BINARY, **extra},
            "required": ["host", "binary", *extra], "additionalProperties": False}


def _find(call, host, binary):
    found = hosts.services(call.services, host=host, binary=_OUR_BINARY.get(binary, binary))
    if not found:
        raise APIError(404, f"Service {binary} on host {host} not found.")
    return found[0]


@versioned(None, "2.52")
@operation("updateServiceByAction", "Enable, disable (with a reason) or force down a service "
           "named by host and binary (before 2.53)", ok={200: keyed("service")},
           errors=(400, 403, 404), admin=True)
def update_by_action(call, action):
    call.authorize("os_compute_api:os-services:update")
    if action not in _ACTIONS or (action == "force-down" and
                                  call.version not in FORCE_DOWN_SINCE):
        raise APIError(404, "Unknown action")
    body = call.json()
    schemas.validate(body, _action_schema(action))
    svc = _find(call, body["host"], body["binary"])
    out = {"host": body["host"], "binary": body["binary"]}
    if action == "force-down":
        values = {"forced_down": body["forced_down"]}
        out["forced_down"] = body["forced_down"]
    else:
        disabled = action != "enable"
        values = {"disabled": disabled,
                  "disabled_reason": body.get("disabled_reason") if disabled else None}
        out["status"] = "disabled" if disabled else "enabled"
        if action == "disable-log-reason":
            out["disabled_reason"] = body["disabled_reason"]
    cell_db.update_service(call.services.cells.get(svc["cell_uuid"]), svc["uuid"], values)
    return 200, {"service": out}


# ------------------------------------------------------- from 2.53 on

_UPDATE = {"type": "object",
           "properties": {"status": {"type": "string", "enum": ["enabled", "disabled"]},
                          "disabled_reason": {"type": "string", "minLength": 1,
                                              "maxLength": 255},
                          "forced_down": {"type": "boolean"}},
           "additionalProperties": False}
UPDATE = VersionedSchemas(("2.53", None, _UPDATE))


def _by_id(call, service_id):
    if call.version in UUIDS:
        try:
            uuidlib.UUID(service_id)
        except ValueError:
            raise APIError(400, f"Invalid uuid {service_id}") from None
    for svc in hosts.services(call.services):
        if service_id in (svc["uuid"], str(svc["id"])) and \
                (call.version in UUIDS) == (service_id == svc["uuid"]):
            return svc
    raise APIError(404, f"Service {service_id} could not be found.")


@versioned("2.53")
@operation("updateService", "Enable or disable (with a reason) or force down a service "
           "(from 2.53)", ok={200: keyed("service")}, errors=(400, 403, 404), admin=True,
           body=UPDATE)
def update(call, service_id):
    call.authorize("os_compute_api:os-services:update")
    body = call.json()
    schemas.validate(body, _UPDATE)
    svc = _by_id(call, service_id)
    if "status" not in body and "forced_down" not in body:
        raise APIError(400, "No updates were requested. Fields 'status' or 'forced_down' "
                            "should be specified.")
    if "disabled_reason" in body and body.get("status") != "disabled":
        raise APIError(400, "Specifying 'disabled_reason' with status 'enabled' is invalid.")
    if svc["binary"] != hosts.COMPUTE_BINARY:
        raise APIError(400, "Updating a non nova-compute service is not supported.")
    values = {}
    if "status" in body:
        values["disabled"] = body["status"] == "disabled"
        values["disabled_reason"] = body.get("disabled_reason") if values["disabled"] else None
    if "forced_down" in body:
        values["forced_down"] = body["forced_down"]
    cell_db.update_service(call.services.cells.get(svc["cell_uuid"]), svc["uuid"], values)
    svc = _by_id(call, service_id)
    return 200, {"service": service_view(call.version, svc, hosts.HostZones(call.services))}


@operation("deleteService", "Delete a service (a compute service without servers)",
           ok={204: None}, errors=(400, 403, 404, 409), admin=True)
def delete(call, service_id):
    call.authorize("os_compute_api:os-services:delete")
    svc = _by_id(call, service_id)
    db = call.services.cells.get(svc["cell_uuid"])
    if svc["binary"] == hosts.COMPUTE_BINARY:
        if cell_db.list_instances(db, {"host": svc["host"]}, limit=1, with_faults=False):
            raise APIError(409, "Unable to delete compute service that is hosting instances. "
                                "Migrate or delete the instances first.")
    try:
        nodes = cell_db.delete_service(db, svc["uuid"])
    except exception.ServiceNotFound:
        raise APIError(404, f"Service {service_id} could not be found.") from None
    if svc["binary"] == hosts.COMPUTE_BINARY:
        api_db.unmap_host(call.services.api_db, svc["host"])
        for node in nodes:
            call.services.placement.request("DELETE", f"/resource_providers/{node['uuid']}")
    return 204, None


def _update_or_action(call, service_id):
    """PUT /os-services/{x}: before 2.53 *x* names an action (enable,
    disable, disable-log-reason, force-down); from 2.53 a service's uuid."""
    if call.version in UUIDS:
        return update(call, service_id)
    return update_by_action(call, service_id)


_update_or_action.openapi = update.openapi

ROUTES = {
    "/os-services": {"GET": index},
    "/os-services/{service_id}": {"PUT": _update_or_action, "DELETE": delete},
}
