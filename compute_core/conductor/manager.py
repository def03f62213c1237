"""The conductor's RPC endpoint (target version 1.0)."""
from __future__ import annotations

import logging
import traceback
import uuid as uuidlib

import oslo_messaging as messaging

from compute_core import exception, notifications
from compute_core.compute import rpcapi as compute_rpcapi
from compute_core.compute import states
from compute_core.db import api_db, cell_db
from compute_core.db.cells import CELL0_UUID

LOG = logging.getLogger(__name__)


class ConductorManager:
    target = messaging.Target(version="1.1")

    def __init__(self, conf, cells, local_db, scheduler_api, compute_api, placement, network,
                 notifier):
        self.conf = conf
        self.cells = cells            # CellDatabases over the API database
        self.local_db = local_db      # this conductor's cell database
        self.scheduler_api = scheduler_api
        self.compute_api: compute_rpcapi.ComputeAPI = compute_api
        self.placement = placement
        self.network = network
        self.notifier = notifier

    # ------------------------------------------------------------- builds
    def schedule_and_build_instances(self, ctxt, instance_uuids, request_spec, image,
                                     requested_networks):
        api = self.cells.api
        live = [u for u in instance_uuids if api_db.get_build_request(api, u)]
        for gone in set(instance_uuids) - set(live):
            self._forget_build(ctxt, gone)
        if not live:
            return
        try:
            result = self.scheduler_api.select_destinations(ctxt, request_spec, live, True)
        except messaging.MessagingTimeout:
            result = {"error": "NoValidHost",
                      "message": "No valid host was found. The scheduler did not answer."}
        except Exception as exc:  # a broken scheduler must not lose the build
            LOG.exception("scheduling %s failed", live)
            result = {"error": "NoValidHost", "message": f"No valid host was found. {exc}"}
        if isinstance(result, dict) and result.get("error"):
            for uuid in live:
                self._bury_in_cell0(ctxt, uuid, result["message"])
            return
        for uuid, selections in zip(live, result):
            self._create_and_cast(ctxt, uuid, request_spec, image, requested_networks,
                                  selections)

    def _create_and_cast(self, ctxt, uuid, request_spec, image, requested_networks, selections):
        api = self.cells.api
        chosen, alternates = selections[0], selections[1:]
        build = api_db.get_build_request(api, uuid)
        if build is None:  # deleted while we scheduled
            self._forget_build(ctxt, uuid)
            return
        cell = self.cells.mapping(chosen["cell_uuid"])
        db = self.cells.get(cell["uuid"])
        values = dict(build["instance"])
        values.update(host=chosen["service_host"], node=chosen["nodename"],
                      scheduled_at=cell_db.now(), vm_state=states.BUILDING,
                      task_state=states.SCHEDULING, power_state=0)
        try:
            values["network_info"] = self.network.allocate_for_instance(
                uuid, requested_networks if requested_networks is not None else "auto")
        except exception.ComputeCoreError as exc:
            self.placement.delete_allocations(uuid)
            self._bury_in_cell0(ctxt, uuid, exc.message, cleanup_network=True)
            return
        metadata = values.pop("metadata", {}) or {}
        instance = cell_db.create_instance(db, values, metadata, action=("create", ctxt))
        if not api_db.finish_build(api, uuid, cell["id"]):
            # The user deleted the server between our two looks: undo.
            LOG.info("instance %s was deleted during scheduling", uuid)
            cell_db.soft_delete_instance(db, uuid)
            self.network.deallocate_for_instance(uuid)
            self.placement.delete_allocations(uuid)
            return
        self.compute_api.build_and_run_instance(
            ctxt, chosen["service_host"], instance, request_spec, image, alternates,
            chosen["allocation_request"], attempt=1)

    def build_instances(self, ctxt, instance_uuid, request_spec, image, alternates, attempt):
        """Reschedule: a compute host failed to build; try the next alternate."""
        _, db = self.cells.for_instance(instance_uuid)
        try:
            instance = cell_db.get_instance(db, instance_uuid)
        except exception.InstanceNotFound:
            return
        while alternates:
            alt, alternates = alternates[0], alternates[1:]
            if self.placement.claim(instance_uuid, alt["allocation_request"],
                                    instance["project_id"], instance["user_id"]):
                try:
                    instance = cell_db.update_instance(
                        db, instance_uuid, {"host": alt["service_host"], "node": alt["nodename"],
                                            "task_state": states.SCHEDULING},
                        expected_task_state=[states.SCHEDULING, states.SPAWNING, None])
                except (exception.InstanceInvalidState, exception.InstanceNotFound):
                    self.placement.delete_allocations(instance_uuid)
                    return
                self.compute_api.build_and_run_instance(
                    ctxt, alt["service_host"], instance, request_spec, image, alternates,
                    alt["allocation_request"], attempt=attempt + 1)
                return
        self._set_error(ctxt, db, instance_uuid,
                        "Exceeded maximum number of retries. No valid host was found.")

    def _set_error(self, ctxt, db, uuid, message):
        try:
            cell_db.update_instance(db, uuid, {"vm_state": states.ERROR, "task_state": None})
        except exception.InstanceNotFound:
            return
        cell_db.add_fault(db, uuid, 500, message, "")

    def _bury_in_cell0(self, ctxt, uuid, message, cleanup_network=False):
        """No host: keep the instance in cell0, in ERROR, with the fault."""
        api = self.cells.api
        build = api_db.get_build_request(api, uuid)
        if build is None:
            self._forget_build(ctxt, uuid)
            return
        cell0 = self.cells.mapping(CELL0_UUID)
        db = self.cells.get(CELL0_UUID)
        values = dict(build["instance"])
        metadata = values.pop("metadata", {}) or {}
        values.update(vm_state=states.ERROR, task_state=None, power_state=0, host=None,
                      node=None)
        cell_db.create_instance(db, values, metadata)
        cell_db.add_fault(db, uuid, 500, message.split(". ")[0] + "." if message.startswith(
            "No valid host") else message, message)
        cell_db.start_action(db, uuid, "create", ctxt)
        api_db.set_instance_cell(api, uuid, cell0["id"])
        if cleanup_network:
            self.network.deallocate_for_instance(uuid)
        if not api_db.delete_build_request(api, uuid):
            cell_db.soft_delete_instance(db, uuid)
        self.notifier.error(ctxt, "instance.create.error",
                            notifications.instance_payload(values, fault=message))

    def _forget_build(self, ctxt, uuid):
        """The server was deleted before it reached a cell: drop what is left."""
        try:
            self.placement.delete_allocations(uuid)
        except Exception:
            LOG.exception("could not delete allocations of %s", uuid)
        mapping = None
        try:
            mapping = api_db.get_instance_mapping(self.cells.api, uuid)
        except exception.InstanceNotFound:
            pass
        if mapping is not None and mapping["cell_uuid"] is None:
            api_db.delete_instance_records(self.cells.api, uuid)

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
                        event=None):
        """Update an instance; *event* ({"event", "result", "host", "tb",
        "finish"}, RPC 1.1) records an action event in the same call."""
        kwargs = {}
        if expected_task_state != "__any__":
            kwargs["expected_task_state"] = expected_task_state
        def update(db):
            return cell_db.update_instance(db, instance_uuid, values, event=event,
                                           request_id=ctxt.request_id, **kwargs)

        try:
            return self._in_cell(instance_uuid, update)
        except exception.InstanceInvalidState as exc:
            return {"error": "InstanceInvalidState", "message": exc.message}
        except exception.InstanceNotFound as exc:
            return {"error": "InstanceNotFound", "message": exc.message}

    def instance_get(self, ctxt, instance_uuid):
        try:
            return self._in_cell(instance_uuid,
                                 lambda db: cell_db.get_instance(db, instance_uuid))
        except exception.InstanceNotFound:
            return None

    def instance_fault_create(self, ctxt, instance_uuid, code, message, details, host):
        try:
            self._in_cell(instance_uuid, lambda db: cell_db.add_fault(
                db, instance_uuid, code, message, details, host))
        except exception.InstanceNotFound:
            pass

    def instance_destroy(self, ctxt, instance_uuid):
        """Finish a delete: the instance row, its addresses."""
        try:
            _, db = self.cells.for_instance(instance_uuid)
            if db is not None:
                cell_db.soft_delete_instance(db, instance_uuid)
        except exception.InstanceNotFound:
            pass
        self.network.deallocate_for_instance(instance_uuid)

    def instances_on_host(self, ctxt, host):
        return cell_db.list_instances(self.local_db, {"host": host}, with_faults=False)

    def service_update(self, ctxt, host, binary, topic):
        return cell_db.service_heartbeat(self.local_db, host, binary, topic)

    def compute_node_update(self, ctxt, host, nodename, values):
        existing = [n for n in cell_db.list_compute_nodes(self.local_db, host=host)
                    if n["hypervisor_hostname"] == nodename]
        row = dict(values, host=host, hypervisor_hostname=nodename,
                   uuid=existing[0]["uuid"] if existing else str(uuidlib.uuid4()))
        return cell_db.upsert_compute_node(self.local_db, row)

    def action_event(self, ctxt, instance_uuid, event, result=None, host=None, tb=None,
                     finish=False):
        try:
            _, db = self.cells.for_instance(instance_uuid)
        except exception.InstanceNotFound:
            return
        if db is None:
            return
        cell_db.action_event(db, instance_uuid, ctxt.request_id, event, result, host, tb, finish)


def format_tb(exc) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
