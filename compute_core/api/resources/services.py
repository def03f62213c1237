"""/os-services: the compute services of every cell (admin)."""
from __future__ import annotations

from compute_core.api import hosts, policy, views
from compute_core.apispec import keyed, operation

RULES = (
    policy.rule("os_compute_api:os-services:list", policy.ADMIN, "List compute services",
                [("GET", "/os-services")]),
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


ROUTES = {
    "/os-services": {"GET": index},
}
