"""Builds a conductor finds interrupted: at its start, then periodically.

A build passes through three records, one step after the other: the build
request (API database), the instance row the conductor writes into the
chosen cell and then maps there (dropping the build request in the same
transaction), and the build cast to the chosen host. A process that dies
between two steps leaves the build at one of them:

* a build request with no cell row: never scheduled, or the scheduler's
  answer was lost;
* a build request and a cell row: written but never mapped;
* a cell row in BUILD, mapped, on a host: the cast to the host was lost
  (the host's own rules, in the compute manager, cover a host that died
  building it);
* a cell row in BUILD that nothing maps any more (no mapping, or one
  without a cell and no build request): the server was deleted while its
  row was being written. The listing shows such a row, so it is deleted
  at once.

When everything in flight is known to be lost (the bus is in-process: it
died with the process), the builds found at start run again. Otherwise a
build gets ``[DEFAULT] instance_build_timeout`` seconds from its creation,
then is put in ERROR with a fault and its allocations are freed, as Nova's
build timeout does.
"""
from __future__ import annotations

import datetime
import logging

from compute_core import context as ctx_mod
from compute_core import exception, notifications
from compute_core.compute import states
from compute_core.db import api_db, cell_db
from compute_core.scheduler.host_manager import service_is_up

LOG = logging.getLogger(__name__)

RESUME, FAIL = "resume", "fail"


def check_interval(conf) -> float:
    """Seconds between build-timeout checks: a tenth of the timeout, at
    least a second and at most a minute; 0 when the timeout is off."""
    timeout = conf.instance_build_timeout
    return max(1.0, min(60.0, timeout / 10)) if timeout else 0


def timed_out_message(uuid) -> str:
    return f"Build of instance {uuid} timed out. Set to error state."


class BuildRecovery:
    """The conductor's rules for interrupted builds (see the module doc).

    :param manager: the ConductorManager (its databases, placement, network
        and casts to compute hosts).
    :param conductor_api: a conductor RPC client: a build request is
        scheduled again by a cast, which waits for a running conductor.
    :param resume_at_start: everything in flight before start() was lost
        (an in-process bus): run those builds again.
    """

    def __init__(self, manager, conductor_api, resume_at_start=False):
        self.m = manager
        self.conductor_api = conductor_api
        self.resume_at_start = resume_at_start

    def at_start(self):
        self.sweep(resume_before=cell_db.now() if self.resume_at_start else None)

    def sweep(self, resume_before=None):
        """Apply every rule once. Builds created before *resume_before* run
        again; builds older than the timeout fail."""
        timeout = self.m.conf.instance_build_timeout
        expired_before = cell_db.now() - datetime.timedelta(seconds=timeout) \
            if timeout else None

        def due(created):
            if created is None:
                return None
            if resume_before is not None and created <= resume_before:
                return RESUME
            if expired_before is not None and created < expired_before:
                return FAIL
            return None

        ctxt = ctx_mod.get_admin_context()
        handled = set()
        for build in api_db.list_build_requests(self.m.cells.api):
            action = due(build["created_at"])
            if action is not None:
                handled.add(build["instance_uuid"])
                self._settle_build_request(ctxt, build, action)
        for cell in self.m.cells.cells(include_cell0=False):
            db = self.m.cells.get(cell["uuid"])
            self._settle_cell_rows(ctxt, cell, db, handled, due)

    # ------------------------------------------------------ build requests
    def _settle_build_request(self, ctxt, build, action):
        uuid = build["instance_uuid"]
        api = self.m.cells.api
        found = self._cell_row(uuid)
        if found is not None:
            # Written into a cell, never mapped: map it where it is.
            cell, db, row = found
            if not api_db.finish_build(api, uuid, cell["id"]):
                return  # deleted or mapped meanwhile: not ours any more
            LOG.info("mapped instance %s to cell %s, where its build stopped", uuid,
                     cell["name"])
            if row["vm_state"] == states.BUILDING:
                self._settle_row(ctxt, db, row, action)
            return
        # Scheduling may have claimed resources, and the build taken
        # addresses, before it stopped.
        self.m.placement.delete_allocations(uuid)
        self.m.network.deallocate_for_instance(uuid)
        if action == FAIL:
            LOG.warning("build request of %s timed out before scheduling", uuid)
            self.m._bury_in_cell0(ctxt, uuid, timed_out_message(uuid))
            return
        spec = api_db.get_request_spec(api, uuid)
        if spec is None:
            self.m._bury_in_cell0(ctxt, uuid, f"Build of instance {uuid} was interrupted.")
            return
        LOG.info("scheduling the interrupted build of %s again", uuid)
        spec = dict(spec, num_instances=1, instance_uuids=[uuid], instance_uuid=uuid)
        self.conductor_api.schedule_and_build_instances(
            ctxt, [uuid], spec, spec.get("image") or {}, spec.get("requested_networks", "auto"))

    def _cell_row(self, uuid):
        """(cell mapping, database, live row) of *uuid* in any cell, or None."""
        for cell in self.m.cells.cells(include_cell0=True):
            db = self.m.cells.get(cell["uuid"])
            try:
                return cell, db, cell_db.get_instance(db, uuid)
            except exception.InstanceNotFound:
                continue
        return None

    # ----------------------------------------------------------- cell rows
    def _settle_cell_rows(self, ctxt, cell, db, handled, due):
        api = self.m.cells.api
        rows = [r for r in cell_db.list_instances(db, {"vm_state": states.BUILDING},
                                                  with_faults=False)
                if r["uuid"] not in handled]
        mappings = api_db.instance_mappings_of(api, [r["uuid"] for r in rows])
        for row in rows:
            uuid = row["uuid"]
            mapping = mappings.get(uuid)
            if mapping is None or self._deleted_while_unmapped(mapping):
                self._drop_unmapped(ctxt, db, row)
                continue
            if mapping["cell_uuid"] != cell["uuid"]:
                continue  # still being handed over, or mapped elsewhere
            action = due(states.build_started(row))
            if action == RESUME and row["host"]:
                self._settle_row(ctxt, db, row, action)
            elif action == FAIL and not self._host_up(db, row["host"]):
                # A running host times out its own builds; nobody else would
                # time out those of a host that is down or gone.
                self._settle_row(ctxt, db, row, action)

    def _deleted_while_unmapped(self, mapping) -> bool:
        """A mapping without a cell and without a build request: the user
        deleted the server. (finish_build drops the build request and sets
        the cell at once: the mapping is read again after the build request
        was found gone, so a build mapped meanwhile is not mistaken.)"""
        if mapping["cell_uuid"] is not None:
            return False
        uuid = mapping["instance_uuid"]
        api = self.m.cells.api
        if api_db.get_build_request(api, uuid) is not None:
            return False
        try:
            return api_db.get_instance_mapping(api, uuid)["cell_uuid"] is None
        except exception.InstanceNotFound:
            return True

    def _drop_unmapped(self, ctxt, db, row):
        uuid = row["uuid"]
        if not cell_db.soft_delete_instance(db, uuid):
            return
        LOG.warning("deleted instance %s: its server was deleted while its build was "
                    "interrupted", uuid)
        self.m.placement.delete_allocations(uuid)
        self.m.network.deallocate_for_instance(uuid)
        try:
            mapping = api_db.get_instance_mapping(self.m.cells.api, uuid)
        except exception.InstanceNotFound:
            return
        if mapping["cell_uuid"] is None:
            api_db.delete_instance_records(self.m.cells.api, uuid)

    def _host_up(self, db, host) -> bool:
        if not host:
            return False
        services = cell_db.list_services(db, host=host, binary="compute-compute")
        return bool(services) and service_is_up(services[0], self.m.conf.service_down_time)

    def _settle_row(self, ctxt, db, row, action):
        uuid = row["uuid"]
        if action == RESUME and row["host"]:
            try:
                inst = cell_db.update_instance(db, uuid, {"task_state": states.SCHEDULING,
                                                          "scheduled_at": cell_db.now()},
                                               expected_vm_state=(states.BUILDING,))
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                return
            spec = api_db.get_request_spec(self.m.cells.api, uuid) or {}
            LOG.info("casting the interrupted build of %s to %s again", uuid, inst["host"])
            self.m.compute_rpc.build_and_run_instance(
                ctxt, inst["host"], inst, spec, spec.get("image") or {}, [], None, attempt=1)
            return
        message = timed_out_message(uuid) if action == FAIL else \
            f"Build of instance {uuid} was interrupted before it reached a host."
        fail_build(ctxt, db, row, message, self.m.placement, self.m.notifier)


def fail_build(ctxt, db, row, message, placement, notifier):
    """A build in BUILD goes to ERROR with *message* as its fault, and its
    allocations are freed; nothing happens if it left BUILD meanwhile."""
    uuid = row["uuid"]
    fault = {"code": 500, "message": message, "details": message, "host": row.get("host")}
    try:
        # The fault in the update's transaction: ERROR is never seen without it.
        cell_db.update_instance(db, uuid, {"vm_state": states.ERROR, "task_state": None},
                                expected_vm_state=(states.BUILDING,), read_back=False,
                                fault=fault)
    except (exception.InstanceNotFound, exception.InstanceInvalidState):
        return
    LOG.warning("%s", message)
    placement.delete_allocations(uuid)
    notifier.error(ctxt, "instance.create.error",
                   notifications.instance_payload(dict(row, vm_state=states.ERROR),
                                                  fault=message))
