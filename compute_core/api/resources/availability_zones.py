"""/os-availability-zone (and /detail for admins): the zones of the
compute hosts, each available when one of its compute services is enabled.

A host's zone is its aggregate's ``availability_zone`` or ``[DEFAULT]
default_availability_zone``; the services that are not compute hosts are in
``[DEFAULT] internal_service_availability_zone`` (shown in the detail only).
"""
from __future__ import annotations

from compute_core.api import hosts, policy, views
from compute_core.apispec import keyed, operation

RULES = (
    policy.rule("os_compute_api:os-availability-zone:list", policy.ANY,
                "List availability zones", [("GET", "/os-availability-zone")]),
    policy.rule("os_compute_api:os-availability-zone:detail", policy.ADMIN,
                "List availability zones with their hosts and services",
                [("GET", "/os-availability-zone/detail")]),
)

_NOVA_BINARY = {"compute-compute": "nova-compute", "compute-conductor": "nova-conductor",
                "compute-scheduler": "nova-scheduler"}


def _zones(call):
    """(available zones in order, the other zones, services by zone) where
    each service carries its ``zone``."""
    zone_of = hosts.HostZones(call.services)
    services = hosts.services(call.services)
    for svc in services:
        svc["zone"] = zone_of(svc["host"]) if svc["binary"] == hosts.COMPUTE_BINARY \
            else zone_of.internal
    available = list(dict.fromkeys(s["zone"] for s in services if not s["disabled"]))
    others = list(dict.fromkeys(s["zone"] for s in services
                                if s["disabled"] and s["zone"] not in available))
    return available, others, services, zone_of.internal


@operation("listAvailabilityZones", "List availability zones",
           ok={200: keyed("availabilityZoneInfo")})
def index(call):
    call.authorize("os_compute_api:os-availability-zone:list", {})
    available, others, _, internal = _zones(call)
    return 200, {"availabilityZoneInfo": [
        {"zoneName": z, "zoneState": {"available": ok}, "hosts": None}
        for zones, ok in ((available, True), (others, False)) for z in zones if z != internal]}


@operation("listAvailabilityZonesDetailed", "List availability zones with hosts and services",
           ok={200: keyed("availabilityZoneInfo")}, errors=(403,), admin=True)
def detail(call):
    call.authorize("os_compute_api:os-availability-zone:detail", {})
    available, others, services, _ = _zones(call)
    out = []
    for zone in available:
        found: dict = {}
        for svc in services:
            if svc["zone"] != zone or svc["disabled"]:
                continue
            found.setdefault(svc["host"], {})[_NOVA_BINARY.get(svc["binary"], svc["binary"])] = {
                "available": bool(svc["up"]), "active": not svc["disabled"],
                "updated_at": views.iso_usec(svc.get("updated_at") or svc.get("created_at"))}
        out.append({"zoneName": zone, "zoneState": {"available": True}, "hosts": found})
    out.extend({"zoneName": z, "zoneState": {"available": False}, "hosts": None}
               for z in others)
    return 200, {"availabilityZoneInfo": out}


ROUTES = {
    "/os-availability-zone": {"GET": index},
    "/os-availability-zone/detail": {"GET": detail},
}
