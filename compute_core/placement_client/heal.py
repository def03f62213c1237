"""Repairs between the cell databases and placement, for operators.

:func:`heal_allocations` gives allocations back to instances that run on a
host but hold none in placement (as ``nova-manage placement
heal_allocations``); :func:`audit` finds allocations whose consumer is no
live instance, migration or build request any more, and may delete them (as
``nova-manage placement audit``). Both take the API database, the cell
databases and a :class:`~compute_core.placement_client.client.PlacementClient`, so
``compute-manage`` and a Python program call them the same way; what they
would print goes to an *output* callable.

Exit codes (:attr:`HealResult.exit_code`, :attr:`AuditResult.exit_code`,
:attr:`HealError.exit_code`) are nova-manage's.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import sqlalchemy as sa

from compute_core import exception
from compute_core.db import api_db, cell_db
from compute_core.db import cell_schema as t
from compute_core.db.cells import CELL0_UUID, CellDatabases
from compute_core.db.engines import Database
from compute_core.placement_client.client import PlacementAPIError, PlacementClient
from compute_core.scheduler.request_spec import RequestSpec

# Exit codes of heal_allocations and audit, as nova-manage's help states them.
HEALED = 0
MAX_COUNT_REACHED = 1
NO_COMPUTE_NODE = 2
ALLOCATION_FAILED = 3
NOTHING_HEALED = 4
INVALID_INPUT = 127

AUDIT_CLEAN = 0
AUDIT_FAILED = 1
ORPHANS_FOUND = 3
ORPHANS_DELETED = 4

#: Instances are fetched from a cell database this many at a time.
BATCH_SIZE = 50

#: Resource classes compute_core (like Nova) allocates for its consumers; an
#: allocation without any of them belongs to some other service.
COMPUTE_RESOURCE_CLASSES = frozenset({
    "VCPU", "PCPU", "MEMORY_MB", "DISK_GB", "VGPU", "MEM_ENCRYPTION_CONTEXT",
    "NET_BW_EGR_KILOBIT_PER_SEC", "NET_BW_IGR_KILOBIT_PER_SEC"})

#: Migration statuses after which a migration holds no allocation any more.
FINISHED_MIGRATION_STATUSES = frozenset({
    "confirmed", "reverted", "error", "failed", "completed", "cancelled", "done"})

Output = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


class HealError(Exception):
    """A failure that stops the run, with the exit code nova-manage gives it."""

    def __init__(self, message: str, exit_code: int = AUDIT_FAILED):
        super().__init__(message)
        self.exit_code = exit_code


# ------------------------------------------------------------------- heal


@dataclasses.dataclass
class HealResult:
    """What one heal run did: instances given allocations (or, with
    dry_run, that would have been), and whether --max-count stopped it."""

    healed: list[str] = dataclasses.field(default_factory=list)
    would_heal: list[str] = dataclasses.field(default_factory=list)
    max_count_reached: bool = False

    @property
    def exit_code(self) -> int:
        if self.max_count_reached:
            return MAX_COUNT_REACHED
        return HEALED if self.healed else NOTHING_HEALED


def instance_resources(instance: dict, request_spec: dict | None = None) -> dict:
    """The placement resources the instance's flavor asks for."""
    flavor = dict(instance.get("flavor") or {})
    for key in ("vcpus", "memory_mb", "root_gb", "ephemeral_gb"):
        if flavor.get(key) is None and instance.get(key) is not None:
            flavor[key] = instance[key]
    if flavor.get("vcpus") is None or flavor.get("memory_mb") is None:
        raise HealError(f"Instance {instance['uuid']} has no flavor to compute its "
                        f"allocations from.", ALLOCATION_FAILED)
    is_bfv = bool((request_spec or {}).get("is_bfv"))
    return RequestSpec(flavor=flavor, is_bfv=is_bfv).resources()


class _NodeCache:
    """(host, node) -> compute node uuid of one cell, read once per cell."""

    def __init__(self, db: Database):
        self._db = db
        self._nodes: dict | None = None

    def provider_of(self, instance: dict) -> str:
        if self._nodes is None:
            self._nodes = {(n["host"], n["hypervisor_hostname"]): n["uuid"]
                           for n in cell_db.list_compute_nodes(self._db)}
        rp = self._nodes.get((instance["host"], instance["node"]))
        if rp is None:
            raise HealError(f"Compute host {instance['host']} (node {instance['node']}) "
                            f"of instance {instance['uuid']} could not be found.",
                            NO_COMPUTE_NODE)
        return rp


def _has_allocations(placement: PlacementClient, instance_uuid: str) -> bool:
    try:
        return bool(placement.get_allocations(instance_uuid).get("allocations"))
    except PlacementAPIError as exc:
        raise HealError(f"Allocation retrieval failed for instance {instance_uuid}: {exc}",
                        ALLOCATION_FAILED) from None


def _heal_one(api: Database, placement: PlacementClient, nodes: _NodeCache, instance: dict,
              dry_run: bool, output: Output) -> bool:
    """Give *instance* its allocations if it needs them; True if it did
    (or, with *dry_run*, would have)."""
    uuid = instance["uuid"]
    if instance["task_state"] is not None:
        output(f"Instance {uuid} is undergoing a task state transition: "
               f"{instance['task_state']}")
        return False
    if not instance["host"] or not instance["node"]:
        output(f"Instance {uuid} is not on a host.")
        return False
    if _has_allocations(placement, uuid):
        return False
    rp_uuid = nodes.provider_of(instance)
    resources = instance_resources(instance, api_db.get_request_spec(api, uuid))
    allocations = {rp_uuid: {"resources": resources}}
    if dry_run:
        output(f"[dry-run] Create allocations for instance {uuid}: {allocations}")
        return True
    body = {"allocations": allocations, "project_id": instance["project_id"],
            "user_id": instance["user_id"], "consumer_generation": None,
            "consumer_type": "INSTANCE"}
    try:
        resp = placement.request("PUT", f"/allocations/{uuid}", json=body)
    except PlacementAPIError as exc:
        raise HealError(f"Failed to create allocations for instance {uuid} against "
                        f"resource provider {rp_uuid}: {exc}", ALLOCATION_FAILED) from None
    if resp.status_code != 204:
        raise HealError(f"Failed to create allocations for instance {uuid} against "
                        f"resource provider {rp_uuid}: {resp.status_code} "
                        f"{_detail(resp)}", ALLOCATION_FAILED)
    output(f"Successfully created allocations for instance {uuid}.")
    return True


def _detail(resp) -> str:
    """The first error detail of a placement error body, or its text."""
    try:
        errors = resp.json().get("errors") or []
        return " ".join(str(errors[0].get("detail") or errors[0].get("title")).split())
    except (ValueError, AttributeError, IndexError):
        return resp.text.strip().splitlines()[0] if resp.text.strip() else ""


def _cells_to_heal(api: Database, cells: CellDatabases, instance_uuid: str | None,
                   cell_uuid: str | None) -> list[dict]:
    if instance_uuid:
        try:
            mapping = api_db.get_instance_mapping(api, instance_uuid)
        except exception.InstanceNotFound:
            mapping = None
        if mapping is None or mapping["cell_uuid"] is None:
            raise HealError(f"Unable to find cell for instance {instance_uuid}, is it "
                            f"mapped?", INVALID_INPUT)
        return [cells.mapping(mapping["cell_uuid"])]
    if cell_uuid:
        try:
            return [cells.mapping(cell_uuid)]
        except exception.CellMappingNotFound:
            raise HealError(f"Cell with uuid {cell_uuid} was not found.",
                            INVALID_INPUT) from None
    return sorted(cells.refresh(), key=lambda c: (c["name"] or "", c["uuid"]))


def heal_allocations(api: Database, cells: CellDatabases, placement: PlacementClient, *,
                     max_count: int | None = None, instance_uuid: str | None = None,
                     cell_uuid: str | None = None, dry_run: bool = False,
                     output: Output = _quiet) -> HealResult:
    """Create the missing allocations of instances in every cell but cell0.

    An instance is healed when it is not deleted, has a host and node, is in
    no task state (a build, migration or delete in flight owns its
    allocations) and holds no allocation at all: it gets its flavor's
    VCPU/MEMORY_MB/DISK_GB against its compute node's resource provider, for
    its project and user, as a new consumer. Instances are taken oldest
    first; *max_count* bounds the number healed (``max_count_reached``
    then tells the caller to run again). Raises :class:`HealError`.
    """
    if instance_uuid and cell_uuid:
        raise HealError("The --cell and --instance options are mutually exclusive.",
                        INVALID_INPUT)
    if max_count is not None and max_count < 1:
        raise HealError("Must supply a positive integer for --max-count.", INVALID_INPUT)
    if instance_uuid:
        max_count = None
    if max_count is None and not instance_uuid:
        output(f"Running batches of {BATCH_SIZE} until complete")
    result = HealResult()
    done = result.would_heal if dry_run else result.healed
    for cell in _cells_to_heal(api, cells, instance_uuid, cell_uuid):
        if cell["uuid"] == CELL0_UUID:
            continue
        output(f"Looking for instances in cell: {_identity(cell)}")
        db = cells.get(cell["uuid"])
        nodes = _NodeCache(db)
        filters = {"uuid": instance_uuid} if instance_uuid else {}
        marker = None
        while True:
            batch = cell_db.list_instances(db, dict(filters), limit=BATCH_SIZE, marker=marker,
                                           sort_key="created_at", sort_dir="asc",
                                           with_faults=False)
            if not batch:
                break
            output(f"Found {len(batch)} candidate instances.")
            for instance in batch:
                if _heal_one(api, placement, nodes, instance, dry_run, output):
                    done.append(instance["uuid"])
                    if (max_count is not None and not dry_run
                            and len(done) >= max_count):
                        result.max_count_reached = True
                        output(f"Max count reached. Processed {len(done)} instances.")
                        return result
            if len(batch) < BATCH_SIZE:
                break
            marker = batch[-1]["uuid"]
    output(f"Processed {len(result.healed)} instances.")
    return result


def _identity(cell: dict) -> str:
    return f"{cell['uuid']}({cell['name']})" if cell["name"] else cell["uuid"]


# ------------------------------------------------------------------ audit


@dataclasses.dataclass
class Orphan:
    """Allocations of a consumer nobody in the cloud owns, on one provider."""

    consumer_uuid: str
    provider_uuid: str
    resources: dict


@dataclasses.dataclass
class AuditResult:
    orphans: list[Orphan] = dataclasses.field(default_factory=list)
    deleted: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    delete: bool = False

    @property
    def exit_code(self) -> int:
        if self.failed:
            return AUDIT_FAILED
        if not self.orphans:
            return AUDIT_CLEAN
        return ORPHANS_DELETED if self.delete else ORPHANS_FOUND


def _live_consumers(api: Database, cells: CellDatabases) -> set[str]:
    """Uuids of every build request, non-deleted instance (cell0 included)
    and unfinished migration. Build requests are read first: a build that
    finishes meanwhile is then found as an instance."""
    live = {b["instance_uuid"] for b in api_db.list_build_requests(api)}
    i, m = t.instances, t.migrations
    for cell in cells.refresh():
        with cells.get(cell["uuid"]).connect() as conn:
            live.update(r.uuid for r in conn.execute(
                sa.select(i.c.uuid).where(i.c.deleted == 0)))
            live.update(r.uuid for r in conn.execute(
                sa.select(m.c.uuid).where(m.c.deleted == 0)
                .where(sa.or_(m.c.status.is_(None),
                              m.c.status.not_in(sorted(FINISHED_MIGRATION_STATUSES))))))
    return live


def _still_orphaned(api: Database, cells: CellDatabases, consumer_uuid: str) -> bool:
    """Look the consumer up once more, alone, just before deleting its
    allocations: it may have been created since the consumers were listed."""
    try:
        mapping = api_db.get_instance_mapping(api, consumer_uuid)
    except exception.InstanceNotFound:
        mapping = None
    if mapping is not None and mapping["cell_uuid"] is None:
        if api_db.get_build_request(api, consumer_uuid) is not None:
            return False
    i, m = t.instances, t.migrations
    for cell in cells.refresh():
        with cells.get(cell["uuid"]).connect() as conn:
            if conn.execute(sa.select(i.c.id).where(i.c.uuid == consumer_uuid)
                            .where(i.c.deleted == 0)).first() is not None:
                return False
            if conn.execute(sa.select(m.c.id).where(m.c.uuid == consumer_uuid)
                            .where(m.c.deleted == 0)
                            .where(sa.or_(m.c.status.is_(None), m.c.status.not_in(
                                sorted(FINISHED_MIGRATION_STATUSES))))).first() is not None:
                return False
    return True


def _providers(placement: PlacementClient, provider_uuid: str | None) -> list[dict]:
    if provider_uuid is None:
        return placement.list_providers()
    resp = placement.request("GET", "/resource_providers", params={"uuid": provider_uuid})
    if resp.status_code == 400:
        raise HealError(f"Invalid resource provider UUID {provider_uuid}.", INVALID_INPUT)
    if resp.status_code != 200:
        raise HealError(f"Listing resource providers failed: {resp.status_code} "
                        f"{_detail(resp)}")
    found = resp.json()["resource_providers"]
    if not found:
        raise HealError(f"Resource provider with UUID {provider_uuid} does not exist.",
                        INVALID_INPUT)
    return found


def _provider_allocations(placement: PlacementClient, rp_uuid: str) -> dict:
    resp = placement.request("GET", f"/resource_providers/{rp_uuid}/allocations")
    if resp.status_code == 404:  # deleted since it was listed
        return {}
    if resp.status_code != 200:
        raise HealError(f"Not able to find allocations for resource provider {rp_uuid}: "
                        f"{resp.status_code} {_detail(resp)}")
    return resp.json()["allocations"]


def audit(api: Database, cells: CellDatabases, placement: PlacementClient, *,
          provider_uuid: str | None = None, delete: bool = False,
          output: Output = _quiet, report: Output = _quiet) -> AuditResult:
    """Find allocations of compute resource classes whose consumer is no
    live instance (in any cell), unfinished migration or build request, on
    every resource provider or only *provider_uuid*; with *delete*, delete
    each such consumer's allocations. *report* gets one line per orphan,
    *output* the progress. Raises :class:`HealError`."""
    try:
        providers = _providers(placement, provider_uuid)
        found = []
        for provider in providers:
            output(f"Checking resource provider {provider['uuid']} ({provider['name']})")
            for consumer, alloc in sorted(
                    _provider_allocations(placement, provider["uuid"]).items()):
                resources = alloc.get("resources") or {}
                if COMPUTE_RESOURCE_CLASSES.intersection(resources):
                    found.append(Orphan(consumer, provider["uuid"], dict(resources)))
    except PlacementAPIError as exc:
        raise HealError(str(exc)) from None
    # Consumers are listed after the allocations: one created meanwhile is
    # then known, not mistaken for an orphan.
    live = _live_consumers(api, cells)
    result = AuditResult(delete=delete)
    for orphan in found:
        if orphan.consumer_uuid in live:
            continue
        if delete and not _still_orphaned(api, cells, orphan.consumer_uuid):
            continue
        result.orphans.append(orphan)
        report(f"Allocations were set against consumer UUID {orphan.consumer_uuid} on "
               f"resource provider {orphan.provider_uuid} but no existing instance or "
               f"active migration is related: {_format_resources(orphan.resources)}")
        if not delete or orphan.consumer_uuid in result.deleted:
            continue
        try:
            placement.delete_allocations(orphan.consumer_uuid)
        except PlacementAPIError as exc:
            report(f"Not able to delete allocations for consumer UUID "
                   f"{orphan.consumer_uuid}: {exc}")
            result.failed.append(orphan.consumer_uuid)
            continue
        result.deleted.append(orphan.consumer_uuid)
        report(f"Deleted allocations for consumer UUID {orphan.consumer_uuid}")
    if result.orphans:
        n = len(result.orphans)
        output(f"Processed {n} allocation{'s' if n > 1 else ''}.")
    return result


def _format_resources(resources: dict) -> str:
    return ", ".join(f"{rc}={amount}" for rc, amount in sorted(resources.items()))
