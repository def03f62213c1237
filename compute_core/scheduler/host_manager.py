"""Builds HostState objects from the cell databases."""
from __future__ import annotations

import datetime
import logging
import threading

from compute_core.db import aggregates as aggregates_db
from compute_core.db import cell_db
from compute_core.scheduler.filters import HostState, HostStates

LOG = logging.getLogger(__name__)


def service_is_up(service: dict, down_time: int) -> bool:
    if service.get("forced_down"):
        return False
    last = service.get("last_seen_up") or service.get("updated_at") or service.get("created_at")
    if last is None:
        return False
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return (now - last).total_seconds() <= down_time


class ChangeWindow:
    """Where the next read of a table's changed rows starts: the rows
    changed since the previous read (less a margin for transactions that
    committed late), instead of every row on every scheduling request.

    The window starts from the time of the previous read, not from the
    newest change seen, so a quiet cell costs an empty read. A row written
    at time T but committed after a read at R was not seen by that read
    only if T > R - MARGIN (commits lag their timestamps by less than the
    margin), and a read from R - MARGIN finds it.

    Reading the whole margin on every request re-reads every row changed in
    the last MARGIN seconds each time (hundreds while servers are being
    built, each one a GIL hand-off in the SQLite driver). So most reads
    look back only SHORT_MARGIN, and one read every CATCH_UP looks back the
    whole MARGIN from the time of the previous such read: a commit that
    lags its timestamp by more than SHORT_MARGIN (rare) is seen at most
    CATCH_UP later.
    """

    MARGIN = datetime.timedelta(seconds=5)
    SHORT_MARGIN = datetime.timedelta(seconds=0.2)
    CATCH_UP = datetime.timedelta(seconds=1)

    def __init__(self):
        self._lock = threading.Lock()
        self._read_at = None
        self._caught_up_at = None

    def _since(self, now):
        if self._read_at is None:
            return None
        if now - self._caught_up_at >= self.CATCH_UP:
            since = self._caught_up_at - self.MARGIN
            self._caught_up_at = now
            return since
        return self._read_at - self.SHORT_MARGIN

    def _next_window(self):
        """The start of this read (None: read everything); call holding
        the lock."""
        now = cell_db.now()
        since = self._since(now)
        if since is None:
            self._caught_up_at = now
        self._read_at = now
        return since


class RowCache(ChangeWindow):
    """The live rows of one small table of a cell (compute nodes, service
    records) by uuid, kept current through a ChangeWindow. *read* is
    ``read(db, since)`` -> row dicts changed since then (deleted ones with
    ``deleted`` set), every live row for since=None. The rows returned are
    shared by the callers: read-only."""

    def __init__(self, read):
        super().__init__()
        self._read = read
        self._rows: dict[str, dict] = {}

    def rows(self, db) -> list[dict]:
        with self._lock:
            for row in self._read(db, self._next_window()):
                if row["deleted"]:
                    self._rows.pop(row["uuid"], None)
                else:
                    self._rows[row["uuid"]] = row
            return list(self._rows.values())


class InstanceTracker(ChangeWindow):
    """The live instances of one cell by host, kept current through a
    ChangeWindow over the instances table."""

    def __init__(self):
        super().__init__()
        self._by_uuid: dict[str, dict] = {}
        self._hosts: dict[str, dict[str, dict]] = {}

    def by_host(self, db) -> dict[str, dict[str, dict]]:
        """{host: {uuid: {"host", "uuid", "vm_state", "task_state",
        "project_id"}}}; each host's mapping is the caller's own copy."""
        with self._lock:
            since = self._next_window()
            for host, uuid, vm_state, task_state, project_id, deleted in \
                    cell_db.instance_states_changed_since(db, since):
                old = self._by_uuid.get(uuid)
                if deleted or host is None:
                    if old is not None:
                        del self._by_uuid[uuid]
                        self._forget(old)
                    continue
                if old is not None:
                    if (old["host"], old["vm_state"], old["task_state"]) == \
                            (host, vm_state, task_state):
                        continue  # read again inside the margin, unchanged
                    self._forget(old)
                entry = {"host": host, "uuid": uuid, "vm_state": vm_state,
                         "task_state": task_state, "project_id": project_id}
                self._by_uuid[uuid] = entry
                self._hosts.setdefault(host, {})[uuid] = entry
            return {host: dict(found) for host, found in self._hosts.items() if found}

    def host_of(self, uuid: str) -> str | None:
        """The host the instance ran on at the latest read (None: unknown)."""
        entry = self._by_uuid.get(uuid)
        return entry["host"] if entry is not None else None

    def _forget(self, entry):
        found = self._hosts.get(entry["host"])
        if found is not None:
            found.pop(entry["uuid"], None)
            if not found:
                del self._hosts[entry["host"]]


def _locator(trackers):
    if len(trackers) == 1:
        return trackers[0].host_of

    def locate(uuid):
        for tracker in trackers:
            host = tracker.host_of(uuid)
            if host is not None:
                return host
        return None
    return locate


class HostManager:
    def __init__(self, conf, cells):
        self.conf = conf
        self.cells = cells
        self.failed_builds: dict[str, int] = {}
        self._trackers: dict[str, InstanceTracker] = {}
        self._nodes: dict[str, RowCache] = {}
        self._services: dict[str, RowCache] = {}
        # (a cell registry without an API database, as some tests build,
        # gives hosts no aggregates)
        api = getattr(cells, "api", None)
        self._aggregates = aggregates_db.HostAggregates(api) if api is not None else None

    def host_states(self, provider_summaries: dict | None = None) -> HostStates:
        """Host states of the compute nodes (restricted to the providers in
        *provider_summaries* when given), across every enabled cell, with
        the trackers' index of where each instance runs."""
        wanted = None if provider_summaries is None else set(provider_summaries)
        states = []
        trackers = []
        aggregates = self._aggregates.by_host() if self._aggregates is not None else {}
        for cell in self.cells.cells(include_cell0=False, include_disabled=False):
            db = self.cells.get(cell["uuid"])
            with db.connect():  # one check-out for the three reads
                nodes = self._cache(self._nodes, cell["uuid"],
                                    cell_db.compute_nodes_changed_since).rows(db)
                if wanted is not None:
                    nodes = [n for n in nodes if n["uuid"] in wanted]
                if not nodes:
                    continue
                services = {s["host"]: s for s in self._cache(
                    self._services, cell["uuid"], cell_db.services_changed_since).rows(db)
                    if s["binary"] == "compute-compute"}
                tracker = self._trackers.setdefault(cell["uuid"], InstanceTracker())
                by_host = tracker.by_host(db)
                trackers.append(tracker)
            for node in nodes:
                states.append(self._state(cell["uuid"], node, services.get(node["host"], {}),
                                          by_host.get(node["host"], {}),
                                          (provider_summaries or {}).get(node["uuid"]),
                                          aggregates.get(node["host"], ())))
        return HostStates(states, locate=_locator(trackers))

    @staticmethod
    def _cache(caches, cell_uuid, read) -> RowCache:
        cache = caches.get(cell_uuid)
        if cache is None:
            cache = caches.setdefault(cell_uuid, RowCache(read))
        return cache

    def _state(self, cell_uuid, node, service, instances, summary, aggregates=()) -> HostState:
        cpu_r = node.get("cpu_allocation_ratio") or 1.0
        ram_r = node.get("ram_allocation_ratio") or 1.0
        disk_r = node.get("disk_allocation_ratio") or 1.0
        total_ram = int(node["memory_mb"] * ram_r)
        total_disk = int(node["local_gb"] * disk_r)
        used_vcpus, used_ram, used_disk = (node["vcpus_used"], node["memory_mb_used"],
                                           node["local_gb_used"])
        resources = (summary or {}).get("resources", {})
        if resources:
            # Placement's view is the authoritative one: it includes claims
            # the compute host has not reported yet.
            used_vcpus = resources.get("VCPU", {}).get("used", used_vcpus)
            used_ram = resources.get("MEMORY_MB", {}).get("used", used_ram)
            used_disk = resources.get("DISK_GB", {}).get("used", used_disk)
        io_ops = sum(1 for i in instances.values() if i["task_state"] in (
            "spawning", "scheduling", "resize_migrating", "rebuilding", "image_snapshot",
            "image_backup", "rescuing", "unshelving"))
        return HostState(
            host=node["host"], nodename=node["hypervisor_hostname"], uuid=node["uuid"],
            cell_uuid=cell_uuid, host_ip=node.get("host_ip"),
            hypervisor_type=node.get("hypervisor_type") or "",
            hypervisor_version=node.get("hypervisor_version") or 0,
            cpu_info=node.get("cpu_info") or "{}",
            vcpus_total=node["vcpus"], vcpus_used=used_vcpus,
            total_usable_ram_mb=node["memory_mb"], free_ram_mb=total_ram - used_ram,
            total_usable_disk_gb=node["local_gb"], free_disk_mb=(total_disk - used_disk) * 1024,
            disk_mb_used=used_disk * 1024,
            cpu_allocation_ratio=cpu_r, ram_allocation_ratio=ram_r, disk_allocation_ratio=disk_r,
            num_instances=len(instances), num_io_ops=io_ops,
            instances=instances,
            traits=set((summary or {}).get("traits", [])),
            stats=dict(node.get("stats") or {}),
            service=dict(service, up=service_is_up(service, self.conf.service_down_time))
            if service else {"disabled": True, "up": False},
            failed_builds=self.failed_builds.get(node["host"], 0),
            updated=node.get("updated_at"), provider_resources=resources,
            aggregates=list(aggregates))
