"""The conductor's moves: resize and cold migration, rebuild, evacuation,
unshelve of an offloaded server, live migration."""
from __future__ import annotations

import logging

from compute_core import exception
from compute_core.compute import shutdown, states
from compute_core.db import api_db, cell_db

LOG = logging.getLogger(__name__)


class Moves:
    """ConductorManager's move RPC methods."""

    # -------------------------------------------------------------- moves
    # A move (cold migration, or resize to another flavor) as Nova makes
    # it: the instance's allocations on the source pass to the migration
    # record (consumer type MIGRATION), the scheduler claims the new flavor
    # on another host for the instance, the source host powers the guest
    # off and hands its disks over, the destination starts it: the server
    # waits in VERIFY_RESIZE. Confirming drops the source guest and the
    # migration's allocations; reverting drops the destination guest and
    # gives the instance its source allocations back. Before anything
    # moves the destination is asked (prep_resize); a refusal tries the
    # scheduler's alternates, and when none takes it the server stays as it
    # was. A later failure leaves what Nova leaves: ERROR with a fault, the
    # allocations of the host the server is then on.

    def migrate_server(self, ctxt, instance_uuid, flavor, migration_type, destination=None,
                       same_host=False):
        _, db = self.cells.for_instance(instance_uuid)
        try:
            instance = cell_db.get_instance(db, instance_uuid)
        except exception.InstanceNotFound:
            return
        source = instance["host"]
        migration = cell_db.create_migration(db, {
            "instance_uuid": instance_uuid, "source_compute": source,
            "source_node": instance["node"], "old_flavor_id": instance["flavor"]["flavorid"],
            "new_flavor_id": flavor["flavorid"], "status": "pre-migrating",
            "migration_type": migration_type})
        try:
            self._migrate(ctxt, db, instance, migration, flavor, destination, same_host)
        except exception.InstanceNotFound:
            # Deleted during the move: whatever is still held goes.
            LOG.info("instance %s was deleted during its move", instance_uuid)
            for consumer in (migration["uuid"], instance_uuid):
                self.placement.delete_allocations(consumer)
            cell_db.update_migration(db, migration["uuid"], {"status": "error"})

    def _migrate(self, ctxt, db, instance, migration, flavor, destination=None,
                 same_host=False):
        instance_uuid, source = instance["uuid"], instance["host"]
        event = "conductor_migrate_server"
        cell_db.action_event(db, instance_uuid, ctxt.request_id, event, None, None, None, False)
        project, user = instance["project_id"], instance["user_id"]
        if not self.placement.move_allocations(instance_uuid, migration["uuid"], project, user):
            self._move_failed(ctxt, db, instance, migration, event,
                              "The allocations of the instance could not be moved to its "
                              "migration record.", restore=False)
            return
        spec = dict(api_db.get_request_spec(self.cells.api, instance_uuid) or {},
                    instance_uuid=instance_uuid, project_id=project, user_id=user,
                    flavor=flavor, num_instances=1, instance_uuids=[instance_uuid],
                    ignore_hosts=[] if same_host else [source], force_hosts=[],
                    force_nodes=[], requested_destination=destination)
        try:
            result = self.scheduler_api.select_destinations(ctxt, spec, [instance_uuid], True)
        except Exception as exc:  # a scheduler that does not answer
            result = {"error": "NoValidHost", "message": f"No valid host was found. {exc}"}
        if isinstance(result, dict) and result.get("error"):
            self._move_failed(ctxt, db, instance, migration, event, result["message"])
            return
        found = self._prep_resize(ctxt, db, instance, migration, flavor, result[0])
        if isinstance(found, str):
            # Every host refused: the server stays as it was (Nova's
            # InstanceFaultRollback), its source allocations given back.
            self.placement.delete_allocations(instance_uuid)
            self._move_failed(ctxt, db, instance, migration, event, found)
            return
        dest, migration = found
        instance = cell_db.update_instance(db, instance_uuid,
                                           {"task_state": states.RESIZE_MIGRATING})
        was_active = instance["vm_state"] == states.ACTIVE
        answer = self._step(self.compute_rpc.migrate_disk_and_power_off,
            ctxt, source, instance, dest["service_host"], flavor,
            shutdown.shutdown_timeout(self.conf, instance))
        if answer.get("error"):
            self.placement.delete_allocations(instance_uuid)
            self._move_failed(ctxt, db, instance, migration, event, answer["error"],
                              host=source)
            return
        migration = cell_db.update_migration(db, migration["uuid"], {"status": "post-migrating"})
        instance = cell_db.update_instance(db, instance_uuid, {
            "task_state": states.RESIZE_FINISH, "host": dest["service_host"],
            "node": dest["nodename"], **api_db.instance_flavor_columns(flavor)})
        answer = self._step(self.compute_rpc.finish_migration,
            ctxt, dest["service_host"], instance, migration, answer.get("disk_info"),
            was_active)
        if answer.get("error"):
            # As Nova leaves it: the server in ERROR on the destination with
            # the new flavor and the destination's allocations (a hard
            # reboot there may recover it); the source's share is freed.
            self.placement.delete_allocations(migration["uuid"])
            self._move_failed(ctxt, db, instance, migration, event, answer["error"],
                              restore=False, host=dest["service_host"])
            return
        cell_db.update_migration(db, migration["uuid"], {"status": "finished"})
        cell_db.update_instance(db, instance_uuid, {
            "vm_state": states.RESIZED, "task_state": None,
            "power_state": answer.get("power_state", 0),
            "system_metadata": dict(instance.get("system_metadata") or {},
                                    old_vm_state=instance["vm_state"])},
            event={"event": event, "result": "Success", "host": None, "tb": None,
                   "finish": True}, request_id=ctxt.request_id)

    def _prep_resize(self, ctxt, db, instance, migration, flavor, selections):
        """Ask the scheduler's pick, then each alternate (claimed in turn),
        whether it takes the instance (prep_resize). (selection, migration)
        of the first that does, or the last refusal's message."""
        uuid = instance["uuid"]
        message = "No valid host was found."
        for attempt, dest in enumerate(selections):
            if attempt and not self.placement.claim(uuid, dest["allocation_request"],
                                                    instance["project_id"],
                                                    instance["user_id"]):
                continue
            migration = cell_db.update_migration(db, migration["uuid"], {
                "dest_compute": dest["service_host"], "dest_node": dest["nodename"],
                "dest_host": dest["service_host"], "status": "migrating"})
            answer = self._step(self.compute_rpc.prep_resize, ctxt, dest["service_host"],
                                instance, flavor, migration)
            if not answer.get("error"):
                return dest, migration
            message = answer["error"]
            LOG.info("prep_resize of %s on %s refused (%s): rescheduling", uuid,
                     dest["service_host"], message)
            # Nova records each refusal as a fault of the instance.
            cell_db.add_fault(db, uuid, 500, message, message, dest["service_host"])
            self.placement.delete_allocations(uuid)
        return message

    @staticmethod
    def _step(call, *args):
        """One move step on a compute host: its answer, or {"error": ...} when
        the host does not answer (down, timed out) or the call fails."""
        try:
            return call(*args) or {}
        except Exception as exc:  # noqa: BLE001 - the move records it as a fault
            LOG.warning("move step %s failed: %s", getattr(call, "__name__", call), exc)
            return {"error": f"The compute host did not complete the step: {exc}"}

    def _old_flavor(self, instance, migration):
        """The instance columns of the flavor the instance had before its move."""
        flavor = api_db.get_flavor(self.cells.api, migration["old_flavor_id"],
                                   instance["project_id"], True)
        return api_db.instance_flavor_columns(api_db.instance_flavor(flavor))

    def _move_failed(self, ctxt, db, instance, migration, event, message, restore=True,
                     host=None):
        """Put the source allocations back on the instance, mark the
        migration failed, leave the instance where it was with a fault
        (ERROR when a host failed during the move)."""
        uuid = instance["uuid"]
        if restore:
            self.placement.move_allocations(migration["uuid"], uuid, instance["project_id"],
                                            instance["user_id"], target_type="INSTANCE",
                                            source_type="MIGRATION")
        cell_db.update_migration(db, migration["uuid"], {"status": "error"})
        # The fault first: whoever sees the new state sees why.
        cell_db.add_fault(db, uuid, 500 if host else 400,
                          message.split(". ")[0] + "." if message.startswith("No valid host")
                          else message, message, host)
        values = {"task_state": None}
        if host is not None:
            values["vm_state"] = states.ERROR
        cell_db.update_instance(db, uuid, values, event={
            "event": event, "result": "Error", "host": host, "tb": message, "finish": True,
            "details": message}, request_id=ctxt.request_id)

    @staticmethod
    def _finish_failed(ctxt, db, uuid, migration, event, message, host=None):
        """A host failed to confirm or revert: the server in ERROR with the fault."""
        cell_db.update_migration(db, migration["uuid"], {"status": "error"})
        cell_db.add_fault(db, uuid, 500, message, message, host)
        cell_db.update_instance(db, uuid, {"vm_state": states.ERROR, "task_state": None},
                                event={"event": event, "result": "Error", "host": host,
                                       "tb": message, "finish": True, "details": message},
                                request_id=ctxt.request_id)

    def _resized(self, instance_uuid):
        """(cell database, instance, its finished migration), or None."""
        try:
            _, db = self.cells.for_instance(instance_uuid)
            instance = cell_db.get_instance(db, instance_uuid)
        except exception.InstanceNotFound:
            return None
        migration = cell_db.migration_of_instance(db, instance_uuid, ["finished"])
        return None if migration is None else (db, instance, migration)

    def confirm_resize(self, ctxt, instance_uuid):
        found = self._resized(instance_uuid)
        if found is None:
            return
        db, instance, migration = found
        event = "conductor_confirm_resize"
        answer = self._step(self.compute_rpc.confirm_migration, ctxt,
                            migration["source_compute"], instance, migration)
        if answer.get("error"):
            self._finish_failed(ctxt, db, instance_uuid, migration, event, answer["error"],
                                migration["source_compute"])
            return
        self.placement.delete_allocations(migration["uuid"])
        cell_db.update_migration(db, migration["uuid"], {"status": "confirmed"})
        old_state = (instance.get("system_metadata") or {}).get("old_vm_state")
        cell_db.update_instance(db, instance_uuid, {
            "vm_state": states.STOPPED if old_state == states.STOPPED else states.ACTIVE,
            "task_state": None})

    def revert_resize(self, ctxt, instance_uuid):
        found = self._resized(instance_uuid)
        if found is None:
            return
        db, instance, migration = found
        event = "conductor_revert_resize"
        dest = migration["dest_compute"]
        old_state = (instance.get("system_metadata") or {}).get("old_vm_state")
        cell_db.update_migration(db, migration["uuid"], {"status": "reverting"})
        answer = self._step(self.compute_rpc.revert_migration, ctxt, dest, instance, migration)
        if not answer.get("error"):
            self.placement.delete_allocations(instance_uuid)
            self.placement.move_allocations(migration["uuid"], instance_uuid,
                                            instance["project_id"], instance["user_id"],
                                            target_type="INSTANCE", source_type="MIGRATION")
            instance = cell_db.update_instance(db, instance_uuid, {
                "host": migration["source_compute"], "node": migration["source_node"],
                **self._old_flavor(instance, migration)})
            answer = self._step(self.compute_rpc.finish_revert_migration,
                ctxt, migration["source_compute"], instance, migration,
                old_state != states.STOPPED)
        if answer.get("error"):
            self._finish_failed(ctxt, db, instance_uuid, migration, event, answer["error"])
            return
        cell_db.update_migration(db, migration["uuid"], {"status": "reverted"})
        cell_db.update_instance(db, instance_uuid, {
            "vm_state": states.STOPPED if old_state == states.STOPPED else states.ACTIVE,
            "task_state": None, "power_state": answer.get("power_state", 0)})

    # ------------------------------------------------ rebuilds and moves
    # The server actions that need a host chosen (unshelve of an offloaded
    # server, evacuate, live migration) or that Nova routes through the
    # conductor (rebuild). The API has set the task_state and recorded the
    # action; each records its conductor event, and a failure leaves the
    # server where it was with the event in Error and a fault.

    def _action_failed(self, ctxt, db, uuid, event, message, values, migration=None,
                       fault=True):
        if migration is not None:
            cell_db.update_migration(db, migration["uuid"], {"status": "error"})
        if fault:
            cell_db.add_fault(db, uuid, 400 if message.startswith("No valid host") else 500,
                              message.split(". ")[0] + "." if message.startswith(
                                  "No valid host") else message, message)
        try:
            cell_db.update_instance(db, uuid, dict(values, task_state=None), event={
                "event": event, "result": "Error", "host": None, "tb": message,
                "finish": True, "details": message}, request_id=ctxt.request_id)
        except exception.InstanceNotFound:
            pass

    @staticmethod
    def _same_flavor_move(db, instance, migration_type) -> dict:
        """The migration record of a move that keeps the flavor (an
        evacuation, a live migration), from the server's host."""
        flavor_id = instance["flavor"]["flavorid"]
        return cell_db.create_migration(db, {
            "instance_uuid": instance["uuid"], "source_compute": instance["host"],
            "source_node": instance["node"], "old_flavor_id": flavor_id,
            "new_flavor_id": flavor_id, "status": "accepted",
            "migration_type": migration_type})

    def _start_move(self, ctxt, instance_uuid, event, migration_type):
        """How an evacuation and a live migration start: the conductor's
        *event* recorded, the migration record made and the instance's
        allocations moved to it. (db, instance, migration, whether the
        allocations moved), or None when the instance is gone."""
        found = self._instance(instance_uuid)
        if found is None:
            return None
        db, instance = found
        cell_db.action_event(db, instance_uuid, ctxt.request_id, event)
        migration = self._same_flavor_move(db, instance, migration_type)
        moved = self.placement.move_allocations(instance_uuid, migration["uuid"],
                                                instance["project_id"], instance["user_id"])
        return db, instance, migration, moved

    def _instance(self, instance_uuid):
        """(cell database, instance) or None when it is gone."""
        try:
            _, db = self.cells.for_instance(instance_uuid)
            return db, cell_db.get_instance(db, instance_uuid)
        except exception.InstanceNotFound:
            return None

    def _schedule(self, ctxt, instance, flavor=None, ignore_hosts=(), destination=None,
                  force_hosts=(), availability_zone=None):
        """The scheduler's pick for *instance* (claimed for it), or
        {"error", "message"}."""
        uuid = instance["uuid"]
        spec = dict(api_db.get_request_spec(self.cells.api, uuid) or {},
                    instance_uuid=uuid, project_id=instance["project_id"],
                    user_id=instance["user_id"], flavor=flavor or instance["flavor"],
                    num_instances=1, instance_uuids=[uuid], ignore_hosts=list(ignore_hosts),
                    force_hosts=list(force_hosts), force_nodes=[],
                    requested_destination=destination)
        if availability_zone is not None:
            spec["availability_zone"] = availability_zone
        try:
            result = self.scheduler_api.select_destinations(ctxt, spec, [uuid], False)
        except Exception as exc:  # a scheduler that does not answer
            return {"error": "NoValidHost", "message": f"No valid host was found. {exc}"}
        if isinstance(result, dict) and result.get("error"):
            return result
        return result[0][0]

    def rebuild_instance(self, ctxt, instance_uuid, image, admin_password, orig_image_ref=None,
                         orig_sys_metadata=None):
        """A rebuild on the server's own host. With a new image (one other
        than *orig_image_ref*, 1.9) the scheduler judges first whether
        that host may run it, as Nova's does: the request is restricted to
        the host, only the filters that run on a rebuild judge, nothing is
        claimed. A host that may not leaves the server as Nova 34 does: in
        ERROR with the fault and the event in Error, its image (and image
        system_metadata) the old ones."""
        found = self._instance(instance_uuid)
        if found is None:
            return
        db, instance = found
        event = "conductor_rebuild_server"
        cell_db.action_event(db, instance_uuid, ctxt.request_id, event, finish=False)
        if orig_image_ref is not None and orig_image_ref != image.get("id"):
            answer = self._check_rebuild_host(ctxt, instance, image)
            if answer.get("error"):
                values = {"vm_state": states.ERROR, "image_ref": orig_image_ref}
                if orig_sys_metadata is not None:
                    values["system_metadata"] = orig_sys_metadata
                LOG.warning("rebuild of %s with image %s refused: %s", instance_uuid,
                            image.get("id"), answer["message"])
                self._action_failed(ctxt, db, instance_uuid, event, answer["message"], values)
                return
            # later moves are scheduled for the new image
            api_db.set_request_spec_image(self.cells.api, instance_uuid, image)
        cell_db.action_event(db, instance_uuid, ctxt.request_id, event, "Success", finish=True)
        self.compute_rpc.rebuild_instance(ctxt, instance["host"], instance, image,
                                          admin_password)

    def _check_rebuild_host(self, ctxt, instance, image) -> dict:
        """The scheduler's verdict on the server's host for *image* (Nova's
        ``_nova_check_type: rebuild`` hint): {} or {"error", "message"}."""
        uuid = instance["uuid"]
        stored = api_db.get_request_spec(self.cells.api, uuid) or {}
        spec = dict(stored, instance_uuid=uuid, project_id=instance["project_id"],
                    user_id=instance["user_id"], flavor=instance["flavor"], image=image,
                    num_instances=1, instance_uuids=[uuid], ignore_hosts=[],
                    force_hosts=[instance["host"]],
                    force_nodes=[instance["node"]] if instance.get("node") else [],
                    requested_destination=None,
                    scheduler_hints=dict(stored.get("scheduler_hints") or {},
                                         _nova_check_type=["rebuild"]))
        try:
            result = self.scheduler_api.select_destinations(ctxt, spec, [uuid], False)
        except Exception as exc:  # a scheduler that does not answer
            return {"error": "NoValidHost", "message": f"No valid host was found. {exc}"}
        return result if isinstance(result, dict) and result.get("error") else {}

    def evacuate_instance(self, ctxt, instance_uuid, image, admin_password, host=None,
                          force=False):
        """Rebuild the server of a down host on another one: the scheduler
        picks it (or judges *host*; *force* skips its filters), the
        resources the server held on its source pass to the migration
        record until that host comes back and drops its copy."""
        event = "conductor_rebuild_server"
        started = self._start_move(ctxt, instance_uuid, event, "evacuation")
        if started is None:
            return
        db, instance, migration, moved = started
        source = instance["host"]
        project, user = instance["project_id"], instance["user_id"]
        destination = None if force or not host else {"host": host}
        pick = self._schedule(ctxt, instance, ignore_hosts=[source], destination=destination,
                              force_hosts=[host] if force and host else ())
        if pick.get("error"):
            if moved:
                self.placement.move_allocations(migration["uuid"], instance_uuid, project,
                                                user, target_type="INSTANCE",
                                                source_type="MIGRATION")
            self._action_failed(ctxt, db, instance_uuid, event, pick["message"], {},
                                migration)
            return
        migration = cell_db.update_migration(db, migration["uuid"], {
            "dest_compute": pick["service_host"], "dest_node": pick["nodename"],
            "dest_host": pick["service_host"], "status": "pre-migrating"})
        instance = cell_db.update_instance(
            db, instance_uuid, {"host": pick["service_host"], "node": pick["nodename"]},
            event={"event": event, "result": "Success", "host": None, "tb": None,
                   "finish": True}, request_id=ctxt.request_id)
        self.compute_rpc.rebuild_instance(ctxt, pick["service_host"], instance, image,
                                          admin_password, recreate=True, migration=migration)

    def unshelve_instance(self, ctxt, instance_uuid, image, availability_zone=None,
                          host=None):
        """A shelved server back on its host; an offloaded one on the host
        the scheduler picks (in *availability_zone*, or *host*, when asked)."""
        found = self._instance(instance_uuid)
        if found is None:
            return
        db, instance = found
        event = "conductor_unshelve_instance"
        cell_db.action_event(db, instance_uuid, ctxt.request_id, event)
        if instance["vm_state"] == states.SHELVED_OFFLOADED:
            shelved = (instance.get("system_metadata") or {}).get("shelved_image_id")
            if shelved and self.images is not None:
                # Spawned from the shelve's snapshot, as in Nova; without it
                # the server cannot come back as it was.
                try:
                    found = self.images().get(shelved)
                    image = {k: found.get(k) for k in ("id", "name", "properties", "min_disk",
                                                       "min_ram", "size", "disk_format")}
                except exception.ImageNotFound:
                    self._action_failed(ctxt, db, instance_uuid, event,
                                        f"Unshelve attempted but the image {shelved} cannot "
                                        f"be found.", {"vm_state": states.ERROR})
                    return
            pick = self._schedule(ctxt, instance, destination={"host": host} if host else None,
                                  availability_zone=availability_zone)
            if pick.get("error"):
                self._action_failed(ctxt, db, instance_uuid, event, pick["message"], {})
                return
            values = {"host": pick["service_host"], "node": pick["nodename"]}
            if availability_zone is not None:
                values["availability_zone"] = availability_zone
            instance = cell_db.update_instance(db, instance_uuid, values)
        cell_db.action_event(db, instance_uuid, ctxt.request_id, event, "Success",
                             finish=True)
        self.compute_rpc.unshelve_instance(ctxt, instance["host"], instance, image)

    def live_migrate_instance(self, ctxt, instance_uuid, host=None, force=False):
        """Move a running server to another host without stopping it: the
        scheduler picks the host (or judges *host*; *force* skips its
        filters), the destination prepares, the source moves the guest."""
        event = "conductor_live_migrate_instance"
        started = self._start_move(ctxt, instance_uuid, event, "live-migration")
        if started is None:
            return
        db, instance, migration, moved = started
        source = instance["host"]
        project, user = instance["project_id"], instance["user_id"]
        if not moved:
            self._action_failed(ctxt, db, instance_uuid, event,
                                "The allocations of the instance could not be moved to its "
                                "migration record.", {}, migration)
            return

        def give_back(dest_claimed):
            if dest_claimed:
                self.placement.delete_allocations(instance_uuid)
            self.placement.move_allocations(migration["uuid"], instance_uuid, project, user,
                                            target_type="INSTANCE", source_type="MIGRATION")

        pick = self._schedule(ctxt, instance, ignore_hosts=[source],
                              destination=None if force or not host else {"host": host},
                              force_hosts=[host] if force and host else ())
        if pick.get("error"):
            give_back(False)
            self._action_failed(ctxt, db, instance_uuid, event, pick["message"], {}, migration)
            return
        dest = pick["service_host"]
        migration = cell_db.update_migration(db, migration["uuid"], {
            "dest_compute": dest, "dest_node": pick["nodename"], "dest_host": dest,
            "status": "preparing"})
        # migration_uuid: where the source host records the progress
        answer = self._step(self.compute_rpc.pre_live_migration, ctxt, dest, instance,
                            {"migration_uuid": migration["uuid"]})
        if not answer.get("error"):
            cell_db.update_migration(db, migration["uuid"], {"status": "running"})
            migrate_data = answer.get("migrate_data") or {}
            answer = self._step(self.compute_rpc.live_migration, ctxt, source, instance, dest,
                                migrate_data)
            if answer.get("error"):  # the destination undoes what it prepared
                undone = self._step(self.compute_rpc.rollback_live_migration_at_destination,
                                    ctxt, dest, instance, migrate_data)
                if undone.get("error"):
                    LOG.warning("destination %s could not roll back the move of %s: %s",
                                dest, instance_uuid, undone["error"])
        if answer.get("error"):
            give_back(True)
            self._action_failed(ctxt, db, instance_uuid, event, answer["error"], {},
                                migration)
            if answer.get("cancelled"):  # aborted through the API, as Nova records it
                cell_db.update_migration(db, migration["uuid"], {"status": "cancelled"})
            return
        instance = cell_db.update_instance(db, instance_uuid,
                                           {"host": dest, "node": pick["nodename"]})
        answer = self._step(self.compute_rpc.post_live_migration_at_destination, ctxt, dest,
                            instance)
        self.placement.delete_allocations(migration["uuid"])
        if answer.get("error"):
            # The guest left the source: the server is on dest, but broken.
            self._action_failed(ctxt, db, instance_uuid, event, answer["error"],
                                {"vm_state": states.ERROR}, migration)
            return
        cell_db.update_migration(db, migration["uuid"], {"status": "completed"})
        cell_db.update_instance(db, instance_uuid, {
            "task_state": None, "power_state": answer.get("power_state", 0)},
            event={"event": event, "result": "Success", "host": None, "tb": None,
                   "finish": True}, request_id=ctxt.request_id)
