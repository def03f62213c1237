"""The compute hosts as the API sees them, across cells: services (with
whether each is up), compute nodes, availability zones. The ``os-services``
and ``os-hypervisors`` resources show them; the server service reads them."""
from __future__ import annotations

from compute_core.db import aggregates as aggregates_db
from compute_core.db import cell_db
from compute_core.scheduler.host_manager import service_is_up

COMPUTE_BINARY = "compute-compute"


def services(s, host=None, binary=None) -> list[dict]:
    """The services of every cell (*s*: the API's services), each with
    ``cell_uuid`` and ``up``."""
    out = []
    for cell in s.cells.cells(include_cell0=False):
        for svc in cell_db.list_services(s.cells.get(cell["uuid"]), host, binary):
            svc["cell_uuid"] = cell["uuid"]
            svc["up"] = service_is_up(svc, s.conf.service_down_time)
            out.append(svc)
    return out


def host_up(s, db, host) -> bool:
    """Whether the compute service of *host* (in cell database *db*) is up."""
    found = cell_db.list_services(db, host=host, binary=COMPUTE_BINARY)
    return bool(found) and service_is_up(found[0], s.conf.service_down_time)


def zones_by_host(s) -> dict[str, str]:
    """{host: zone} of the hosts an aggregate puts in a zone (the others
    are in ``[DEFAULT] default_availability_zone``)."""
    return {host: zone for zone, found in aggregates_db.zones(s.api_db).items()
            for host in found}


class HostZones:
    """The zone of a host, for one request: the aggregates are read once,
    at the first question."""

    def __init__(self, s):
        self.s = s
        self._zones = None

    @property
    def internal(self) -> str:
        """The zone of the services that are not compute hosts."""
        return self.s.conf.internal_service_availability_zone

    def __call__(self, host) -> str:
        if self._zones is None:
            self._zones = zones_by_host(self.s)
        return self._zones.get(host, self.s.conf.default_availability_zone)


def availability_zones(s) -> set[str]:
    """The zones of the enabled compute services."""
    zone_of = HostZones(s)
    return {zone_of(svc["host"])
            for svc in services(s, binary=COMPUTE_BINARY) if not svc["disabled"]}


def compute_nodes(s) -> list[dict]:
    """The compute nodes of every cell, each with its ``service`` (None
    when the host has none; else with ``up``) and ``cell_uuid``."""
    out = []
    for cell in s.cells.cells(include_cell0=False):
        db = s.cells.get(cell["uuid"])
        by_host = {}
        for svc in cell_db.list_services(db, binary=COMPUTE_BINARY):
            svc["up"] = service_is_up(svc, s.conf.service_down_time)
            by_host[svc["host"]] = svc
        for node in cell_db.list_compute_nodes(db):
            node["service"] = by_host.get(node["host"])
            node["cell_uuid"] = cell["uuid"]
            out.append(node)
    return out
