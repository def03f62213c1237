"""The test-double side of the embedded cloud (:class:`compute_core.cloud.Cloud`
takes it in): the call log, waiting for it to be idle, snapshots and their
restore, and what exists now (:meth:`~CloudDouble.resources`) or leaked
(:meth:`~CloudDouble.leaks`)."""
from __future__ import annotations

import time

import sqlalchemy as sa

from compute_core import clock as clock_mod
from compute_core import exception, rpc
from compute_core import snapshot as snapshot_mod
from compute_core.db import api_schema, cell_schema
from compute_core.placement import tables as placement_tables


class CloudDouble:
    """Test-double features of a :class:`~compute_core.cloud.Cloud` (whose
    services, databases, call log and in-flight count they read)."""

    def calls(self, route=None, method=None, kind=None, status=None):
        """The API requests and RPC messages this cloud served, oldest
        first, filtered (see :meth:`compute_core.instrument.CallLog.calls`):
        ``cloud.calls(route="/servers", method="POST")``,
        ``cloud.calls(kind="rpc", route="compute.build_and_run_instance")``."""
        return self.call_log.calls(route=route, method=method, kind=kind, status=status)

    def wait_idle(self, timeout=30.0) -> None:
        """Wait until no API request or RPC message is in flight (nor
        queued for a running service)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if not self._in_flight.wait_idle(max(0.0, left)):
                raise exception.ComputeCoreError(
                    f"the cloud is still busy after {timeout} s: "
                    f"{', '.join(self._in_flight.labels())}")
            # Queued or taken RPC messages count until replied to (see
            # rpc.pending_messages): none, and nothing in flight, is idle.
            if not rpc.pending_messages(self.transport) and not self._in_flight.count:
                return
            if left <= 0:
                raise exception.ComputeCoreError(
                    f"RPC messages still queued after {timeout} s")
            else:
                time.sleep(0.001)

    def databases(self):
        """The cloud's databases (one handle per database): API, cells,
        placement and the identity endpoint's."""
        found = {self._api.api_db.url: self._api.api_db, self._placement.db.url:
                 self._placement.db}
        for cell in self._api.cells.cells():
            db = self._api.cells.get(cell["uuid"])
            found.setdefault(db.url, db)
        if self.identity is not None:
            found.setdefault(self.identity.db.url, self.identity.db)
        return list(found.values())

    def snapshot(self) -> "snapshot_mod.Snapshot":
        """The cloud's state now (databases, guests, image files), once it
        is idle; :meth:`restore` puts it back. Close it when done."""
        with self._lock:
            self.wait_idle()
            return snapshot_mod.take(self)

    def restore(self, snap) -> None:
        """Put the cloud back to *snap* (waits for it to be idle first).
        Fault rules and the call log start empty again."""
        with self._lock:
            self.wait_idle()
            with clock_mod.using(self.clock):
                restored = snapshot_mod.restore(self, snap)
            # Only the caches of what went back: a test that only read
            # leaves every cache valid.
            if restored:
                self.scheduler.host_manager.reset()
            if self._placement.db in restored:
                self._placement.forget_cached()
            if self.identity is not None and self.identity.db in restored:
                self._tokens.clear()
            self.faults.clear()
            self.call_log.clear()

    def resources(self) -> dict:
        """What exists now: ``{"servers", "allocations", "ports"}``, each a
        set of server (consumer) uuids or addresses."""
        servers = set()
        for cell in self._api.cells.cells():
            with self._api.cells.get(cell["uuid"]).connect() as conn:
                t = cell_schema.instances
                servers.update(r[0] for r in conn.execute(
                    sa.select(t.c.uuid).where(t.c.deleted == 0)))
        with self._api.api_db.connect() as conn:
            b, f = api_schema.build_requests, api_schema.fixed_ips
            servers.update(r[0] for r in conn.execute(sa.select(b.c.instance_uuid)))
            # (a free port, made ahead for a server to attach, is nobody's leak)
            ports = {f"{r[0]}/{r[1]}" for r in conn.execute(
                sa.select(f.c.address, f.c.instance_uuid).where(f.c.instance_uuid.isnot(None)))}
        with self._placement.db.connect() as conn:
            a = placement_tables.allocations
            allocations = {r[0] for r in conn.execute(sa.select(a.c.consumer_id).distinct())}
        return {"servers": servers, "allocations": allocations, "ports": ports}

    def leaks(self, baseline=None, timeout=30.0) -> dict:
        """What exists now and not in *baseline* (a :meth:`resources`
        result or a :class:`Snapshot`; default: nothing), once the cloud
        is idle: ``{"servers": [...], "allocations": [...], "ports": [...]}``
        with only the non-empty kinds. Allocations and ports of no live
        server are reported whatever the baseline. Work still in flight
        after *timeout* seconds is reported as ``"in_flight"``."""
        try:
            self.wait_idle(timeout)
            busy = []
        except exception.ComputeCoreError:
            busy = self._in_flight.labels()
        if isinstance(baseline, snapshot_mod.Snapshot):
            baseline = baseline.resources
        baseline = baseline or {"servers": set(), "allocations": set(), "ports": set()}
        now = self.resources()
        found = {kind: sorted(now[kind] - baseline[kind]) for kind in now}
        found["allocations"] = sorted(set(found["allocations"]) |
                                      (now["allocations"] - now["servers"]
                                       - baseline["allocations"]))
        found["in_flight"] = busy
        return {kind: items for kind, items in found.items() if items}
