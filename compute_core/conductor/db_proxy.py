"""The conductor's database calls for the compute hosts, which have no
database access of their own."""
from __future__ import annotations

import datetime
import logging
import uuid as uuidlib

from compute_core import exception
from compute_core.db import cell_db
from compute_core.db import server_groups as groups_db
from compute_core.db import task_log
from compute_core.db import usage as usage_db

LOG = logging.getLogger(__name__)


class DatabaseProxy:
    """ConductorManager's RPC methods that read and write the cell
    database for a compute host."""

    # -------------------------------------------- DB access for computes
    def _in_cell(self, instance_uuid, fn):
        """fn(cell database) for an instance a compute host asks about.

        Compute hosts talk to the conductor of their own cell, so the
        instance is nearly always in this conductor's database: try that
        first, and look the mapping up only when it is not there.
        """
        try:
            return fn(self.local_db)
        except exception.InstanceNotFound:
            _, db = self.cells.for_instance(instance_uuid)
            if db is None or db.url == self.local_db.url:
                raise
            return fn(db)

    def instance_update(self, ctxt, instance_uuid, values, expected_task_state="__any__",
                        event=None, return_instance=True, expected_vm_state=None,
                        fault=None):
        """Update an instance; *event* ({"event", "result", "host", "tb",
        "finish"}, RPC 1.1) records an action event in the same call. With
        return_instance=False (RPC 1.3) the answer is None on success: the
        caller keeps its own copy, and the instance is not read back.
        *expected_vm_state* (a list, RPC 1.15) guards the update as
        *expected_task_state* does; *fault* ({"code", "message", "details",
        "host"}, RPC 1.15) is written in the same transaction, only when the
        update is made."""
        kwargs = {}
        if expected_task_state != "__any__":
            kwargs["expected_task_state"] = expected_task_state
        if expected_vm_state is not None:
            kwargs["expected_vm_state"] = expected_vm_state

        def update(db):
            return cell_db.update_instance(db, instance_uuid, values, event=event,
                                           request_id=ctxt.request_id,
                                           read_back=return_instance, fault=fault, **kwargs)

        try:
            return self._in_cell(instance_uuid, update)
        except exception.InstanceInvalidState as exc:
            return {"error": "InstanceInvalidState", "message": exc.message}
        except exception.InstanceNotFound as exc:
            return {"error": "InstanceNotFound", "message": exc.message}

    def instance_get(self, ctxt, instance_uuid, event=None):
        """The instance, or None; *event* (as instance_update's, RPC 1.5)
        is recorded in the same call."""
        def get(db):
            instance = cell_db.get_instance(db, instance_uuid)
            if event is not None:
                cell_db.action_event(db, instance_uuid, ctxt.request_id, **event)
            return instance

        try:
            return self._in_cell(instance_uuid, get)
        except exception.InstanceNotFound:
            return None

    def instance_fault_create(self, ctxt, instance_uuid, code, message, details, host):
        try:
            self._in_cell(instance_uuid, lambda db: cell_db.add_fault(
                db, instance_uuid, code, message, details, host))
        except exception.InstanceNotFound:
            pass

    def instance_destroy(self, ctxt, instance_uuid, event=None, start_event=None):
        """Finish a delete: the instance row, its addresses; *event* (as
        instance_update's, RPC 1.5) is recorded in the same transaction,
        after *start_event* (the delete's start, RPC 1.12) when given. As
        in _in_cell, the row is looked for in this conductor's cell first: a
        row that lost its mapping (an interrupted build) is deleted all the
        same."""
        def destroy(db):
            if not cell_db.soft_delete_instance(db, instance_uuid, event, ctxt.request_id,
                                                start_event=start_event):
                raise exception.InstanceNotFound(instance_id=instance_uuid)

        try:
            self._in_cell(instance_uuid, destroy)
        except exception.InstanceNotFound:
            pass
        self.network.deallocate_for_instance(instance_uuid)
        # Gone for good (a soft-deleted server reclaimed by its host, too):
        # it leaves its server group.
        groups_db.remove_member(self.cells.api, instance_uuid)

    def instances_on_host(self, ctxt, host):
        return cell_db.list_instances(self.local_db, {"host": host}, with_faults=False)

    def deleted_instances(self, ctxt, instance_uuids):
        """The instances of this cell among *instance_uuids* that are
        deleted (RPC 1.5)."""
        return cell_db.list_instances(self.local_db, {"uuids": list(instance_uuids),
                                                      "deleted": True}, with_faults=False)

    def service_update(self, ctxt, host, binary, topic):
        return cell_db.service_heartbeat(self.local_db, host, binary, topic)

    def compute_node_update(self, ctxt, host, nodename, values):
        existing = [n for n in cell_db.list_compute_nodes(self.local_db, host=host)
                    if n["hypervisor_hostname"] == nodename]
        row = dict(values, host=host, hypervisor_hostname=nodename,
                   uuid=existing[0]["uuid"] if existing else str(uuidlib.uuid4()))
        return cell_db.upsert_compute_node(self.local_db, row)

    def action_event(self, ctxt, instance_uuid, event, result=None, host=None, tb=None,
                     finish=False, details=None, start_cast=False):
        """Record an action event; *details* (1.7) what a user may read of
        a failure; *start_cast* (1.13): its start was cast, and may not be
        there yet (the finish then records the event whole)."""
        try:
            _, db = self.cells.for_instance(instance_uuid)
        except exception.InstanceNotFound:
            return
        if db is None:
            return
        cell_db.action_event(db, instance_uuid, ctxt.request_id, event, result, host, tb, finish,
                             details, start_cast=start_cast)

    def migration_update(self, ctxt, migration_uuid, values):
        """Update a migration record of this conductor's cell (1.7)."""
        try:
            cell_db.update_migration(self.local_db, migration_uuid, values)
        except exception.NotFound:
            LOG.warning("migration %s is not in this cell", migration_uuid)

    # 1.10: the usage audit of the compute hosts (times as ISO strings).
    def task_log_get(self, ctxt, task_name, begin, end, host):
        return task_log.get(self.local_db, task_name, _time(begin), _time(end), host)

    def task_log_begin_task(self, ctxt, task_name, begin, end, host, task_items, message):
        try:
            return task_log.begin_task(self.local_db, task_name, _time(begin), _time(end),
                                       host, task_items, message)
        except task_log.TaskAlreadyRunning as exc:
            return {"error": "TaskAlreadyRunning", "message": exc.message}

    def task_log_end_task(self, ctxt, task_name, begin, end, host, errors, message):
        try:
            return task_log.end_task(self.local_db, task_name, _time(begin), _time(end), host,
                                     errors, message)
        except exception.NotFound as exc:
            return {"error": "NotFound", "message": exc.message}

    def instances_active_in_window(self, ctxt, host, begin, end):
        """The instances of *host* (deleted ones too) that ran during
        [begin, end): launched before its end, not terminated before its
        beginning."""
        return usage_db.active_in_window(self.local_db, _time(begin), _time(end), host=host)
    def unconfirmed_resizes(self, ctxt, host, window):
        """The moves to *host* waiting in VERIFY_RESIZE for more than
        *window* seconds (1.11, for resize_confirm_window)."""
        before = cell_db.now() - datetime.timedelta(seconds=window)
        return cell_db.finished_migrations_to_host(self.local_db, host, before)

    def evacuations_from_host(self, ctxt, host):
        """The evacuations away from *host* whose source guest is still to
        be dropped (status done), for the host that comes back (1.7)."""
        return cell_db.migrations_from_host(self.local_db, host, "evacuation", ["done"])


def _time(value) -> datetime.datetime:
    """A naive UTC datetime from an RPC argument (ISO string or datetime)."""
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None)
    return datetime.datetime.fromisoformat(value).replace(tzinfo=None)
