"""The compute manager's part in moves: resize and cold migration, rebuild and
evacuation, live migration. The conductor drives each move step by step."""
from __future__ import annotations

import logging

from compute_core import context as ctx_mod
from compute_core import exception, notifications
from compute_core.compute import states
from compute_core.compute.common import ctx_now

LOG = logging.getLogger(__name__)
# A live migration's progress, as the driver reports it and the migration
# record keeps it (bytes).
MIGRATION_FIGURES = ("memory_total", "memory_processed", "memory_remaining", "disk_total",
                     "disk_processed", "disk_remaining")


class MoveSteps:
    """ComputeManager's move steps (RPC 1.2, 1.4, 1.8, 1.9)."""

    # ------------------------------------------------------------ moves
    # RPC 1.2: the conductor calls these steps one by one and keeps the
    # migration record, the instance row and the allocations itself.
    def _move_step(self, ctxt, instance, event, step):
        uuid = instance["uuid"]
        with self.locks(uuid):
            self._event(ctxt, uuid, event)
            try:
                answer = step() or {}
            except Exception as exc:
                LOG.warning("%s of %s on %s failed: %s", event, uuid, self.host, exc)
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                return {"error": getattr(exc, "message", None) or str(exc) or
                        type(exc).__name__}
            self._event(ctxt, uuid, event, "Success", finish=True)
            return dict(answer, power_state=int(self._power_state(instance)))

    def prep_resize(self, ctxt, instance, flavor, migration):
        """RPC 1.8, on the destination before anything moves: can this host
        take the instance? A refusal sends the conductor to the next host
        the scheduler offered (Nova's prep_resize reschedules)."""
        def step():
            same_host = instance.get("host") == self.host
            if not self.driver.supports("supports_migrate" if migration.get(
                    "migration_type") == "migration" else "supports_resize"):
                raise exception.NotSupportedByDriver(driver=type(self.driver).__name__,
                                                     action="resize")
            if same_host and not (self.conf.allow_resize_to_same_host
                                  or self.driver.supports("supports_migrate_to_same_host")):
                raise exception.Conflict(f"Unable to migrate instance {instance['uuid']} "
                                         f"to the host it is on ({self.host}).")
            return {}
        return self._move_step(ctxt, instance, "compute_prep_resize", step)

    def migrate_disk_and_power_off(self, ctxt, instance, dest, flavor):
        """The source's step of a resize or cold migration: as Nova, a clean
        shutdown of the guest first (the image's os_shutdown_timeout, as a
        stop waits; the conductor's call waits that long more), then the
        driver hands the disks over."""
        def step():
            self._power_off_unless_off(instance)
            disk_info = self.driver.migrate_disk_and_power_off(
                ctxt, instance, dest, flavor, instance.get("network_info") or {})
            return {"disk_info": disk_info}
        return self._move_step(ctxt, instance, "compute_resize_instance", step)

    def finish_migration(self, ctxt, instance, migration, disk_info, power_on):
        resize = migration["old_flavor_id"] != migration["new_flavor_id"]
        return self._move_step(ctxt, instance, "compute_finish_resize", lambda: (
            self.driver.finish_migration(ctxt, migration, instance, disk_info,
                                         instance.get("network_info") or {}, {}, resize,
                                         power_on)))

    def confirm_migration(self, ctxt, instance, migration):
        return self._move_step(ctxt, instance, "compute_confirm_resize", lambda: (
            self.driver.confirm_migration(ctxt, migration, instance,
                                          instance.get("network_info") or {})))

    def revert_migration(self, ctxt, instance, migration):
        return self._move_step(ctxt, instance, "compute_revert_resize", lambda: (
            self.driver.destroy(ctxt, instance, instance.get("network_info") or {}, True)))

    def finish_revert_migration(self, ctxt, instance, migration, power_on):
        return self._move_step(ctxt, instance, "compute_finish_revert_resize", lambda: (
            self.driver.finish_revert_migration(ctxt, instance,
                                                instance.get("network_info") or {},
                                                migration, power_on)))

    # ---------------------------------------------------------- rebuild
    def rebuild_instance(self, ctxt, instance, image, admin_password, recreate=False,
                         migration=None):
        """Rebuild the guest from *image* (a rebuild, on its host) or, with
        *recreate*, spawn it here anew (an evacuation from a down host: the
        conductor has moved the instance to this host and claimed its
        resources). The server keeps its uuid and addresses."""
        uuid = instance["uuid"]
        event = "compute_rebuild_instance"
        sysmeta = dict(instance.get("system_metadata") or {})
        # An evacuation ends in the state the API chose (2.95: stopped); a
        # rebuild in the state the server had.
        target = sysmeta.pop("evacuate_target_state", None)
        was_stopped = target == states.STOPPED if recreate else \
            instance["vm_state"] == states.STOPPED
        with self.locks(uuid):
            self._event(ctxt, uuid, event)
            try:
                self._update(ctxt, uuid, {"task_state": states.REBUILD_SPAWNING},
                             expected_task_state=states.REBUILDING)
                if recreate:
                    self.driver.spawn(ctxt, instance, image or {},
                                      instance.get("network_info") or {}, admin_password)
                else:
                    self.driver.rebuild(ctxt, instance, image or {},
                                        instance.get("network_info") or {})
                if was_stopped:
                    self._power_off(instance)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                self._event(ctxt, uuid, event, "Error", finish=True)
                return
            except Exception as exc:
                LOG.warning("rebuild of %s on %s failed: %s", uuid, self.host, exc)
                self._fault(ctxt, uuid, exc)
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                try:
                    self._update(ctxt, uuid, {"vm_state": states.ERROR, "task_state": None,
                                              "power_state": int(self._power_state(instance))},
                                 expected_task_state=states.REBUILD_SPAWNING)
                except (exception.InstanceNotFound, exception.InstanceInvalidState):
                    pass
                if migration:
                    self.conductor.migration_update(ctxt, migration["uuid"],
                                                    {"status": "failed"})
                return
            values = {"vm_state": states.STOPPED if was_stopped else states.ACTIVE,
                      "task_state": None, "power_state": int(self._power_state(instance)),
                      "launched_at": ctx_now(), "system_metadata": sysmeta}
            try:
                self._update(ctxt, uuid, values, expected_task_state=states.REBUILD_SPAWNING,
                             event=event, result="Success", finish=True)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                return
            if migration:
                # The source host drops its copy when it comes back.
                self.conductor.migration_update(ctxt, migration["uuid"], {"status": "done"})
        self.notifier.info(ctxt, "instance.rebuild.end",
                           notifications.instance_payload(instance))

    def destroy_evacuated_instances(self):
        """At start: the guests this host still has of servers evacuated
        away while it was down are destroyed, and the share of the
        resources they held here freed (the migration completed)."""
        ctxt = ctx_mod.get_admin_context()
        guests = set(self.driver.list_instances())
        for migration in self.conductor.evacuations_from_host(ctxt, self.host):
            uuid = migration["instance_uuid"]
            with self.locks(uuid):
                if uuid in guests:
                    LOG.info("destroying the guest of %s, evacuated to %s", uuid,
                             migration["dest_compute"])
                    try:
                        self.driver.destroy(ctxt, {"uuid": uuid}, {}, True)
                    except Exception:
                        LOG.exception("could not destroy the evacuated guest %s", uuid)
                        continue
                self.placement.delete_allocations(migration["uuid"])
                self.conductor.migration_update(ctxt, migration["uuid"],
                                                {"status": "completed"})

    # --------------------------------------------------- live migration
    # RPC 1.4: steps called by the conductor, which keeps the migration
    # record, the instance row and the allocations.
    def pre_live_migration(self, ctxt, instance, migrate_data):
        return self._move_step(ctxt, instance, "compute_pre_live_migration", lambda: {
            "migrate_data": self.driver.pre_live_migration(
                ctxt, instance, instance.get("network_info") or {}, migrate_data or {})})

    # RPC 1.9
    def rollback_live_migration_at_destination(self, ctxt, instance, migrate_data):
        return self._move_step(
            ctxt, instance, "compute_rollback_live_migration_at_destination",
            lambda: self.driver.rollback_live_migration_at_destination(
                ctxt, instance, migrate_data or {}))

    def live_migration(self, ctxt, instance, dest, migrate_data):
        outcome = {}

        def post(context, inst, dest_host, data):
            outcome["moved"] = True

        def recover(context, inst, dest_host, data):
            outcome["moved"] = False

        def step():
            try:
                self.driver.live_migration(ctxt, instance, dest, post, recover,
                                           migrate_data or {})
            except exception.LiveMigrationAborted:
                outcome["cancelled"] = True
                raise
            if not outcome.get("moved"):
                raise exception.VirtDriverError(
                    reason="the driver finished without moving the guest")
        migration = (migrate_data or {}).get("migration_uuid")
        if migration:
            self._live_migrations[instance["uuid"]] = (ctxt, migration)
        try:
            answer = self._move_step(ctxt, instance, "compute_live_migration", step)
        finally:
            self._live_migrations.pop(instance["uuid"], None)
        answer.pop("power_state", None)  # the guest is no longer here
        if outcome.get("cancelled"):
            answer["cancelled"] = True
        return answer

    def _live_migration_progress(self, uuid, figures):
        """The driver's figures of a running live migration, into its record."""
        found = self._live_migrations.get(uuid)
        if found is None:
            return
        ctxt, migration = found
        try:
            self.conductor.migration_update(ctxt, migration, {
                k: figures.get(k) for k in MIGRATION_FIGURES})
        except Exception:
            LOG.exception("could not record the progress of the migration of %s", uuid)

    # RPC 1.9: from the API while live_migration runs (which holds the
    # instance's lock: these do not take it).
    def live_migration_abort(self, ctxt, instance, migration_id):
        self._live_control(ctxt, instance, "compute_live_migration_abort",
                           self.driver.live_migration_abort)

    def live_migration_force_complete(self, ctxt, instance):
        self._live_control(ctxt, instance, "compute_live_migration_force_complete",
                           self.driver.live_migration_force_complete)

    def _live_control(self, ctxt, instance, event, fn):
        uuid = instance["uuid"]
        self._event(ctxt, uuid, event)
        try:
            fn(instance)
        except Exception as exc:
            LOG.warning("%s of %s on %s failed: %s", event, uuid, self.host, exc)
            self._event(ctxt, uuid, event, "Error", exc, finish=True)
            return
        self._event(ctxt, uuid, event, "Success", finish=True)

    def post_live_migration_at_destination(self, ctxt, instance):
        return self._move_step(ctxt, instance, "compute_post_live_migration_at_destination",
                               lambda: self.driver.post_live_migration_at_destination(
                                   ctxt, instance, instance.get("network_info") or {}))
