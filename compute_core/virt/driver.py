"""The contract every hypervisor driver implements.

A driver serves one compute host. The compute service calls it from several
threads at once (one per RPC request plus periodic tasks), but never twice at
the same time for the same instance: per-instance operations are serialised
by the caller. Methods raise :class:`compute_core.exception.VirtDriverError`
(or any exception: the caller records its message as the instance fault).

``instance`` arguments are dicts with at least ``uuid``, ``display_name``,
``vcpus``, ``memory_mb``, ``root_gb``, ``ephemeral_gb``, ``flavor`` (the
flavor dict with ``extra_specs``), ``metadata`` and ``image_ref``.

Methods are grouped as Ironic groups its interfaces: lifecycle, power,
migration, console, resources, host. What a driver can do beyond the
required methods is declared in :attr:`ComputeDriver.capabilities`; the API
refuses an action whose capability is False with a 409 instead of trying.

Which methods each server action calls (on the server's host unless said):

- stop/start/reboot: power_off/power_on/reboot; pause/unpause, suspend/resume
  (supports_pause, supports_suspend);
- rescue/unrescue (supports_rescue); changePassword: set_admin_password
  (supports_set_admin_password); trigger_crash_dump (supports_trigger_crash_dump);
  os-getConsoleOutput: get_console_output (supports_console_log);
- rebuild: rebuild, then power_off when the server was stopped (supports_rebuild);
- shelve: power_off, then snapshot into the "<name>-shelved" image (when
  supports_snapshot), then, offloaded, destroy; unshelve: power_on, or spawn
  from that image on the host the scheduler chose when it was offloaded;
- soft delete / restore: power_off / power_on; reclaim: destroy;
- evacuate: spawn on the new host (supports_evacuate), destroy on the old
  one when its compute service starts again;
- resize/migrate and live migration: see the migration methods;
- os-interface attach/detach: attach_interface/detach_interface
  (supports_attach_interface).
"""
from __future__ import annotations

import abc
import dataclasses
import enum

from compute_core import exception, plugins


class PowerState(enum.IntEnum):
    """Power states as the Compute API reports them (OS-EXT-STS:power_state)."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


@dataclasses.dataclass
class InstanceInfo:
    state: PowerState
    internal_id: str | None = None


@dataclasses.dataclass
class HostResources:
    """What a host offers, as reported to the compute node record."""

    vcpus: int
    memory_mb: int
    local_gb: int
    hypervisor_type: str
    hypervisor_version: int
    hypervisor_hostname: str
    cpu_info: str = "{}"
    vcpus_used: int = 0
    memory_mb_used: int = 0
    local_gb_used: int = 0


DEFAULT_CAPABILITIES = {
    "supports_pause": False,
    "supports_suspend": False,
    "supports_rescue": False,
    "supports_snapshot": False,
    "supports_resize": False,
    "supports_migrate": False,
    # A cold migration may stay on its host (a resize may whenever
    # [DEFAULT] allow_resize_to_same_host is set): see the migration methods.
    "supports_migrate_to_same_host": False,
    "supports_live_migration": False,
    # DELETE /servers/{id}/migrations/{id} and its force_complete action on a
    # running live migration (the driver's live_migration_abort and
    # live_migration_force_complete).
    "supports_live_migration_abort": False,
    "supports_live_migration_force_complete": False,
    "supports_rebuild": False,
    # Rebuild a guest of a down host on another host (evacuate): spawn there
    # from the instance's image, the source's guest dropped when it returns.
    "supports_evacuate": False,
    "supports_set_admin_password": False,
    "supports_trigger_crash_dump": False,
    "supports_console_vnc": False,
    "supports_console_spice": False,
    "supports_console_serial": False,
    "supports_console_log": False,
    "supports_host_power": False,
    "supports_host_maintenance": False,
    "supports_diagnostics": False,
    "supports_image_cache": False,
    # Hot-plug and unplug a NIC (os-interface): attach_interface / detach_interface.
    "supports_attach_interface": False,
}


class ComputeDriver(abc.ABC):
    """Base class of hypervisor drivers.

    Constructed as ``Driver(conf, host)`` by the compute service: *conf* is
    the service's ConfigOpts (register your own option group on it in
    ``__init__``), *host* the compute host name.
    """

    #: What the driver supports beyond the required methods.
    capabilities: dict = DEFAULT_CAPABILITIES

    def __init__(self, conf, host: str):
        self.conf = conf
        self.host = host
        self._event_listener = None
        self._migration_listener = None

    def use_image_backend(self, images) -> None:
        """The compute service hands over *images*(), which returns its
        image backend (loaded at the first call): a driver that reads image
        data at spawn may fetch through it (:attr:`image_backend`)."""
        self.image_backend = images

    #: images() -> the compute service's image backend, or None.
    image_backend = None

    def supports(self, capability: str) -> bool:
        return bool({**DEFAULT_CAPABILITIES, **self.capabilities}.get(capability))

    def _unsupported(self, action: str):
        raise exception.NotSupportedByDriver(driver=type(self).__name__, action=action)

    # ---------------------------------------------------------- lifecycle
    @abc.abstractmethod
    def init_host(self) -> None:
        """Prepare the host at service start (connect to the hypervisor)."""

    def cleanup_host(self) -> None:
        """Release what init_host took, at service stop."""

    @abc.abstractmethod
    def list_instances(self) -> list[str]:
        """UUIDs of the guests that exist on this host."""

    @abc.abstractmethod
    def spawn(self, context, instance: dict, image_meta: dict, network_info: dict,
              admin_password: str | None = None) -> None:
        """Create and start a guest; return once it is running."""

    @abc.abstractmethod
    def destroy(self, context, instance: dict, network_info: dict,
                destroy_disks: bool = True) -> None:
        """Stop and remove a guest; a guest that does not exist is not an error."""

    def rebuild(self, context, instance: dict, image_meta: dict, network_info: dict) -> None:
        """Recreate the guest's root disk from *image_meta* (the image it is
        rebuilt with, possibly a new one: ``instance["image_ref"]`` already
        names it) and start it; the guest keeps its identity (uuid, MAC and
        addresses in *network_info*). Capability ``supports_rebuild``. A
        driver that cannot rebuild in place may destroy and spawn."""
        self._unsupported("rebuild")

    def snapshot(self, context, instance: dict, image_id: str, upload) -> None:
        """Write the root disk to the image *image_id* through
        ``upload(fileobj, disk_format=None)``; *disk_format* names the
        data's format when it may differ from the image record's (which
        is the base image's)."""
        self._unsupported("snapshot")

    def rescue(self, context, instance: dict, network_info: dict, image_meta: dict,
               rescue_password: str | None) -> None:
        """Boot the guest from a rescue image (*image_meta*: the one asked
        for, else the instance's own) with its own disk attached as a second
        disk, so that a user can repair it; *rescue_password* is the rescue
        system's root password. Capability ``supports_rescue``; the guest is
        then in vm_state rescued until :meth:`unrescue`. The compute service
        has powered the guest off first, cleanly (:meth:`request_shutdown`,
        else :meth:`power_off` with the timeout), as for a stop."""
        self._unsupported("rescue")

    def unrescue(self, context, instance: dict) -> None:
        """Leave rescue: boot the guest from its own disk again."""
        self._unsupported("unrescue")

    def set_admin_password(self, instance: dict, new_pass: str) -> None:
        """Set the administrator (root) password inside the running guest
        (changePassword). Capability ``supports_set_admin_password``; raise
        :class:`~compute_core.exception.NotImplementedByDriver` when the guest
        cannot take it now (no guest agent), which the API answers with 501."""
        self._unsupported("set admin password")

    def trigger_crash_dump(self, instance: dict) -> None:
        """Make the guest dump its memory and crash (an NMI: the guest's
        kernel decides what to do with it). Capability
        ``supports_trigger_crash_dump``."""
        self._unsupported("trigger crash dump")

    def attach_interface(self, context, instance: dict, image_meta: dict, vif: dict) -> None:
        """Plug one more NIC into the guest (running, paused or stopped: a
        stopped guest has it at its next start). *vif* is the network
        backend's port: ``{"id", "network_id", "network_name",
        "mac_address", "fixed_ips": [{"subnet_id", "ip_address"}], "tag"}``;
        the guest's network_info gains its address once this returns.
        Capability ``supports_attach_interface``."""
        self._unsupported("attach interface")

    def detach_interface(self, context, instance: dict, vif: dict) -> None:
        """Unplug the NIC of *vif* (as attach_interface's, found by its
        ``mac_address``); a NIC the guest no longer has is not an error."""
        self._unsupported("detach interface")

    # -------------------------------------------------------------- power
    @abc.abstractmethod
    def get_info(self, instance: dict) -> InstanceInfo:
        """Power state of a guest; raise InstanceNotFound if it does not exist."""

    @abc.abstractmethod
    def power_off(self, instance: dict, timeout: int = 0, retry_interval: int = 0) -> None:
        """Stop a guest: ask it to shut down for *timeout* seconds, then force."""

    def request_shutdown(self, instance: dict, reboot: bool = False) -> bool:
        """Ask the running guest to shut itself down (the ACPI power button)
        and return at once, without waiting; *reboot* says the shutdown is
        the first half of a soft reboot. False (this default) when the
        driver cannot ask. A driver that can gets the compute service's
        generic clean shutdown and soft reboot: the service asks, watches
        :meth:`get_info` on its clock for the guest to be off, asks again
        every 10 seconds, and after ``[DEFAULT] shutdown_timeout`` or the
        image's ``os_shutdown_timeout`` (a stop, shelve, soft delete, rescue,
        resize or cold migration) or ``[libvirt]
        wait_soft_reboot_seconds`` (a soft reboot) calls :meth:`power_off`
        with timeout 0 (force) or :meth:`reboot` "HARD"; a guest that did
        go off is then restarted by :meth:`reboot` "SOFT" or finished by
        :meth:`power_off`. A driver that cannot ask gets
        those timeouts in :meth:`power_off` and does its own waiting."""
        return False

    @abc.abstractmethod
    def power_on(self, context, instance: dict, network_info: dict) -> None:
        """Start a stopped guest."""

    @abc.abstractmethod
    def reboot(self, context, instance: dict, network_info: dict, reboot_type: str) -> None:
        """Reboot a guest; *reboot_type* is "SOFT" or "HARD"."""

    def pause(self, instance: dict) -> None:
        self._unsupported("pause")

    def unpause(self, instance: dict) -> None:
        self._unsupported("unpause")

    def suspend(self, context, instance: dict) -> None:
        self._unsupported("suspend")

    def resume(self, context, instance: dict, network_info: dict) -> None:
        self._unsupported("resume")

    # ---------------------------------------------------------- migration
    # A cold migration or resize: migrate_disk_and_power_off on the source,
    # finish_migration on the destination; then confirm_migration on the
    # source (drop the source copy) or, to revert, destroy on the
    # destination and finish_revert_migration on the source (bring the
    # source copy back). Source and destination are the same host for a
    # resize with allow_resize_to_same_host, or a cold migration where the
    # driver declares supports_migrate_to_same_host: the source copy must
    # then be kept apart from the new guest (libvirt keeps a "_resize"
    # directory) so that destroy takes only the new one.
    def migrate_disk_and_power_off(self, context, instance: dict, dest: str,
                                   flavor: dict, network_info: dict) -> dict:
        """Source side of a cold migration/resize; returns disk info for the
        dest. The compute service has powered the guest off first, cleanly
        (as for a stop); a guest still running is powered off here."""
        self._unsupported("migrate")

    def finish_migration(self, context, migration: dict, instance: dict, disk_info: dict,
                         network_info: dict, image_meta: dict, resize_instance: bool,
                         power_on: bool = True) -> None:
        self._unsupported("migrate")

    def confirm_migration(self, context, migration: dict, instance: dict,
                          network_info: dict) -> None:
        self._unsupported("migrate")

    def finish_revert_migration(self, context, instance: dict, network_info: dict,
                                migration: dict, power_on: bool = True) -> None:
        self._unsupported("migrate")

    # A live migration (capability supports_live_migration): the compute
    # service of the source asks the destination's for pre_live_migration
    # (its answer is added to *migrate_data*), then calls live_migration on
    # the source, which moves the running guest and calls *post_method*
    # (context, instance, dest, migrate_data) once the guest runs on the
    # destination, or *recover_method* (same arguments) when it failed and
    # the guest still runs on the source, then raises. post_method has the
    # destination's compute service call post_live_migration_at_destination.
    def pre_live_migration(self, context, instance: dict, network_info: dict,
                           migrate_data: dict) -> dict:
        """Destination side, before the move: prepare to receive the guest."""
        self._unsupported("live migration")

    def live_migration(self, context, instance: dict, dest: str, post_method,
                       recover_method, migrate_data: dict) -> None:
        """Source side: move the running guest to the host *dest*."""
        self._unsupported("live migration")

    def post_live_migration_at_destination(self, context, instance: dict,
                                           network_info: dict) -> None:
        """Destination side, after the move: the guest is now this host's."""
        self._unsupported("live migration")

    def rollback_live_migration_at_destination(self, context, instance: dict,
                                               migrate_data: dict) -> None:
        """Destination side, when the move failed after pre_live_migration:
        undo what it prepared (nothing, by default)."""

    # While live_migration runs (capabilities supports_live_migration_abort
    # and supports_live_migration_force_complete), from another thread:
    # abort it (live_migration then raises LiveMigrationAborted after the
    # recover_method), or make it finish now (the guest paused until it runs
    # on the destination).
    def live_migration_abort(self, instance: dict) -> None:
        self._unsupported("aborting a live migration")

    def live_migration_force_complete(self, instance: dict) -> None:
        self._unsupported("forcing a live migration to complete")

    # ------------------------------------------------------------ console
    def get_console_connection(self, context, instance: dict, console_type: str) -> dict:
        """{"host", "port", "internal_access_path"} of a vnc/spice/serial console."""
        self._unsupported(f"{console_type} consoles")

    def get_console_output(self, context, instance: dict) -> str:
        """The guest's console log (what it wrote on its serial console),
        whole; the compute service cuts the last lines the user asked for.
        Capability ``supports_console_log``."""
        self._unsupported("console log")

    # ---------------------------------------------------------- resources
    @abc.abstractmethod
    def get_available_resource(self) -> HostResources:
        """What the host offers now."""

    def set_host_size(self, vcpus: int | None = None, memory_mb: int | None = None,
                      disk_gb: int | None = None) -> None:
        """Make the host report this size (the values given; None keeps one).

        Used by the embedded cloud (``Cloud(host_resources=...)``,
        ``add_host``, the pytest plugin's ``compute_cloud_hosts`` marker)
        before the compute service starts. A driver of real hardware refuses,
        as this default does; a simulated one stores the numbers."""
        raise exception.Invalid(
            f"virt driver {type(self).__name__} does not take host sizes (vcpus, memory_mb, "
            "disk_gb): it reports its host's real resources, or sizes set by its own options")

    def save_state(self):
        """A copy of the host's guests that :meth:`load_state` puts back
        (``cloud.snapshot()`` / ``cloud.restore()``). A simulated host
        returns it; a driver of real guests refuses, as this default does."""
        raise exception.Invalid(
            f"virt driver {type(self).__name__} cannot save its guests: snapshots of an "
            "embedded cloud need a simulated hypervisor (the fake driver)")

    def load_state(self, state) -> None:
        """Make the host's guests those of *state* (from :meth:`save_state`)."""
        raise exception.Invalid(f"virt driver {type(self).__name__} cannot load guests")

    def update_provider_tree(self, provider_tree: dict, nodename: str) -> None:
        """Fill the placement view of this host.

        *provider_tree* is ``{"inventories": {RC: {...}}, "traits": set()}``
        for the root provider of *nodename*; the default derives inventory
        from :meth:`get_available_resource` and the allocation ratios of
        the compute service, so most drivers only add traits.
        """

    # ------------------------------------------------------------- events
    def register_event_listener(self, callback) -> None:
        """Have ``callback(instance_uuid, PowerState)`` called when a guest
        changes power state by itself (shut down from inside, crashed,
        paused by the hypervisor). The compute service registers one; a
        driver whose hypervisor sends events calls :meth:`emit_event` (from
        any thread), one without events never does (the periodic power
        state sync still catches up)."""
        self._event_listener = callback

    def emit_event(self, instance_uuid: str, state: PowerState) -> None:
        listener = self._event_listener
        if listener is not None:
            listener(instance_uuid, state)

    def register_migration_listener(self, callback) -> None:
        """Have ``callback(instance_uuid, figures)`` called with the progress
        of a live migration this host's driver runs (``memory_total``,
        ``memory_processed``, ``memory_remaining``, ``disk_total``,
        ``disk_processed``, ``disk_remaining``: bytes, None where unknown)."""
        self._migration_listener = callback

    def emit_migration_progress(self, instance_uuid: str, figures: dict) -> None:
        listener = self._migration_listener
        if listener is not None:
            listener(instance_uuid, figures)

    # --------------------------------------------------------------- host
    def host_power_action(self, action: str) -> str:
        self._unsupported("host power actions")

    def host_maintenance_mode(self, host: str, mode: bool) -> str:
        self._unsupported("host maintenance mode")

    def get_diagnostics(self, instance: dict) -> dict:
        """A running guest's diagnostics (declare ``supports_diagnostics``),
        in the Compute API's standard shape (2.48): ``state`` (running,
        paused, shutdown, crashed, suspended, pending), ``driver``,
        ``hypervisor``, ``hypervisor_os``, ``uptime`` (seconds),
        ``config_drive``, ``num_cpus``, ``num_nics``, ``num_disks``,
        ``cpu_details`` ([{"id", "time", "utilisation"}]), ``nic_details``
        ([{"mac_address", "rx_octets", "rx_errors", "rx_drop", "rx_packets",
        "rx_rate", "tx_octets", "tx_errors", "tx_drop", "tx_packets",
        "tx_rate"}]), ``disk_details`` ([{"read_bytes", "read_requests",
        "write_bytes", "write_requests", "errors_count"}]),
        ``memory_details`` ({"maximum", "used"} in MiB); a value the driver
        cannot tell is None."""
        self._unsupported("diagnostics")

    def cache_image(self, context, image: dict) -> bool:
        """Fetch *image* (the image backend's dict) into the host's image
        cache ahead of any boot (declare ``supports_image_cache``), as a
        spawn would; True when fetched, False when it was cached already."""
        self._unsupported("image caching")

    def get_host_uptime(self) -> str | None:
        """The host's ``uptime`` line (what the command prints: time, how
        long up, users, load averages), shown by ``os-hypervisors``; None
        (this default) when the driver cannot tell."""
        return None


def load_driver(conf, host: str) -> ComputeDriver:
    """The driver named by ``[DEFAULT] compute_driver``, constructed."""
    return plugins.load_plugin(plugins.VIRT_DRIVERS, conf.compute_driver, ComputeDriver,
                               conf, host)
