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
1.4 - snapshot_instance (createImage and createBackup, cast by the
      conductor; the image's record exists, queued)

Each power cast arrives with the instance already in the task_state the API
set (``states.POWERING_OFF`` for stop ..., and the four below for 1.1); the
compute service only finishes from that task_state.
"""
from compute_core import rpc

TOPIC = "compute"
VERSION = "1.4"

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

    def snapshot_instance(self, ctxt, host, instance, image_id, backup_type=None,
                          rotation=None):
        self._cctx(host, "1.4").cast(ctxt, "snapshot_instance", instance=instance,
                                     image_id=image_id, backup_type=backup_type,
                                     rotation=rotation)

    # 1.2: the steps of a move. Each answers {"error": message} when the
    # driver fails, else a dict of what it learned.
    def _move_call(self, ctxt, host, method, **kwargs):
        return self._cctx(host, "1.2").call(ctxt, method, **kwargs)

    def migrate_disk_and_power_off(self, ctxt, host, instance, dest, flavor):
        return self._move_call(ctxt, host, "migrate_disk_and_power_off", instance=instance,
                               dest=dest, flavor=flavor)

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
