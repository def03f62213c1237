"""The conductor's RPC endpoint (target version: rpcapi.VERSION, see rpcapi)."""
from __future__ import annotations

import logging
import traceback

import oslo_messaging as messaging

from compute_core import exception, notifications
from compute_core.compute import rpcapi as compute_rpcapi
from compute_core.conductor import rpcapi as conductor_rpcapi
from compute_core.conductor.db_proxy import DatabaseProxy
from compute_core.conductor.moves import Moves
from compute_core.compute import states
from compute_core.db import api_db, cell_db
from compute_core.db.cells import CELL0_UUID

LOG = logging.getLogger(__name__)


class ConductorManager(Moves, DatabaseProxy):
    target = messaging.Target(version=conductor_rpcapi.VERSION)

    def __init__(self, conf, cells, local_db, scheduler_api, compute_rpc, placement, network,
                 notifier, images=None):
        self.conf = conf
        self.cells = cells            # CellDatabases over the API database
        self.local_db = local_db      # this conductor's cell database
        self.scheduler_api = scheduler_api
        self.compute_rpc: compute_rpcapi.ComputeRPCClient = compute_rpc
        self.placement = placement
        self.network = network
        self.notifier = notifier
        # images() -> the image backend (loaded at its first use): the
        # snapshot an offloaded server is unshelved from.
        self.images = images

    # ------------------------------------------------------------- builds
    def schedule_and_build_instances(self, ctxt, instance_uuids, request_spec, image,
                                     requested_networks, builds=None):
        """*builds* (RPC 1.13): {uuid: instance} as the API wrote them in the
        build requests; without it (or for a uuid it lacks) the build
        request is read. A server deleted before it reaches its cell is
        caught there either way (finish_build finds no build request)."""
        api = self.cells.api
        given = builds or {}
        builds = {u: {"instance": given[u]} if u in given else api_db.get_build_request(api, u)
                  for u in instance_uuids}
        live = [u for u in instance_uuids if builds[u]]
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
                                  selections, builds[uuid])

    def _create_and_cast(self, ctxt, uuid, request_spec, image, requested_networks, selections,
                         build):
        """Create the instance in the chosen host's cell from its *build*
        request and cast the build to that host. A server deleted while it
        was scheduled is caught here: finish_build finds no build request."""
        api = self.cells.api
        chosen, alternates = selections[0], selections[1:]
        cell = self.cells.mapping(chosen["cell_uuid"])
        db = self.cells.get(cell["uuid"])
        values = dict(build["instance"])
        values.update(host=chosen["service_host"], node=chosen["nodename"],
                      scheduled_at=cell_db.now(), vm_state=states.BUILDING,
                      task_state=states.SCHEDULING, power_state=0)
        try:
            values["network_info"] = self.network.allocate_for_instance(
                uuid, requested_networks if requested_networks is not None else "auto",
                project_id=values["project_id"])
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
            self._forget_build(ctxt, uuid)
            return
        self.compute_rpc.build_and_run_instance(
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
                        expected_task_state=[states.SCHEDULING, states.SPAWNING, None],
                        # A build timed out meanwhile (ERROR) stays failed.
                        expected_vm_state=(states.BUILDING,))
                except (exception.InstanceInvalidState, exception.InstanceNotFound):
                    self.placement.delete_allocations(instance_uuid)
                    return
                self.compute_rpc.build_and_run_instance(
                    ctxt, alt["service_host"], instance, request_spec, image, alternates,
                    alt["allocation_request"], attempt=attempt + 1)
                return
        self._set_error(ctxt, db, instance_uuid,
                        "Exceeded maximum number of retries. No valid host was found.")

    def _set_error(self, ctxt, db, uuid, message):
        """The build failed for good. Whoever sees ERROR sees why and finds
        the ports free: they are given back first, and the fault written
        with ERROR (a failed host's fault is there already), as a compute
        host does; a server no longer building (timed out) is left alone."""
        self.deallocate_network(ctxt, uuid)
        try:
            cell_db.update_instance(db, uuid, {"vm_state": states.ERROR, "task_state": None},
                                    expected_vm_state=(states.BUILDING,), read_back=False,
                                    fault={"code": 500, "message": message, "details": ""})
        except (exception.InstanceNotFound, exception.InstanceInvalidState):
            pass

    def deallocate_network(self, ctxt, instance_uuid):
        """A build that failed for good gives its network back at once, as
        Nova cleans up a failed build's networks (RPC 1.14, from a compute
        host that does not reschedule; _set_error when the reschedules run
        out): the ports it made are deleted, those the user brought are
        unbound (free for another boot), and the server shows no addresses."""
        try:
            self._in_cell(instance_uuid, lambda db: cell_db.update_instance(
                db, instance_uuid, {"network_info": {}}, read_back=False))
        except exception.InstanceNotFound:
            pass  # deleted meanwhile: its delete frees the ports too
        self.network.deallocate_for_instance(instance_uuid)

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
        # The build's own event says why (Nova's name for it).
        event = "conductor_schedule_and_build_instances"
        cell_db.action_event(db, uuid, ctxt.request_id, event)
        cell_db.action_event(db, uuid, ctxt.request_id, event, "Error", tb=message,
                             finish=True, details=message)
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

    # ------------------------------------------------------------ snapshots
    def snapshot_instance(self, ctxt, instance_uuid, image_id, backup_type=None,
                          rotation=None):
        """Hand a snapshot (or backup) to the instance's compute host, which
        captures the disk into the queued image *image_id*."""
        try:
            _, db = self.cells.for_instance(instance_uuid)
            if db is None:  # still a build request: no disk yet
                raise exception.InstanceNotFound(instance_id=instance_uuid)
            instance = cell_db.get_instance(db, instance_uuid)
        except exception.InstanceNotFound:
            LOG.info("snapshot of %s: the instance is gone", instance_uuid)
            return
        if not instance.get("host"):
            LOG.warning("snapshot of %s: the instance has no host", instance_uuid)
            cell_db.update_instance(db, instance_uuid, {"task_state": None})
            return
        self.compute_rpc.snapshot_instance(ctxt, instance["host"], instance, image_id,
                                           backup_type, rotation)


def format_tb(exc) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
