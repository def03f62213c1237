"""The compute service's RPC endpoint (target version 1.7, see rpcapi) and periodic work."""
from __future__ import annotations

import logging
import threading
import traceback

import oslo_messaging as messaging

from compute_core import clock, exception, notifications
from compute_core.compute import rpcapi, shutdown, states
from compute_core.compute.common import (  # noqa: F401 (kept importable here)
    BINARY, _message, _uploader, _utcnow, ctx_now)
from compute_core.compute.interfaces import InterfaceSteps
from compute_core.compute.moves import MIGRATION_FIGURES, MoveSteps  # noqa: F401
from compute_core.compute.periodic import PeriodicTasks
from compute_core.compute.shelving import Shelving
from compute_core.console import access
from compute_core.image import snapshots
from compute_core.virt.driver import PowerState

LOG = logging.getLogger(__name__)
# Seconds between ACPI shutdown requests of a clean shutdown (Nova's)
SHUTDOWN_RETRY_INTERVAL = 10


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


class ComputeManager(MoveSteps, InterfaceSteps, Shelving, PeriodicTasks):
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
                result=None, finish=False, start_cast=False, expected_vm_state=None,
                fault=None):
        """Update the instance through the conductor; with *event*, record
        that action event (start, or finish with *result*; *start_cast*:
        its start was cast, see ConductorAPI.casts_state_updates) in the same
        call; *expected_vm_state* and *fault* (see _fault_record) as
        ConductorAPI.instance_update takes them. The instance is not read
        back: a caller that keeps a copy merges *values* into it."""
        ev = None if event is None else {"event": event, "result": result, "host": self.host,
                                         "finish": finish}
        if start_cast:
            ev["start_cast"] = True
        guards = {}
        if expected_vm_state is not None:
            guards["expected_vm_state"] = list(expected_vm_state)
        if fault is not None:
            guards["fault"] = fault
        result = self.conductor.instance_update(ctxt, uuid, values, expected_task_state, ev,
                                                return_instance=False, **guards)
        if isinstance(result, dict) and result.get("error") == "InstanceNotFound":
            raise exception.InstanceNotFound(instance_id=uuid)
        if isinstance(result, dict) and result.get("error") == "InstanceInvalidState":
            raise exception.InstanceInvalidState(action="update", instance_uuid=uuid,
                                                 attr="task_state", state="changed")
        return result

    def _fault(self, ctxt, uuid, exc):
        self.conductor.instance_fault_create(ctxt, uuid, **self._fault_record(exc))

    def _fault_record(self, exc) -> dict:
        """The instance fault *exc* makes: {"code", "message", "details", "host"}."""
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return {"code": getattr(exc, "code", 500) or 500, "message": message,
                "details": details, "host": self.host}

    def _event(self, ctxt, uuid, event, result=None, exc=None, finish=False,
               start_cast=False):
        tb = details = None
        if exc is not None:
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            details = _message(exc)
        try:
            kwargs = {"start_cast": True} if start_cast else {}
            self.conductor.action_event(ctxt, uuid, event, result, self.host, tb, finish,
                                        details=details, **kwargs)
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
        spawning = {"task_state": states.SPAWNING}
        # The task states the instance may be in when the spawn is over.
        spawned_from = states.SPAWNING
        start_cast = False
        if self.conductor.casts_state_updates():
            # Cast, not called: the spawn does not wait for it. The conductor
            # may apply it after the update that ends the build, which then
            # accepts SCHEDULING too (and this one, refused, records nothing);
            # a server deleted while queued is found by that update.
            self.conductor.instance_update_cast(
                ctxt, uuid, spawning, states.SCHEDULING,
                {"event": event, "result": None, "host": self.host, "finish": False})
            spawned_from = [states.SCHEDULING, states.SPAWNING]
            start_cast = True
        else:
            try:
                self._update(ctxt, uuid, spawning, expected_task_state=states.SCHEDULING,
                             event=event)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                # Deleted while queued: the delete path cleans up.
                LOG.info("instance %s deleted before its build started", uuid)
                self._event(ctxt, uuid, event, "Error", finish=True)
                return
        instance = dict(instance, **spawning)
        try:
            self.driver.spawn(ctxt, instance, image or {}, instance.get("network_info") or {})
        except Exception as exc:  # any driver failure: reschedule or ERROR
            LOG.warning("spawn of %s on %s failed: %s", uuid, self.host, exc)
            self._event(ctxt, uuid, event, "Error", exc, finish=True, start_cast=start_cast)
            self._cleanup_failed_spawn(ctxt, instance)
            if alternates and self.conf.scheduler.max_attempts > 1:
                self._fault(ctxt, uuid, exc)
                self.conductor.build_instances(ctxt, uuid, request_spec, image, alternates,
                                               attempt)
                return
            self._free_network(ctxt, uuid)
            try:
                # The fault with ERROR, as a build timeout writes it.
                self._update(ctxt, uuid, {"vm_state": states.ERROR, "task_state": None,
                                          "power_state": PowerState.NOSTATE},
                             expected_task_state=spawned_from,
                             expected_vm_state=[states.BUILDING],
                             fault=self._fault_record(exc))
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                return  # deleted or timed out meanwhile: that told already
            self.notifier.error(ctxt, "instance.create.error",
                                notifications.instance_payload(instance, fault=str(exc)))
            return
        try:
            active = {"vm_state": states.ACTIVE, "task_state": None,
                      "power_state": int(self._power_state(instance)),
                      "launched_at": ctx_now()}
            self._update(ctxt, uuid, active, expected_task_state=spawned_from,
                         event=event, result="Success", finish=True, start_cast=start_cast)
            instance = dict(instance, **active)
        except (exception.InstanceNotFound, exception.InstanceInvalidState):
            # Deleted while spawning (terminate_instance runs after us, and
            # finds nothing left to do), or timed out: the guest goes.
            LOG.info("instance %s was deleted or timed out while spawning", uuid)
            self._event(ctxt, uuid, event, "Error", finish=True, start_cast=start_cast)
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

    def _free_network(self, ctxt, uuid):
        """A build that failed for good, not rescheduled, gives its ports
        back before its server shows ERROR (the conductor's
        deallocate_network); a failure to is logged, the delete frees them."""
        try:
            self.conductor.deallocate_network(ctxt, uuid)
        except Exception:
            LOG.exception("could not free the network of the failed build %s", uuid)

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
            if now - start >= timeout or clk.closed:  # closed: the cloud is stopping
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

    def _power_off_unless_off(self, instance):
        """A clean power-off (as a stop's) of a guest that is not off
        already: before a shelve, a soft delete, a rescue or a move."""
        if self._power_state(instance) != PowerState.SHUTDOWN:
            self._power_off(instance)

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

    # --------------------------------------------------- server actions
    # RPC 1.4. Each starts from the task_state the API (or the conductor)
    # set, records its action event and ends with the task_state cleared.

    def rescue_instance(self, ctxt, instance, rescue_password, rescue_image_ref):
        image = {"id": rescue_image_ref or instance.get("image_ref")}

        def rescue(i):
            # As Nova: the guest is shut down cleanly first (the image's
            # os_shutdown_timeout, as a stop waits), then the rescue boots.
            self._power_off_unless_off(i)
            self.driver.rescue(ctxt, i, i.get("network_info") or {}, image, rescue_password)
        ok = self._power_action(
            ctxt, instance, "compute_rescue_instance", rescue,
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
        self._power_action(ctxt, instance, "compute_soft_delete_instance",
                           self._power_off_unless_off,
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
