"""Client side of the compute RPC API (topic ``compute.<host>``).

1.0 - build_and_run_instance, terminate_instance, stop_instance,
      start_instance, reboot_instance
1.1 - pause_instance, unpause_instance, suspend_instance, resume_instance
1.2 - the steps of a move, called (not cast) by the conductor, which keeps
      the migration record and the allocations: migrate_disk_and_power_off
      (source), finish_migration (destination), confirm_migration (source),
      revert_migration (destination), finish_revert_migration (source)
1.3 - calls answered by the host's driver: get_diagnostics,
      host_power_action, host_maintenance_mode; the cast cache_images
1.4 - the server actions: rescue_instance, unrescue_instance,
      shelve_instance, shelve_offload_instance, unshelve_instance (cast by
      the conductor, which chose the host), rebuild_instance (cast by the
      conductor; recreate=True for an evacuation to this host),
      set_admin_password (call), get_console_output (call),
      trigger_crash_dump, soft_delete_instance, restore_instance; the
      steps of a live migration, called by the conductor:
      pre_live_migration (destination), live_migration (source),
      post_live_migration_at_destination (destination)
1.5 - get_console_connection (a call): where a guest's console listens
1.6 - snapshot_instance (createImage and createBackup, cast by the
      conductor; the image's record exists, queued)
1.7 - shelve_instance takes image_id: the queued "<name>-shelved" image
      the host captures the root disk into before the guest goes
1.8 - prep_resize (a call, to the destination of a resize or cold
      migration before the source moves anything; a refusal reschedules)
1.9 - live_migration_abort, live_migration_force_complete: casts by the
      API to the source host of a running live migration;
      rollback_live_migration_at_destination (called by the conductor when
      a live migration failed after its destination prepared)
1.10 - attach_interface, detach_interface (calls, from the API, which has
      bound or will free the network backend's port): the host's driver
      plugs or unplugs the NIC and the instance's network_info follows

Each power cast arrives with the instance already in the task_state the API
set (``states.POWERING_OFF`` for stop ..., and the four below for 1.1); the
compute service only finishes from that task_state.
"""
from compute_core import rpc

TOPIC = "compute"
VERSION = "1.10"
# Seconds the conductor waits for a live migration step of the source host.
LIVE_MIGRATION_TIMEOUT = 3600

# Task states of the 1.1 casts (Nova's names); the API sets them, the
# compute service expects them.
PAUSING = "pausing"
UNPAUSING = "unpausing"
SUSPENDING = "suspending"
RESUMING = "resuming"


class ComputeRPCClient:
    """The RPC client of the compute services (casts and calls to one host)."""

    def __init__(self, transport, timeout=None):
        self.transport = transport
        self.client = rpc.get_client(transport, TOPIC, VERSION, timeout=timeout)

    def _cctx(self, host, version="1.0"):
        # The lowest version that has the method, so an older compute
        # service still takes the 1.0 casts.
        return self.client.prepare(server=host, topic=f"{TOPIC}.{host}", version=version)

    def build_and_run_instance(self, ctxt, host, instance, request_spec, image, alternates,
                               allocation_request, attempt):
        self._cctx(host).cast(ctxt, "build_and_run_instance", instance=instance,
                              request_spec=request_spec, image=image, alternates=alternates,
                              allocation_request=allocation_request, attempt=attempt)

    def terminate_instance(self, ctxt, host, instance):
        self._cctx(host).cast(ctxt, "terminate_instance", instance=instance)

    def stop_instance(self, ctxt, host, instance, clean_shutdown=True):
        self._cctx(host).cast(ctxt, "stop_instance", instance=instance,
                              clean_shutdown=clean_shutdown)

    def start_instance(self, ctxt, host, instance):
        self._cctx(host).cast(ctxt, "start_instance", instance=instance)

    def reboot_instance(self, ctxt, host, instance, reboot_type):
        self._cctx(host).cast(ctxt, "reboot_instance", instance=instance,
                              reboot_type=reboot_type)

    def pause_instance(self, ctxt, host, instance):
        self._cctx(host, "1.1").cast(ctxt, "pause_instance", instance=instance)

    def unpause_instance(self, ctxt, host, instance):
        self._cctx(host, "1.1").cast(ctxt, "unpause_instance", instance=instance)

    def suspend_instance(self, ctxt, host, instance):
        self._cctx(host, "1.1").cast(ctxt, "suspend_instance", instance=instance)

    def resume_instance(self, ctxt, host, instance):
        self._cctx(host, "1.1").cast(ctxt, "resume_instance", instance=instance)

    def live_migration_abort(self, ctxt, host, instance, migration_id):
        self._cctx(host, "1.9").cast(ctxt, "live_migration_abort", instance=instance,
                                     migration_id=migration_id)

    def rollback_live_migration_at_destination(self, ctxt, host, instance, migrate_data):
        return self._cctx(host, "1.9").call(ctxt, "rollback_live_migration_at_destination",
                                            instance=instance, migrate_data=migrate_data)

    def live_migration_force_complete(self, ctxt, host, instance):
        self._cctx(host, "1.9").cast(ctxt, "live_migration_force_complete",
                                     instance=instance)

    def snapshot_instance(self, ctxt, host, instance, image_id, backup_type=None,
                          rotation=None):
        self._cctx(host, "1.6").cast(ctxt, "snapshot_instance", instance=instance,
                                     image_id=image_id, backup_type=backup_type,
                                     rotation=rotation)

    # 1.2: the steps of a move. Each answers {"error": message} when the
    # driver fails, else a dict of what it learned.
    def _move_call(self, ctxt, host, method, **kwargs):
        return self._cctx(host, "1.2").call(ctxt, method, **kwargs)

    def prep_resize(self, ctxt, host, instance, flavor, migration):
        return self._cctx(host, "1.8").call(ctxt, "prep_resize", instance=instance,
                                            flavor=flavor, migration=migration)

    def migrate_disk_and_power_off(self, ctxt, host, instance, dest, flavor,
                                   shutdown_timeout=0):
        """The source host shuts the guest down cleanly first, for up to
        *shutdown_timeout* seconds (the instance's, see compute.shutdown):
        the call waits that much beyond rpc_response_timeout. Call-monitor
        heartbeats (as Nova's long calls have) still show a host that died
        within rpc_response_timeout."""
        usual = self.client.timeout or self.client.conf.rpc_response_timeout
        cctx = self._cctx(host, "1.2").prepare(timeout=usual + shutdown_timeout,
                                              call_monitor_timeout=usual)
        return cctx.call(ctxt, "migrate_disk_and_power_off", instance=instance, dest=dest,
                         flavor=flavor)

    def finish_migration(self, ctxt, host, instance, migration, disk_info, power_on):
        return self._move_call(ctxt, host, "finish_migration", instance=instance,
                               migration=migration, disk_info=disk_info, power_on=power_on)

    def confirm_migration(self, ctxt, host, instance, migration):
        return self._move_call(ctxt, host, "confirm_migration", instance=instance,
                               migration=migration)

    def revert_migration(self, ctxt, host, instance, migration):
        return self._move_call(ctxt, host, "revert_migration", instance=instance,
                               migration=migration)

    def finish_revert_migration(self, ctxt, host, instance, migration, power_on):
        return self._move_call(ctxt, host, "finish_revert_migration", instance=instance,
                               migration=migration, power_on=power_on)

    # 1.3: questions and host actions the driver answers.
    def get_diagnostics(self, ctxt, host, instance) -> dict:
        return self._cctx(host, "1.3").call(ctxt, "get_diagnostics", instance=instance)

    def host_power_action(self, ctxt, host, action) -> str:
        return self._cctx(host, "1.3").call(ctxt, "host_power_action", action=action)

    def host_maintenance_mode(self, ctxt, host, mode: bool) -> str:
        return self._cctx(host, "1.3").call(ctxt, "host_maintenance_mode", mode=mode)

    def cache_images(self, ctxt, host, images: list[dict]) -> None:
        self._cctx(host, "1.3").cast(ctxt, "cache_images", images=images)

    # 1.4: the server actions. The API (or the conductor) has set the
    # task_state each starts from; casts unless said otherwise.
    def _cast14(self, ctxt, host, method, **kwargs):
        self._cctx(host, "1.4").cast(ctxt, method, **kwargs)

    def rescue_instance(self, ctxt, host, instance, rescue_password, rescue_image_ref):
        self._cast14(ctxt, host, "rescue_instance", instance=instance,
                     rescue_password=rescue_password, rescue_image_ref=rescue_image_ref)

    def unrescue_instance(self, ctxt, host, instance):
        self._cast14(ctxt, host, "unrescue_instance", instance=instance)

    def shelve_instance(self, ctxt, host, instance, offload, image_id=None):
        if image_id is None:  # no snapshot: what a 1.4 host takes
            self._cast14(ctxt, host, "shelve_instance", instance=instance, offload=offload)
            return
        self._cctx(host, "1.7").cast(ctxt, "shelve_instance", instance=instance,
                                     offload=offload, image_id=image_id)

    def shelve_offload_instance(self, ctxt, host, instance):
        self._cast14(ctxt, host, "shelve_offload_instance", instance=instance)

    def unshelve_instance(self, ctxt, host, instance, image):
        self._cast14(ctxt, host, "unshelve_instance", instance=instance, image=image)

    def rebuild_instance(self, ctxt, host, instance, image, admin_password, recreate=False,
                         migration=None):
        self._cast14(ctxt, host, "rebuild_instance", instance=instance, image=image,
                     admin_password=admin_password, recreate=recreate, migration=migration)

    def set_admin_password(self, ctxt, host, instance, new_pass):
        """None when set, else {"error": code name, "message": ...}."""
        return self._cctx(host, "1.4").call(ctxt, "set_admin_password", instance=instance,
                                            new_pass=new_pass)

    def get_console_output(self, ctxt, host, instance, tail_length):
        """{"output": text}, or {"error": code name, "message": ...}."""
        return self._cctx(host, "1.4").call(ctxt, "get_console_output", instance=instance,
                                            tail_length=tail_length)

    def trigger_crash_dump(self, ctxt, host, instance):
        self._cast14(ctxt, host, "trigger_crash_dump", instance=instance)

    def soft_delete_instance(self, ctxt, host, instance):
        self._cast14(ctxt, host, "soft_delete_instance", instance=instance)

    def restore_instance(self, ctxt, host, instance):
        self._cast14(ctxt, host, "restore_instance", instance=instance)

    def pre_live_migration(self, ctxt, host, instance, migrate_data):
        return self._cctx(host, "1.4").call(ctxt, "pre_live_migration", instance=instance,
                                            migrate_data=migrate_data)

    def live_migration(self, ctxt, host, instance, dest, migrate_data):
        # As long as the move takes: the driver aborts one that outlives
        # its own completion timeout.
        return self._cctx(host, "1.4").prepare(timeout=LIVE_MIGRATION_TIMEOUT).call(
            ctxt, "live_migration", instance=instance, dest=dest, migrate_data=migrate_data)

    def post_live_migration_at_destination(self, ctxt, host, instance):
        return self._cctx(host, "1.4").call(ctxt, "post_live_migration_at_destination",
                                            instance=instance)
    # 1.4: where a guest's console listens.
    def get_console_connection(self, ctxt, host, instance, console_type, timeout=None):
        """{"host", "port", "internal_access_path"} of the guest's console, or
        {"error": "NotSupportedByDriver" | "InstanceNotFound", "message"}."""
        cctx = self._cctx(host, "1.5")
        if timeout is not None:
            cctx = cctx.prepare(timeout=timeout)
        return cctx.call(ctxt, "get_console_connection", instance=instance,
                         console_type=console_type)

    # 1.7: os-interface. Each answers None when done, else {"error": the
    # exception's class name, "message"}.
    def attach_interface(self, ctxt, host, instance, port):
        return self._cctx(host, "1.10").call(ctxt, "attach_interface", instance=instance,
                                            port=port)

    def detach_interface(self, ctxt, host, instance, port):
        return self._cctx(host, "1.10").call(ctxt, "detach_interface", instance=instance,
                                            port=port)
