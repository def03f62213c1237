"""The compute service's RPC endpoint (target version 1.7, see rpcapi) and periodic work."""
from __future__ import annotations

import datetime
import logging
import threading
import time
import traceback

import oslo_messaging as messaging

from compute_core import context as ctx_mod
from compute_core import clock, exception, network, notifications
from compute_core.compute import audit
from compute_core.compute import rpcapi, shutdown, states
from compute_core.console import access
from compute_core.image import snapshots
from compute_core.virt.driver import DEFAULT_CAPABILITIES, PowerState

LOG = logging.getLogger(__name__)
BINARY = "compute-compute"
# Seconds between ACPI shutdown requests of a clean shutdown (Nova's)
SHUTDOWN_RETRY_INTERVAL = 10
# A live migration's progress, as the driver reports it and the migration
# record keeps it (bytes).
MIGRATION_FIGURES = ("memory_total", "memory_processed", "memory_remaining", "disk_total",
                     "disk_processed", "disk_remaining")


class _InstanceLocks:
    """One lock per instance: operations on one guest never overlap."""

    def __init__(self):
        self._lock = threading.Lock()
        self._locks: dict[str, list] = {}

    def __call__(self, uuid):
        outer = self

        class _Held:
            def __enter__(self_inner):
                with outer._lock:
                    entry = outer._locks.setdefault(uuid, [threading.Lock(), 0])
                    entry[1] += 1
                entry[0].acquire()

            def __exit__(self_inner, *exc):
                with outer._lock:
                    entry = outer._locks[uuid]
                    entry[0].release()
                    entry[1] -= 1
                    if entry[1] == 0:
                        del outer._locks[uuid]

        return _Held()

    def held(self, uuid) -> bool:
        """Whether an operation on *uuid* is running or waiting."""
        with self._lock:
            return uuid in self._locks


class ComputeManager:
    target = messaging.Target(version=rpcapi.VERSION)

    def __init__(self, conf, host, driver, conductor, placement, notifier, images=None):
        self.conf = conf
        # images(): the image backend, made at the first snapshot (a host
        # that never takes one needs no image service credentials).
        self.images = images
        self.host = host
        self.driver = driver
        self.conductor = conductor
        self.placement = placement
        self.notifier = notifier
        use_images = getattr(driver, "use_image_backend", None)
        if images is not None and use_images is not None:
            use_images(images)  # for drivers that read image data themselves
        self.locks = _InstanceLocks()
        self.node = None
        # Guests on the hypervisor that belong to no instance of this host
        # (not even a deleted one): what a crash or a lost database leaves.
        self.unknown_guests: list[str] = []
        # Guests that change state by themselves are synced on the driver's
        # events (an object that is not a ComputeDriver may lack the hook).
        register = getattr(driver, "register_event_listener", None)
        if register is not None:
            register(self.handle_lifecycle_event)
        # {instance uuid: (context, migration uuid)} of the live migrations
        # this host's driver runs, whose progress it reports.
        self._live_migrations: dict[str, tuple] = {}
        register = getattr(driver, "register_migration_listener", None)
        if register is not None:
            register(self._live_migration_progress)

    # ---------------------------------------------------------- helpers
    def _update(self, ctxt, uuid, values, expected_task_state="__any__", event=None,
                result=None, finish=False):
        """Update the instance through the conductor; with *event*, record
        that action event (start, or finish with *result*) in the same call.
        The instance is not read back: a caller that keeps a copy merges
        *values* into it."""
        ev = None if event is None else {"event": event, "result": result, "host": self.host,
                                         "finish": finish}
        result = self.conductor.instance_update(ctxt, uuid, values, expected_task_state, ev,
                                                return_instance=False)
        if isinstance(result, dict) and result.get("error") == "InstanceNotFound":
            raise exception.InstanceNotFound(instance_id=uuid)
        if isinstance(result, dict) and result.get("error") == "InstanceInvalidState":
            raise exception.InstanceInvalidState(action="update", instance_uuid=uuid,
                                                 attr="task_state", state="changed")
        return result

    def _fault(self, ctxt, uuid, exc):
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.conductor.instance_fault_create(ctxt, uuid, getattr(exc, "code", 500) or 500,
                                             message, details, self.host)

    def _event(self, ctxt, uuid, event, result=None, exc=None, finish=False):
        tb = details = None
        if exc is not None:
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            details = _message(exc)
        try:
            self.conductor.action_event(ctxt, uuid, event, result, self.host, tb, finish,
                                        details=details)
        except Exception:
            LOG.exception("could not record action event %s of %s", event, uuid)

    # ------------------------------------------------------------ build
    def build_and_run_instance(self, ctxt, instance, request_spec, image, alternates,
                               allocation_request, attempt):
        uuid = instance["uuid"]
        with self.locks(uuid):
            self._build(ctxt, instance, request_spec, image, alternates, attempt)

    def _build(self, ctxt, instance, request_spec, image, alternates, attempt):
        uuid = instance["uuid"]
        self.notifier.info(ctxt, "instance.create.start", notifications.instance_payload(instance))
        event = "compute__do_build_and_run_instance"
        try:
            spawning = {"task_state": states.SPAWNING}
            self._update(ctxt, uuid, spawning, expected_task_state=states.SCHEDULING,
                         event=event)
            instance = dict(instance, **spawning)
        except (exception.InstanceNotFound, exception.InstanceInvalidState):
            # Deleted while queued: the delete path cleans up.
            LOG.info("instance %s deleted before its build started", uuid)
            self._event(ctxt, uuid, event, "Error", finish=True)
            return
        try:
            self.driver.spawn(ctxt, instance, image or {}, instance.get("network_info") or {})
        except Exception as exc:  # any driver failure: reschedule or ERROR
            LOG.warning("spawn of %s on %s failed: %s", uuid, self.host, exc)
            self._event(ctxt, uuid, event, "Error", exc,
                        finish=True)
            self._cleanup_failed_spawn(ctxt, instance)
            if alternates and self.conf.scheduler.max_attempts > 1:
                self._fault(ctxt, uuid, exc)
                self.conductor.build_instances(ctxt, uuid, request_spec, image, alternates,
                                               attempt)
                return
            self._fault(ctxt, uuid, exc)
            try:
                self._update(ctxt, uuid, {"vm_state": states.ERROR, "task_state": None,
                                          "power_state": PowerState.NOSTATE},
                             expected_task_state=states.SPAWNING)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                pass
            self.notifier.error(ctxt, "instance.create.error",
                                notifications.instance_payload(instance, fault=str(exc)))
            return
        try:
            active = {"vm_state": states.ACTIVE, "task_state": None,
                      "power_state": int(self._power_state(instance)),
                      "launched_at": ctx_now()}
            self._update(ctxt, uuid, active, expected_task_state=states.SPAWNING,
                         event=event, result="Success", finish=True)
            instance = dict(instance, **active)
        except (exception.InstanceNotFound, exception.InstanceInvalidState):
            # Deleted while spawning (terminate_instance runs after us, and
            # finds nothing left to do), or timed out: the guest goes.
            LOG.info("instance %s was deleted or timed out while spawning", uuid)
            self._event(ctxt, uuid, event, "Error", finish=True)
            self._cleanup_failed_spawn(ctxt, instance)
            return
        self.notifier.info(ctxt, "instance.create.end", notifications.instance_payload(instance))

    def _cleanup_failed_spawn(self, ctxt, instance):
        try:
            self.driver.destroy(ctxt, instance, instance.get("network_info") or {}, True)
        except Exception:
            LOG.exception("cleanup after failed spawn of %s", instance["uuid"])
        try:
            self.placement.delete_allocations(instance["uuid"])
        except Exception:
            LOG.exception("could not free allocations of %s", instance["uuid"])

    def _power_state(self, instance):
        try:
            return self.driver.get_info(instance).state
        except exception.InstanceNotFound:
            return PowerState.NOSTATE

    # ----------------------------------------------------------- delete
    def terminate_instance(self, ctxt, instance):
        uuid = instance["uuid"]
        with self.locks(uuid):
            self.notifier.info(ctxt, "instance.delete.start",
                               notifications.instance_payload(instance))
            event = "compute_terminate_instance"
            start = {"event": event, "host": self.host}
            # A 1.9 conductor records the start with the destroy: the API's
            # copy of the instance, read as it asked for the delete, serves
            # (one call instead of two). An older one is asked for the
            # instance, and records the start, first.
            together = self.conductor.destroys_with_start()
            current = instance if together else (
                self.conductor.instance_get(ctxt, uuid, event=start) or instance)
            try:
                self.driver.destroy(ctxt, current, current.get("network_info") or {}, True)
            except Exception as exc:
                LOG.warning("destroy of %s failed: %s", uuid, exc)
                if together:
                    self._event(ctxt, uuid, event)
                self._fault(ctxt, uuid, exc)
                self._update(ctxt, uuid, {"vm_state": states.ERROR, "task_state": None})
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                return
            self.placement.delete_allocations(uuid)
            self.conductor.instance_destroy(ctxt, uuid, event={
                "event": event, "result": "Success", "host": self.host, "finish": True},
                start_event=start if together else None)
            self.notifier.info(ctxt, "instance.delete.end",
                               notifications.instance_payload(dict(current, vm_state="deleted")))

    # ------------------------------------------------------------ power
    def _power_action(self, ctxt, instance, event, action, ok_values, task_state,
                      error_values=None):
        """Run *action*(instance) from *task_state* under the instance's
        lock, with its action event; then *ok_values* (task_state cleared,
        power state read back), or on failure a fault, the event in Error
        and *error_values* (by default only the task_state cleared)."""
        uuid = instance["uuid"]
        with self.locks(uuid):
            self._event(ctxt, uuid, event)
            try:
                action(instance)
            except Exception as exc:
                self._fault(ctxt, uuid, exc)
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                try:
                    self._update(ctxt, uuid, dict(error_values or {}, task_state=None,
                                                  power_state=int(self._power_state(instance))),
                                 expected_task_state=task_state)
                except (exception.InstanceNotFound, exception.InstanceInvalidState):
                    pass
                return False
            values = dict(ok_values, task_state=None,
                          power_state=int(self._power_state(instance)))
            try:
                self._update(ctxt, uuid, values, expected_task_state=task_state)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                return False
            self._event(ctxt, uuid, event, "Success", finish=True)
            return True

    def _clean_shutdown(self, instance, timeout, reboot=False):
        """Ask the guest to shut down and wait up to *timeout* seconds (on
        the service's clock), asking again every SHUTDOWN_RETRY_INTERVAL:
        True once it is off, False when it did not listen, None when the
        driver cannot ask (see ComputeDriver.request_shutdown)."""
        clk = clock.current()
        start = asked = clk.monotonic()
        # Only a running guest listens (a paused or suspended one is forced)
        if self._power_state(instance) != PowerState.RUNNING or \
                not self.driver.request_shutdown(instance, reboot):
            return None
        while True:
            if self._power_state(instance) in (PowerState.SHUTDOWN, PowerState.CRASHED):
                return True
            now = clk.monotonic()
            if now - start >= timeout:
                return False
            if now - asked >= SHUTDOWN_RETRY_INTERVAL:
                self.driver.request_shutdown(instance, reboot)
                asked = now
            clk.sleep(min(1.0, timeout - (now - start)))

    def _power_off(self, instance, clean_shutdown=True):
        """Power the guest off: a clean shutdown of up to [DEFAULT]
        shutdown_timeout (or the image's os_shutdown_timeout) first (unless
        *clean_shutdown* is False), then forced."""
        timeout = shutdown.shutdown_timeout(self.conf, instance) if clean_shutdown else 0
        done = self._clean_shutdown(instance, timeout) if timeout else None
        if done is None:
            self.driver.power_off(instance, timeout, SHUTDOWN_RETRY_INTERVAL)
            return
        if done is False:
            LOG.info("%s did not shut down within %s s: powering it off", instance["uuid"],
                     timeout)
        self.driver.power_off(instance, 0, 0)

    def _reboot(self, ctxt, instance, reboot_type):
        """A soft reboot asks the guest to shut down and restarts it; one
        the guest ignores for [libvirt] wait_soft_reboot_seconds becomes a
        hard reboot (what Nova's libvirt driver does, for any driver that
        can ask)."""
        network_info = instance.get("network_info") or {}
        if reboot_type != "HARD" and self._power_state(instance) == PowerState.RUNNING:
            wait = self.conf.libvirt.wait_soft_reboot_seconds
            done = self._clean_shutdown(instance, wait, reboot=True)
            if done is False:
                LOG.info("%s did not shut down within %s s for a soft reboot: rebooting "
                         "it hard", instance["uuid"], wait)
                reboot_type = "HARD"
        self.driver.reboot(ctxt, instance, network_info, reboot_type)

    def stop_instance(self, ctxt, instance, clean_shutdown=True):
        self._power_action(ctxt, instance, "compute_stop_instance",
                           lambda i: self._power_off(i, clean_shutdown),
                           {"vm_state": states.STOPPED}, states.POWERING_OFF)

    def start_instance(self, ctxt, instance):
        self._power_action(ctxt, instance, "compute_start_instance",
                           lambda i: self.driver.power_on(ctxt, i, i.get("network_info") or {}),
                           {"vm_state": states.ACTIVE}, states.POWERING_ON)

    def reboot_instance(self, ctxt, instance, reboot_type):
        task = states.REBOOTING_HARD if reboot_type == "HARD" else states.REBOOTING
        self._power_action(ctxt, instance, "compute_reboot_instance",
                           lambda i: self._reboot(ctxt, i, reboot_type),
                           {"vm_state": states.ACTIVE}, task)

    # 1.3: the driver answers. A refusal (the driver cannot) comes back as
    # {"error": message, "unsupported": True}, so the API answers it clearly.
    def _ask_driver(self, what, fn, *args):
        try:
            return {"result": fn(*args)}
        except exception.ComputeCoreError as exc:
            return {"error": exc.message,
                    "unsupported": isinstance(exc, exception.NotSupportedByDriver)}
        except Exception as exc:  # a driver bug must not stop the service
            LOG.exception("driver failed %s on %s", what, self.host)
            return {"error": f"{what} failed on host {self.host}: {exc}"}

    def get_diagnostics(self, ctxt, instance):
        return self._ask_driver("diagnostics", self.driver.get_diagnostics, instance)

    def host_power_action(self, ctxt, action):
        return self._ask_driver("host power action", self.driver.host_power_action, action)

    def host_maintenance_mode(self, ctxt, mode):
        return self._ask_driver("maintenance mode", self.driver.host_maintenance_mode,
                                self.host, mode)

    def cache_images(self, ctxt, images):
        """Fetch images into this host's cache ahead of boots (an aggregate's
        image cache request); each image's result is logged."""
        for image in images:
            answer = self._ask_driver("image caching", self.driver.cache_image, ctxt, image)
            if "error" in answer:
                LOG.warning("image %s not cached on %s: %s", image["id"], self.host,
                            answer["error"])
            else:
                LOG.info("image %s %s on %s", image["id"],
                         "cached" if answer["result"] else "was cached already", self.host)

    def pause_instance(self, ctxt, instance):
        self._power_action(ctxt, instance, "compute_pause_instance", self.driver.pause,
                           {"vm_state": states.PAUSED}, rpcapi.PAUSING)

    def unpause_instance(self, ctxt, instance):
        self._power_action(ctxt, instance, "compute_unpause_instance", self.driver.unpause,
                           {"vm_state": states.ACTIVE}, rpcapi.UNPAUSING)

    # ----------------------------------------------------------- console
    def get_console_connection(self, ctxt, instance, console_type):
        """Where the guest's console of *console_type* listens, from the
        driver; a refusal comes back as {"error", "message"}. A type this
        host does not enable ([vnc]/[spice]/[serial_console] enabled) is
        ConsoleTypeUnavailable before the driver is asked, as in Nova."""
        served = access.SERVED_TYPES.get(console_type)
        if served is not None and not self.conf[served[0]].enabled:
            return {"error": "ConsoleTypeUnavailable",
                    "message": exception.ConsoleTypeUnavailable(
                        console_type=console_type).message}
        try:
            info = self.driver.get_console_connection(ctxt, instance, console_type)
        except exception.ComputeCoreError as exc:
            return {"error": type(exc).__name__, "message": str(exc)}
        host = info["host"]
        if host in ("", "0.0.0.0", "::"):
            host = self.conf.my_ip  # listening everywhere: reach it at this host's address
        return {"host": host, "port": int(info["port"]),
                "internal_access_path": info.get("internal_access_path")}

    def suspend_instance(self, ctxt, instance):
        self._power_action(ctxt, instance, "compute_suspend_instance",
                           lambda i: self.driver.suspend(ctxt, i),
                           {"vm_state": states.SUSPENDED}, rpcapi.SUSPENDING)

    def resume_instance(self, ctxt, instance):
        self._power_action(ctxt, instance, "compute_resume_instance",
                           lambda i: self.driver.resume(ctxt, i, i.get("network_info") or {}),
                           {"vm_state": states.ACTIVE}, rpcapi.RESUMING)

    # -------------------------------------------------------- snapshots
    def snapshot_instance(self, ctxt, instance, image_id, backup_type=None, rotation=None):
        """Capture the guest's disk into the queued image *image_id*
        (task_state image_snapshot/image_backup -> image_pending_upload ->
        image_uploading -> None); a backup then keeps the newest *rotation*
        backups of its type. A failure deletes the image and leaves the
        server as it was, with the action event in error."""
        uuid = instance["uuid"]
        backup = backup_type is not None
        event = "compute_backup_instance" if backup else "compute_snapshot_instance"
        first = states.IMAGE_BACKUP if backup else states.IMAGE_SNAPSHOT
        with self.locks(uuid):
            self._event(ctxt, uuid, event)
            task = first
            try:
                images = self.images()
                for task, previous in ((states.IMAGE_PENDING_UPLOAD, first),
                                       (states.IMAGE_UPLOADING, states.IMAGE_PENDING_UPLOAD)):
                    self._update(ctxt, uuid, {"task_state": task},
                                 expected_task_state=previous)
                self.driver.snapshot(ctxt, instance, image_id,
                                     _uploader(images, image_id))
            except Exception as exc:  # driver, backend or a deleted instance
                LOG.warning("snapshot of %s into image %s failed: %s", uuid, image_id, exc)
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                self._drop_image(image_id)
                try:
                    self._update(ctxt, uuid, {"task_state": None}, expected_task_state=task)
                except (exception.InstanceNotFound, exception.InstanceInvalidState):
                    pass
                return
            try:
                self._update(ctxt, uuid, {"task_state": None},
                             expected_task_state=states.IMAGE_UPLOADING)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                pass
            if backup and rotation is not None:
                for gone in snapshots.rotate_backups(self.images(), uuid, backup_type,
                                                     rotation):
                    LOG.info("rotated out backup %s of %s", gone, uuid)
            self._event(ctxt, uuid, event, "Success", finish=True)

    def _drop_image(self, image_id):
        try:
            self.images().delete(image_id)
        except exception.ImageNotFound:
            pass
        except Exception:
            LOG.exception("could not delete image %s of a failed snapshot", image_id)

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
        def step():
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

    # --------------------------------------------------- server actions
    # RPC 1.4. Each starts from the task_state the API (or the conductor)
    # set, records its action event and ends with the task_state cleared.

    def rescue_instance(self, ctxt, instance, rescue_password, rescue_image_ref):
        image = {"id": rescue_image_ref or instance.get("image_ref")}
        ok = self._power_action(
            ctxt, instance, "compute_rescue_instance",
            lambda i: self.driver.rescue(ctxt, i, i.get("network_info") or {}, image,
                                         rescue_password),
            # launched_at: when it was rescued (as Nova records it; rescue_timeout)
            {"vm_state": states.RESCUED, "launched_at": ctx_now()}, states.RESCUING)
        if ok:
            self.notifier.info(ctxt, "instance.rescue.end",
                               notifications.instance_payload(instance))

    def unrescue_instance(self, ctxt, instance):
        self._power_action(ctxt, instance, "compute_unrescue_instance",
                           lambda i: self.driver.unrescue(ctxt, i),
                           {"vm_state": states.ACTIVE}, states.UNRESCUING)

    def trigger_crash_dump(self, ctxt, instance):
        # The guest's reaction is its own business: the vm_state stays.
        self._power_action(ctxt, instance, "compute_trigger_crash_dump",
                           self.driver.trigger_crash_dump, {}, None)

    def soft_delete_instance(self, ctxt, instance):
        """Power the guest off and keep it, SOFT_DELETED, until restored or
        reclaimed ([DEFAULT] reclaim_instance_interval)."""
        def power_off(i):
            if self._power_state(i) != PowerState.SHUTDOWN:
                self._power_off(i)
        self._power_action(ctxt, instance, "compute_soft_delete_instance", power_off,
                           {"vm_state": states.SOFT_DELETED, "deleted_at": ctx_now()},
                           states.SOFT_DELETING)

    def restore_instance(self, ctxt, instance):
        self._power_action(ctxt, instance, "compute_restore_instance",
                           lambda i: self.driver.power_on(ctxt, i, i.get("network_info") or {}),
                           {"vm_state": states.ACTIVE, "deleted_at": None}, states.RESTORING)

    def set_admin_password(self, ctxt, instance, new_pass):
        """RPC call: None once set, else {"error", "message"} (the API
        answers NotImplementedByDriver with 501, any other failure 409)."""
        uuid = instance["uuid"]
        event = "compute_set_admin_password"
        with self.locks(uuid):
            self._event(ctxt, uuid, event)
            answer = None
            try:
                if self._power_state(instance) != PowerState.RUNNING:
                    raise exception.Conflict(f"Failed to set admin password on {uuid} "
                                             "because it is not running.")
                self.driver.set_admin_password(instance, new_pass)
            except Exception as exc:
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                answer = {"error": type(exc).__name__, "message": _message(exc)}
            else:
                self._event(ctxt, uuid, event, "Success", finish=True)
            try:
                self._update(ctxt, uuid, {"task_state": None},
                             expected_task_state=states.UPDATING_PASSWORD)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                pass
            return answer

    def get_console_output(self, ctxt, instance, tail_length=None):
        """RPC call: {"output": the last *tail_length* lines (all: None)}
        or {"error", "message"}."""
        try:
            text = self.driver.get_console_output(ctxt, instance)
        except Exception as exc:
            return {"error": type(exc).__name__, "message": _message(exc)}
        if tail_length is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail_length:]) if tail_length > 0 else ""
        return {"output": text}

    # -------------------------------------------------------- interfaces
    # RPC 1.10, calls from the API, which binds the network backend's port
    # before the attach and frees it after the detach.
    def attach_interface(self, ctxt, instance, port):
        """Plug *port* (the backend's port dict) into the guest and add its
        address to the instance's network_info: None, or {"error",
        "message"} (the driver failed or cannot)."""
        return self._interface_step(ctxt, instance, port, "attach",
                                    lambda: self.driver.attach_interface(
                                        ctxt, instance, {"id": instance.get("image_ref")},
                                        port), add=True)

    def detach_interface(self, ctxt, instance, port):
        """Unplug *port* from the guest and drop its address from the
        instance's network_info: None, or {"error", "message"}."""
        return self._interface_step(ctxt, instance, port, "detach",
                                    lambda: self.driver.detach_interface(ctxt, instance, port),
                                    add=False)

    def _interface_step(self, ctxt, instance, port, verb, step, add):
        """Run *step* (the driver's), then change network_info; the action
        event and notifications are Nova's: compute_attach_interface,
        instance.interface_attach.start/.end/.error (detach likewise)."""
        uuid = instance["uuid"]
        event, what = f"compute_{verb}_interface", f"interface_{verb}"
        with self.locks(uuid):
            self.notifier.info(ctxt, f"instance.{what}.start",
                               notifications.instance_payload(instance))
            self._event(ctxt, uuid, event)
            try:
                if not self.driver.supports("supports_attach_interface"):
                    raise exception.NotSupportedByDriver(driver=type(self.driver).__name__,
                                                         action="attach interface")
                step()
                current = self.conductor.instance_get(ctxt, uuid)
                if current is None:
                    raise exception.InstanceNotFound(instance_id=uuid)
                name, entry = network.address_entry(port)
                nets = {k: [a for a in v if (a.get("addr"), a.get("OS-EXT-IPS-MAC:mac_addr"))
                            != (entry["addr"], entry["OS-EXT-IPS-MAC:mac_addr"])]
                        for k, v in (current.get("network_info") or {}).items()}
                if add:
                    nets.setdefault(name, []).append(entry)
                self._update(ctxt, uuid, {"network_info": {k: v for k, v in nets.items() if v}},
                             event=event, result="Success", finish=True)
            except Exception as exc:
                LOG.warning("%s of port %s on %s failed: %s", event, port.get("id"), uuid, exc)
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                self.notifier.error(ctxt, f"instance.{what}.error",
                                    notifications.instance_payload(instance, fault=_message(exc)))
                return {"error": type(exc).__name__, "message": _message(exc)}
            self.notifier.info(ctxt, f"instance.{what}.end",
                               notifications.instance_payload(instance))
            return None

    # ---------------------------------------------------------- shelving
    def shelve_instance(self, ctxt, instance, offload, image_id=None):
        """Power the guest off and, with *image_id* (1.7), capture its root
        disk into that queued image (task_state shelving ->
        shelving_image_pending_upload -> shelving_image_uploading), as
        Nova does; then SHELVED, with shelved_at, shelved_image_id and
        shelved_host in the system_metadata. With *offload* ([DEFAULT]
        shelved_offload_time = 0) the guest is offloaded at once. A failure
        deletes the image and leaves the server in its vm_state (task
        cleared) with a fault and the action event in Error."""
        uuid = instance["uuid"]
        event = "compute_shelve_instance"
        with self.locks(uuid):
            self._event(ctxt, uuid, event)
            task = states.SHELVING
            try:
                if self._power_state(instance) != PowerState.SHUTDOWN:
                    self._power_off(instance)
                if image_id is not None:
                    images = self.images()
                    for task, previous in (
                            (states.SHELVING_IMAGE_PENDING_UPLOAD, states.SHELVING),
                            (states.SHELVING_IMAGE_UPLOADING,
                             states.SHELVING_IMAGE_PENDING_UPLOAD)):
                        self._update(ctxt, uuid, {"task_state": task},
                                     expected_task_state=previous)
                    self.driver.snapshot(ctxt, instance, image_id,
                                         _uploader(images, image_id))
            except Exception as exc:  # driver, backend, or the instance changed
                LOG.warning("shelve of %s on %s failed: %s", uuid, self.host, exc)
                self._fault(ctxt, uuid, exc)
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                if image_id is not None:
                    self._drop_image(image_id)
                try:
                    self._update(ctxt, uuid, {"task_state": None,
                                              "power_state": int(self._power_state(instance))},
                                 expected_task_state=task)
                except (exception.InstanceNotFound, exception.InstanceInvalidState):
                    pass
                return
            sysmeta = dict(instance.get("system_metadata") or {}, shelved_at=ctx_now(),
                           shelved_host=self.host)
            if image_id is not None:
                sysmeta["shelved_image_id"] = image_id
            values = {"vm_state": states.SHELVED, "system_metadata": sysmeta,
                      "task_state": states.SHELVING_OFFLOADING if offload else None,
                      "power_state": int(self._power_state(instance))}
            try:
                self._update(ctxt, uuid, values, expected_task_state=task, event=event,
                             result="Success", finish=True)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                if image_id is not None:  # deleted meanwhile: nobody else will
                    self._drop_image(image_id)
                return
        self.notifier.info(ctxt, "instance.shelve.end", notifications.instance_payload(
            dict(instance, **values)))
        if offload:
            self.shelve_offload_instance(ctxt, dict(instance, **values))

    def shelve_offload_instance(self, ctxt, instance):
        """Drop the guest of a shelved server and free its resources: the
        server keeps its addresses and waits, on no host, for unshelve."""
        uuid = instance["uuid"]
        event = "compute_shelve_offload_instance"
        with self.locks(uuid):
            self._event(ctxt, uuid, event)
            try:
                self.driver.destroy(ctxt, instance, instance.get("network_info") or {}, True)
            except Exception as exc:
                self._fault(ctxt, uuid, exc)
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                self._update(ctxt, uuid, {"task_state": None},
                             expected_task_state=states.SHELVING_OFFLOADING)
                return
            self.placement.delete_allocations(uuid)
            try:
                self._update(ctxt, uuid, {
                    "vm_state": states.SHELVED_OFFLOADED, "task_state": None, "host": None,
                    "node": None, "power_state": int(PowerState.SHUTDOWN)},
                    expected_task_state=states.SHELVING_OFFLOADING, event=event,
                    result="Success", finish=True)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                pass

    def unshelve_instance(self, ctxt, instance, image):
        """Bring a shelved server back on this host (the conductor chose it
        and claimed its resources when it was offloaded): power its guest
        on, or spawn it anew from *image* (the shelve's snapshot, else the
        server's image). Then the snapshot image is deleted and the
        shelved_* system_metadata dropped, as in Nova."""
        uuid = instance["uuid"]
        event = "compute_unshelve_instance"
        offloaded = instance["vm_state"] == states.SHELVED_OFFLOADED
        sysmeta = {k: v for k, v in (instance.get("system_metadata") or {}).items()
                   if k not in snapshots.SHELVED_KEYS}
        with self.locks(uuid):
            self._event(ctxt, uuid, event)
            try:
                if offloaded:
                    self.driver.spawn(ctxt, instance, image or {"id": instance.get("image_ref")},
                                      instance.get("network_info") or {})
                else:
                    self.driver.power_on(ctxt, instance, instance.get("network_info") or {})
            except Exception as exc:
                LOG.warning("unshelve of %s on %s failed: %s", uuid, self.host, exc)
                self._fault(ctxt, uuid, exc)
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                values = {"task_state": None}
                if offloaded:  # back on no host, its claim freed
                    self._cleanup_failed_spawn(ctxt, instance)
                    values.update(host=None, node=None)
                try:
                    self._update(ctxt, uuid, values, expected_task_state=states.UNSHELVING)
                except (exception.InstanceNotFound, exception.InstanceInvalidState):
                    pass
                return
            try:
                self._update(ctxt, uuid, {
                    "vm_state": states.ACTIVE, "task_state": None, "system_metadata": sysmeta,
                    "power_state": int(self._power_state(instance))},
                    expected_task_state=states.UNSHELVING, event=event, result="Success",
                    finish=True)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                return
            if self.images is not None:
                snapshots.delete_shelved_image(self.images(), instance)
        self.notifier.info(ctxt, "instance.unshelve.end",
                           notifications.instance_payload(instance))

    def offload_shelved_instances(self):
        """Periodic: offload the servers shelved here longer than
        [DEFAULT] shelved_offload_time (never when it is -1)."""
        limit = self.conf.shelved_offload_time
        if limit < 0:
            return
        ctxt = ctx_mod.get_admin_context()
        oldest = _utcnow() - datetime.timedelta(seconds=limit)
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            if inst["vm_state"] != states.SHELVED or inst["task_state"] is not None:
                continue
            shelved_at = states._as_datetime((inst.get("system_metadata") or {})
                                             .get("shelved_at"))
            if shelved_at is not None and shelved_at > oldest:
                continue
            try:
                self._update(ctxt, inst["uuid"], {"task_state": states.SHELVING_OFFLOADING},
                             expected_task_state=[None])
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                continue
            self.shelve_offload_instance(ctxt, dict(inst,
                                                    task_state=states.SHELVING_OFFLOADING))

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

    # --------------------------------------------------------- recovery
    # What this host finds when it starts (init_instances) and then
    # periodically: builds interrupted or too long, deletes and power
    # actions that died with the service, guests of deleted instances.

    def init_instances(self):
        """At start, no work of this host is running: a build that was
        spawning here was interrupted (ERROR with a fault, as Nova does); a
        delete is finished; a power action is dropped (task_state cleared,
        power state read from the hypervisor). A build still to run here
        (scheduling) is left to its cast, or to the build timeout."""
        ctxt = ctx_mod.get_admin_context()
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            uuid, task = inst["uuid"], inst["task_state"]
            try:
                if inst["vm_state"] == states.BUILDING and task == states.SPAWNING:
                    self._fail_build(ctxt, inst, f"Build of instance {uuid} was interrupted "
                                                 f"by a restart of compute host {self.host}.",
                                     expected=[states.SPAWNING])
                    self._cleanup_failed_spawn(ctxt, inst)
                elif task == states.DELETING:
                    LOG.info("finishing the interrupted delete of %s", uuid)
                    self.terminate_instance(ctxt, inst)
                elif task in _POWER_TASKS:
                    LOG.info("dropping the interrupted %s of %s", task, uuid)
                    self._update(ctxt, uuid, {"task_state": None,
                                              "power_state": int(self._power_state(inst))},
                                 expected_task_state=task)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                continue

    def check_instance_build_time(self):
        """Builds of this host in BUILD longer than instance_build_timeout
        go to ERROR with a fault, their allocations freed (a spawn still
        running then finds its instance changed and drops its guest)."""
        timeout = self.conf.instance_build_timeout
        if not timeout:
            return
        ctxt = ctx_mod.get_admin_context()
        limit = clock.utcnow() - datetime.timedelta(seconds=timeout)
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            started = states.build_started(inst)
            if inst["vm_state"] == states.BUILDING and started is not None and started < limit:
                try:
                    self._fail_build(ctxt, inst, f"Build of instance {inst['uuid']} timed "
                                                 f"out. Set to error state.",
                                     expected=[states.SCHEDULING, states.SPAWNING, None])
                except (exception.InstanceNotFound, exception.InstanceInvalidState):
                    continue

    def _fail_build(self, ctxt, inst, message, expected):
        uuid = inst["uuid"]
        # The fault first: whoever sees ERROR sees why (the API shows a
        # fault only in ERROR, so one left by a build that finished
        # meanwhile, when the update below refuses, is not shown).
        self._fault(ctxt, uuid, exception.ComputeCoreError(message))
        self._update(ctxt, uuid, {"vm_state": states.ERROR, "task_state": None},
                     expected_task_state=expected)
        LOG.warning("%s", message)
        self.placement.delete_allocations(uuid)
        self.notifier.error(ctxt, "instance.create.error",
                            notifications.instance_payload(dict(inst, vm_state=states.ERROR),
                                                           fault=message))

    def cleanup_running_deleted_instances(self):
        """Guests still on the hypervisor whose instances were deleted (say
        while this host was down) are handled per
        [DEFAULT] running_deleted_instance_action."""
        action = self.conf.running_deleted_instance_action
        if action == "noop":
            return
        guests = self.driver.list_instances()
        if not guests:
            return
        ctxt = ctx_mod.get_admin_context()
        deleted = self.conductor.deleted_instances(ctxt, guests)
        self._report_unknown_guests(ctxt, guests, deleted)
        for inst in deleted:
            uuid = inst["uuid"]
            with self.locks(uuid):
                if action == "log":
                    LOG.warning("guest %s runs on %s but its instance is deleted", uuid,
                                self.host)
                    continue
                try:
                    if action == "shutdown":
                        if self._power_state(inst) != PowerState.SHUTDOWN:
                            LOG.info("powering off guest %s of deleted instance", uuid)
                            self.driver.power_off(inst)
                    else:
                        LOG.info("destroying guest %s of deleted instance", uuid)
                        self.driver.destroy(ctxt, inst, inst.get("network_info") or {}, True)
                except Exception:
                    LOG.exception("could not %s guest %s of a deleted instance", action, uuid)

    def _report_unknown_guests(self, ctxt, guests, deleted):
        known = {i["uuid"] for i in self.conductor.instances_on_host(ctxt, self.host)}
        known.update(i["uuid"] for i in deleted)
        unknown = sorted(set(guests) - known)
        for uuid in unknown:
            if uuid not in self.unknown_guests:
                LOG.warning("guest %s on %s belongs to no instance of this host (left "
                            "behind by a crash?): not touched", uuid, self.host)
        self.unknown_guests = unknown

    def reclaim_queued_deletes(self):
        """Periodic: delete the servers of this host SOFT_DELETED longer
        than [DEFAULT] reclaim_instance_interval."""
        interval = self.conf.reclaim_instance_interval
        if interval <= 0:
            return
        ctxt = ctx_mod.get_admin_context()
        oldest = _utcnow() - datetime.timedelta(seconds=interval)
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            if inst["vm_state"] != states.SOFT_DELETED or inst["task_state"] is not None:
                continue
            since = states._as_datetime(inst.get("deleted_at"))
            if since is not None and since > oldest:
                continue
            try:
                self._update(ctxt, inst["uuid"], {"task_state": states.DELETING},
                             expected_task_state=[None])
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                continue
            LOG.info("reclaiming soft-deleted instance %s", inst["uuid"])
            self.terminate_instance(ctxt, inst)

    def instance_usage_audit(self):
        """Periodic (Nova's _instance_usage_audit): with [DEFAULT]
        instance_usage_audit, once per completed
        instance_usage_audit_period, a compute.instance.exists notification
        for each instance of this host that ran during that period (deleted
        ones too), recorded in the cell's task log: RUNNING with the number
        of instances, then DONE with the errors and a message."""
        if not self.conf.instance_usage_audit:
            return
        ctxt = ctx_mod.get_admin_context()
        begin, end = audit.last_completed_period(self.conf.instance_usage_audit_period,
                                                 _utcnow())
        period = (audit.TASK_NAME, begin.isoformat(), end.isoformat(), self.host)
        if self.conductor.task_log_get(ctxt, *period):
            return  # audited already
        instances = self.conductor.instances_active_in_window(ctxt, self.host, period[1],
                                                              period[2])
        LOG.info("Running instance usage audit for host %s from %s to %s. %d instances.",
                 self.host, begin, end, len(instances))
        started = time.monotonic()
        row = self.conductor.task_log_begin_task(ctxt, *period, len(instances),
                                                 "Instance usage audit started...")
        if isinstance(row, dict) and row.get("error"):
            LOG.info("usage audit of %s: %s", self.host, row.get("message"))
            return
        errors = 0
        for inst in instances:
            try:
                self.notifier.info(ctxt, "compute.instance.exists",
                                   notifications.usage_exists_payload(inst, period[1],
                                                                      period[2]))
            except Exception:
                LOG.exception("usage audit of instance %s on %s failed", inst.get("uuid"),
                              self.host)
                errors += 1
        self.conductor.task_log_end_task(
            ctxt, *period, errors,
            f"Instance usage audit ran for host {self.host}, {len(instances)} instances "
            f"in {time.monotonic() - started:.3f} seconds.")
    # ----------------------------------------------- timeouts (periodic)
    # Nova's _poll_rebooting_instances, _poll_unconfirmed_resizes and
    # _poll_rescued_instances; each does nothing while its timeout is 0.

    def _older_than(self, when, seconds) -> bool:
        when = states._as_datetime(when)
        return when is not None and when < _utcnow() - datetime.timedelta(seconds=seconds)

    def poll_rebooting_instances(self):
        """Servers of this host in a soft reboot longer than [DEFAULT]
        reboot_timeout (a guest that hung, a message lost) are rebooted hard."""
        timeout = self.conf.reboot_timeout
        if not timeout:
            return
        ctxt = ctx_mod.get_admin_context()
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            task = inst["task_state"]
            if task not in _SOFT_REBOOT_TASKS or not self._older_than(inst.get("updated_at"),
                                                                      timeout):
                continue
            if self.locks.held(inst["uuid"]):
                continue  # a reboot is running: its own timeout ends it
            try:
                self._update(ctxt, inst["uuid"], {"task_state": states.REBOOTING_HARD},
                             expected_task_state=task)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                continue
            LOG.warning("%s was rebooting for more than %s s: rebooting it hard",
                        inst["uuid"], timeout)
            self.reboot_instance(ctxt, dict(inst, task_state=states.REBOOTING_HARD), "HARD")

    def poll_unconfirmed_resizes(self):
        """Moves to this host waiting in VERIFY_RESIZE longer than
        [DEFAULT] resize_confirm_window are confirmed."""
        window = self.conf.resize_confirm_window
        if not window:
            return
        ctxt = ctx_mod.get_admin_context()
        for migration in self.conductor.unconfirmed_resizes(ctxt, self.host, window):
            uuid = migration["instance_uuid"]
            inst = self.conductor.instance_get(ctxt, uuid)
            if inst is None or inst["vm_state"] != states.RESIZED or inst["task_state"]:
                continue
            LOG.info("confirming the move of %s (waiting more than %s s)", uuid, window)
            self.conductor.confirm_resize(ctxt, uuid)

    def poll_rescued_instances(self):
        """Servers of this host rescued longer than [DEFAULT] rescue_timeout
        are unrescued."""
        timeout = self.conf.rescue_timeout
        if not timeout:
            return
        ctxt = ctx_mod.get_admin_context()
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            if inst["vm_state"] != states.RESCUED or inst["task_state"] is not None or \
                    not self._older_than(inst.get("launched_at"), timeout):
                continue
            try:
                self._update(ctxt, inst["uuid"], {"task_state": states.UNRESCUING},
                             expected_task_state=[None])
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                continue
            LOG.info("unrescuing %s (rescued more than %s s)", inst["uuid"], timeout)
            self.unrescue_instance(ctxt, dict(inst, task_state=states.UNRESCUING))

    # --------------------------------------------------------- periodic
    def heartbeat(self):
        self.conductor.service_update(ctx_mod.get_admin_context(), self.host, BINARY,
                                      f"compute.{self.host}")

    def update_available_resource(self):
        """Report the node to the cell DB and its inventory to placement."""
        ctxt = ctx_mod.get_admin_context()
        res = self.driver.get_available_resource()
        conf = self.conf
        node = self.conductor.compute_node_update(ctxt, self.host, res.hypervisor_hostname, {
            "vcpus": res.vcpus, "memory_mb": res.memory_mb, "local_gb": res.local_gb,
            "vcpus_used": res.vcpus_used, "memory_mb_used": res.memory_mb_used,
            "local_gb_used": res.local_gb_used, "hypervisor_type": res.hypervisor_type,
            "hypervisor_version": res.hypervisor_version, "cpu_info": res.cpu_info,
            "host_ip": conf.my_ip, "running_vms": len(self.driver.list_instances()),
            "cpu_allocation_ratio": conf.initial_cpu_allocation_ratio,
            "ram_allocation_ratio": conf.initial_ram_allocation_ratio,
            "disk_allocation_ratio": conf.initial_disk_allocation_ratio,
            "stats": self._driver_stats(),
        })
        self.node = node
        tree = {"inventories": self._inventories(res), "traits": set()}
        if self.driver.supports("supports_migrate_to_same_host"):
            tree["traits"].add("COMPUTE_SAME_HOST_COLD_MIGRATE")  # as Nova reports it
        self.driver.update_provider_tree(tree, res.hypervisor_hostname)
        self.placement.ensure_provider(node["uuid"], res.hypervisor_hostname)
        self.placement.set_inventory(node["uuid"], tree["inventories"])
        self.placement.set_traits(node["uuid"], tree["traits"])

    def _driver_stats(self) -> dict:
        """What the API reads to refuse an action the driver cannot do
        (without asking this host), and ComputeCapabilitiesFilter can match
        (``capabilities:driver_capabilities:supports_pause``)."""
        stats = {"virt_driver": type(self.driver).__name__,
                 "driver_capabilities": {name: self.driver.supports(name)
                                         for name in DEFAULT_CAPABILITIES}}
        uptime = self.driver.get_host_uptime()
        if uptime:
            stats["uptime"] = uptime  # os-hypervisors shows it
        return stats

    def _inventories(self, res) -> dict:
        conf = self.conf
        inv = {}
        if res.vcpus:
            inv["VCPU"] = {"total": res.vcpus, "reserved": min(conf.reserved_host_cpus, res.vcpus),
                           "min_unit": 1, "max_unit": res.vcpus, "step_size": 1,
                           "allocation_ratio": conf.initial_cpu_allocation_ratio}
        if res.memory_mb:
            inv["MEMORY_MB"] = {"total": res.memory_mb,
                                "reserved": min(conf.reserved_host_memory_mb, res.memory_mb),
                                "min_unit": 1, "max_unit": res.memory_mb, "step_size": 1,
                                "allocation_ratio": conf.initial_ram_allocation_ratio}
        if res.local_gb:
            reserved = -(-conf.reserved_host_disk_mb // 1024)
            inv["DISK_GB"] = {"total": res.local_gb, "reserved": min(reserved, res.local_gb),
                              "min_unit": 1, "max_unit": res.local_gb, "step_size": 1,
                              "allocation_ratio": conf.initial_disk_allocation_ratio}
        return inv

    def sync_power_states(self):
        ctxt = ctx_mod.get_admin_context()
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            self._sync_power_state(ctxt, inst)

    def _sync_power_state(self, ctxt, inst):
        """Record the hypervisor's power state of *inst* (an instance of
        this host with no task running), stopping an ACTIVE one found off."""
        if inst["task_state"] is not None or inst["vm_state"] in (states.BUILDING,
                                                                 states.ERROR):
            return
        with self.locks(inst["uuid"]):
            actual = self._power_state(inst)
            if int(actual) == inst["power_state"]:
                return
            values = {"power_state": int(actual)}
            if inst["vm_state"] == states.ACTIVE and actual in (PowerState.SHUTDOWN,
                                                                PowerState.NOSTATE,
                                                                PowerState.CRASHED):
                values["vm_state"] = states.STOPPED
            LOG.info("power state of %s: database %s, hypervisor %s", inst["uuid"],
                     inst["power_state"], int(actual))
            try:
                self._update(ctxt, inst["uuid"], values, expected_task_state=None)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                pass

    def handle_lifecycle_event(self, uuid, state):
        """A guest changed power state by itself (the driver's event): sync
        that one instance, in a thread of its own (the driver's event thread
        must not wait for an instance lock or the conductor). An instance
        with a task running is left to that task, as in the periodic sync."""
        def sync():
            ctxt = ctx_mod.get_admin_context()
            try:
                inst = self.conductor.instance_get(ctxt, uuid)
                if inst is None or inst.get("host") != self.host:
                    return
                self._sync_power_state(ctxt, inst)
            except Exception:
                LOG.exception("lifecycle event of %s (%s) not recorded", uuid, state)

        threading.Thread(target=sync, name=f"event-{uuid[:8]}", daemon=True).start()


_SOFT_REBOOT_TASKS = (states.REBOOTING, states.REBOOT_PENDING, states.REBOOT_STARTED)
_POWER_TASKS = (states.POWERING_OFF, states.POWERING_ON, states.REBOOTING,
                states.REBOOTING_HARD, rpcapi.PAUSING, rpcapi.UNPAUSING, rpcapi.SUSPENDING,
                rpcapi.RESUMING, states.RESCUING, states.UNRESCUING, states.SHELVING,
                states.SHELVING_IMAGE_PENDING_UPLOAD, states.SHELVING_IMAGE_UPLOADING,
                states.SHELVING_OFFLOADING, states.UPDATING_PASSWORD, states.SOFT_DELETING,
                states.RESTORING)


def _uploader(images, image_id):
    """The upload(fileobj, disk_format=None) a driver's snapshot writes to."""
    def upload(fileobj, disk_format=None):
        if disk_format is None:  # what any backend takes
            return images.upload(image_id, fileobj)
        return images.upload(image_id, fileobj, disk_format=disk_format)
    return upload


def _utcnow():
    # the service's clock (virtual in a Cloud(clock="virtual"))
    return clock.utcnow()


def ctx_now():
    return clock.utcnow().isoformat()


def _message(exc) -> str:
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__
