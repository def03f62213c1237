"""LibvirtDriver: compute_core's ComputeDriver on libvirt (QEMU/KVM).

A guest is the persistent domain ``instance-<uuid>`` whose ``<metadata>``
names its instance, project, flavor and compute host (several compute hosts
may share one libvirtd: each sees only its own domains). Its files are in
``[libvirt] instances_path/<uuid>/`` (see :mod:`.disks`); base images are
cached in ``_base``. Options: :mod:`.options`.

The driver is composed of parts, one module each, all on :class:`.domains.DomainOps`
(finding, starting, stopping and removing our domains): :mod:`.guest_build` (a
guest's disks and domain spec), :mod:`.consoles`, :mod:`.storage` (snapshots,
second disks, the image cache's cleaning), :mod:`.interfaces`, :mod:`.migration`
(resize and cold migration), :mod:`.live_migration` and :mod:`.diagnostics`. This
module keeps the lifecycle, power, rescue, resources and the periodic tasks.
"""
from __future__ import annotations

import json
import logging
import os
import threading

import libvirt

from compute_core import conf as conf_mod
from compute_core import exception
from compute_core.virt.driver import ComputeDriver, HostResources, InstanceInfo, PowerState
from compute_core_plugins.virt.libvirt import config, disks, options
from compute_core_plugins.virt.libvirt.consoles import ConsoleMixin, serial_port_range
from compute_core_plugins.virt.libvirt.diagnostics import DiagnosticsMixin
from compute_core_plugins.virt.libvirt.domains import NAME_PREFIX, RESIZE_SUFFIX, _error
from compute_core_plugins.virt.libvirt.host import POWER_STATES, Host, start_event_loop
from compute_core_plugins.virt.libvirt.interfaces import InterfaceMixin
from compute_core_plugins.virt.libvirt.live_migration import LiveMigrationMixin
from compute_core_plugins.virt.libvirt.migration import MigrationMixin
from compute_core_plugins.virt.libvirt.storage import StorageMixin

LOG = logging.getLogger(__name__)


class LibvirtDriver(MigrationMixin, LiveMigrationMixin, ConsoleMixin, StorageMixin,
                    InterfaceMixin, DiagnosticsMixin, ComputeDriver):
    capabilities = {
        "supports_pause": True,
        "supports_suspend": True,
        "supports_rescue": True,
        "supports_snapshot": True,
        "supports_resize": True,
        # Between compute hosts that see the same instances_path (several
        # hosts on one machine): the disks are taken from the source's
        # _resize directory. A same-host cold migration is refused, as Nova's
        # libvirt driver refuses it.
        "supports_migrate": True,
        "supports_migrate_to_same_host": False,
        # Peer to peer between libvirt hosts (each compute host on a libvirtd
        # of its own host UUID), on shared storage or as a block migration.
        # Two compute hosts on one libvirtd are refused at the move (libvirt
        # cannot migrate a domain to itself).
        "supports_live_migration": True,
        "supports_live_migration_abort": True,
        "supports_live_migration_force_complete": True,
        "supports_rebuild": False,
        "supports_console_vnc": True,
        "supports_console_spice": True,
        "supports_console_serial": True,
        "supports_console_log": True,
        "supports_host_power": False,
        "supports_host_maintenance": False,
        "supports_diagnostics": True,
        # A virtio NIC (the image's hw_vif_model) plugged in and out, as
        # spawn builds them; not with vif_type = none (guests get no NICs).
        "supports_attach_interface": True,
    }

    def __init__(self, conf, host):
        super().__init__(conf, host)
        options.register(conf)
        # Overrides of [libvirt] given before the group existed (Cloud's
        # overrides) apply now, before the values are read below.
        conf_mod.apply_pending_overrides(conf)
        self.opts = conf.libvirt
        if self.opts.vif_type == "none":
            self.capabilities = dict(self.capabilities, supports_attach_interface=False)
        # Consoles as Nova's: [vnc] / [spice] / [serial_console] enabled
        # say which a guest gets (the compute service refuses the others).
        self.serial_ports = serial_port_range(conf.serial_console.port_range)
        self.instances_path = os.path.abspath(self.opts.instances_path)
        self.virt_type = None
        self.images = None  # the image backend, opened on first use
        self._images_db = None
        self._image_cache = None
        self._host = Host(self.opts.connection_uri, event_handler=self._on_lifecycle_event)
        self._periodic = None
        self._stop = threading.Event()
        self._serial_lock = threading.Lock()
        # Ports handed out but maybe not defined yet: {port: when}.
        self._serial_reserved: dict[int, float] = {}
        self.leftovers: list[str] = []
        # Live migrations this host runs as a source: {uuid: what was asked
        # of them ("abort", "force-complete")}.
        self._migrating: dict[str, set] = {}

    # ---------------------------------------------------------- lifecycle
    def init_host(self):
        start_event_loop()
        self._host.get_connection()
        self.virt_type = self._host.detect_virt_type(self.opts.virt_type)
        if self.virt_type == "qemu" and self.opts.virt_type == "auto" and \
                self._host.get_connection().getType() == "QEMU":
            from compute_core_plugins.virt.libvirt.host import kvm_usable

            _, why = kvm_usable(self._host.get_connection())
            LOG.warning("libvirt driver of %s: virt_type qemu (TCG emulation, slow): %s",
                        self.host, why)
        else:
            LOG.info("libvirt driver of %s: virt_type %s on %s", self.host, self.virt_type,
                     self._host.uri)
        os.makedirs(self.instances_path, mode=0o755, exist_ok=True)
        for changed in disks.make_traversable(self.instances_path,
                                              self.opts.fix_path_permissions):
            LOG.warning("added o+x to %s so that QEMU's user reaches %s", changed,
                        self.instances_path)
        if self.opts.import_tiny_guest_image:
            from compute_core_plugins.virt.libvirt import tiny_guest

            image = tiny_guest.ensure_image(self.image_cache.images)
            if image is None:
                LOG.warning("no %s image: %s", tiny_guest.IMAGE_NAME, tiny_guest.missing())
            else:
                LOG.info("image %s: %s (boots to %s on its console)", tiny_guest.IMAGE_NAME,
                         image["id"], tiny_guest.MARKER)
        interval = self.opts.image_cache_manager_interval
        if interval and self._periodic is None:
            self._stop.clear()
            self._periodic = threading.Thread(target=self._periodic_loop, args=(interval,),
                                              name=f"libvirt-periodic-{self.host}",
                                              daemon=True)
            self._periodic.start()

    def cleanup_host(self):
        self._stop.set()
        if self._periodic is not None:
            self._periodic.join(timeout=5)
            self._periodic = None
        self._host.close()
        if self._images_db is not None:
            self._images_db.dispose()
            self._images_db = None
            self.images = self._image_cache = None

    def list_instances(self):
        out = []
        try:
            domains = self._host.all_domains()
        except libvirt.libvirtError as exc:
            raise _error("listing domains", exc) from None
        for dom in domains:
            if self._ours(dom) is not None:
                out.append(dom.name()[len(NAME_PREFIX):])
        return out

    def spawn(self, context, instance, image_meta, network_info, admin_password=None):
        directory = self._dir(instance)
        try:
            os.makedirs(directory, mode=0o755, exist_ok=False)
        except FileExistsError:
            raise exception.VirtDriverError(
                reason=f"instance directory {directory} exists already") from None
        try:
            spec = self._prepare_guest(instance, image_meta, network_info, directory)
            xml = config.build_domain(spec)
            try:
                dom = self._host.get_connection().defineXML(xml)
            except libvirt.libvirtError as exc:
                raise _error(f"defining {spec.name}", exc) from None
            self._start(dom, "starting")
        except BaseException:
            self._remove_guest(instance, remove_files=True)
            raise
        LOG.info("spawned %s on %s (%s)", instance["uuid"], self.host, self.virt_type)

    def destroy(self, context, instance, network_info, destroy_disks=True):
        self._remove_guest(instance, remove_files=destroy_disks)

    # -------------------------------------------------------------- power
    def get_info(self, instance):
        dom = self._domain(instance)
        try:
            state = self._state(dom)
            saved = state == libvirt.VIR_DOMAIN_SHUTOFF and dom.hasManagedSaveImage(0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise exception.InstanceNotFound(instance_id=instance["uuid"]) from None
            raise _error(f"reading the state of {dom.name()}", exc) from None
        power = PowerState.SUSPENDED if saved else POWER_STATES.get(state, PowerState.NOSTATE)
        return InstanceInfo(state=power, internal_id=dom.UUIDString())

    def power_off(self, instance, timeout=0, retry_interval=0):
        dom = self._domain(instance)
        if not dom.isActive():
            if dom.hasManagedSaveImage(0):
                # Stopping a suspended guest: it starts afresh next time.
                dom.managedSaveRemove(0)
            return
        if timeout:
            if self._acpi_shutdown(dom, timeout):
                return
            LOG.info("forcing %s off", dom.name())
        self._force_off(dom)

    def power_on(self, context, instance, network_info):
        dom = self._domain(instance)
        if not dom.isActive():
            self._start(dom, "starting")

    def reboot(self, context, instance, network_info, reboot_type):
        dom = self._domain(instance)
        if reboot_type != "HARD" and self._state(dom) == libvirt.VIR_DOMAIN_RUNNING:
            if self._acpi_shutdown(dom, self.opts.wait_soft_reboot_seconds):
                self._start(dom, "starting (soft reboot)")
                LOG.info("soft rebooted %s", dom.name())
                return
            LOG.info("no soft reboot of %s: rebooting it hard", dom.name())
        self._force_off(dom)
        self._start(dom, "starting (hard reboot)")

    def pause(self, instance):
        dom = self._domain(instance)
        try:
            dom.suspend()
        except libvirt.libvirtError as exc:
            raise _error(f"pausing {dom.name()}", exc) from None

    def unpause(self, instance):
        dom = self._domain(instance)
        try:
            dom.resume()
        except libvirt.libvirtError as exc:
            raise _error(f"unpausing {dom.name()}", exc) from None

    def suspend(self, context, instance):
        dom = self._domain(instance)
        try:
            dom.managedSave(0)
        except libvirt.libvirtError as exc:
            raise _error(f"suspending {dom.name()} (managed save)", exc) from None

    def resume(self, context, instance, network_info):
        dom = self._domain(instance)
        if not dom.isActive():
            self._start(dom, "resuming")

    # ------------------------------------------------------------ console
    # ------------------------------------------------------------- rescue
    def rescue(self, context, instance, network_info, image_meta, rescue_password):
        """Boot the rescue image (the instance's own by default) with the
        instance's root disk as the second disk; unrescue restores it."""
        dom = self._domain(instance)
        directory = self._dir(instance)
        saved = os.path.join(directory, "unrescue.xml")
        with open(saved, "w") as f:
            f.write(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        image_id = (image_meta or {}).get("id") or instance.get("image_ref")
        base, image = self.image_cache.fetch(image_id)
        props = dict(image.get("properties") or {})
        rescue_disk = os.path.join(directory, "disk.rescue")
        disks.create_root_disk(rescue_disk, base, image.get("disk_format") or "raw", 0,
                               self.opts.images_type)
        kernel = initrd = None
        info = disks.read_disk_info(directory)
        bases = set(info.get("bases", [])) | {image_id}
        if props.get("kernel_id"):
            kernel, _ = self.image_cache.fetch(props["kernel_id"])
            bases.add(props["kernel_id"])
        if props.get("ramdisk_id"):
            initrd, _ = self.image_cache.fetch(props["ramdisk_id"])
            bases.add(props["ramdisk_id"])
        disks.write_disk_info(directory, dict(info, bases=sorted(bases)))
        spec = self._guest_spec(instance, props, network_info, directory, kernel, initrd)
        bus = spec.disks[0].bus
        spec.disks = [config.Disk(rescue_disk, format=self.opts.images_type, bus=bus),
                      config.Disk(os.path.join(directory, "disk"),
                                  format=self.opts.images_type, bus=bus)]
        self._force_off(dom)
        self._redefine(config.build_domain(spec), start=True)

    def unrescue(self, context, instance):
        dom = self._domain(instance)
        directory = self._dir(instance)
        saved = os.path.join(directory, "unrescue.xml")
        with open(saved) as f:
            xml = f.read()
        self._force_off(dom)
        self._redefine(xml, start=True)
        os.unlink(saved)
        rescue_disk = os.path.join(directory, "disk.rescue")
        if os.path.exists(rescue_disk):
            os.unlink(rescue_disk)

    # ---------------------------------------------------------- resources
    def get_available_resource(self):
        cpus, memory_mb = self._host.memory_and_cpus()
        os.makedirs(self.instances_path, exist_ok=True)
        st = os.statvfs(self.instances_path)
        disk_gb = st.f_blocks * st.f_frsize // (1 << 30)
        vcpus_used = memory_used = disk_used = 0
        for dom in self._host.all_domains():
            meta = self._ours(dom)
            if meta is None:
                continue
            flavor = meta.get("flavor") or {}
            vcpus_used += int(flavor.get("vcpus") or 0)
            memory_used += int(flavor.get("memory_mb") or 0)
            disk_used += int(flavor.get("root_gb") or 0) + int(flavor.get("ephemeral_gb") or 0)
        hv_type, hv_version = self._host.hypervisor()
        return HostResources(
            vcpus=cpus, memory_mb=memory_mb, local_gb=disk_gb, hypervisor_type=hv_type,
            hypervisor_version=hv_version, hypervisor_hostname=self.host,
            cpu_info=json.dumps(self._host.cpu_info()), vcpus_used=vcpus_used,
            memory_mb_used=memory_used, local_gb_used=disk_used)

    def update_provider_tree(self, provider_tree, nodename):
        traits = provider_tree["traits"]
        traits |= self._host.cpu_traits()
        traits |= {f"COMPUTE_STORAGE_BUS_{b.upper()}" for b in config.DISK_BUSES}
        traits |= {f"COMPUTE_NET_VIF_MODEL_{m.upper()}" for m in config.VIF_MODELS}
        traits |= {"COMPUTE_FIRMWARE_BIOS", "COMPUTE_GRAPHICS_MODEL_VGA",
                   "COMPUTE_GRAPHICS_MODEL_QXL", "COMPUTE_GRAPHICS_MODEL_NONE"}
        if os.path.exists(self.opts.ovmf_code):
            traits.add("COMPUTE_FIRMWARE_UEFI")

    # ------------------------------------------------------------- events
    def _on_lifecycle_event(self, name, state):
        if not name.startswith(NAME_PREFIX):
            return
        uuid = name[len(NAME_PREFIX):]
        LOG.debug("lifecycle event of %s: %s", uuid, state.name)
        self.emit_event(uuid, state)

    # ----------------------------------------------------------- periodic
    def _periodic_loop(self, interval):
        while not self._stop.wait(interval):
            try:
                self.manage_image_cache()
                self.find_leftovers()
            except Exception:
                LOG.exception("libvirt periodic task of %s failed", self.host)

    def find_leftovers(self) -> list[str]:
        """What a crash can leave behind on this host, logged and returned:
        domains of ours without their instance directory, instance
        directories (of this machine's instances_path) without a domain on
        any host, stale ``_resize`` copies and half-fetched bases. Guests of
        deleted instances are the compute service's
        cleanup_running_deleted_instances's business."""
        found = []
        names = {}
        for dom in self._host.all_domains():
            meta = config.read_metadata(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)) \
                if dom.name().startswith(NAME_PREFIX) else {}
            if meta:
                names[dom.name()[len(NAME_PREFIX):]] = meta.get("host")
            if meta.get("host") == self.host and not os.path.isdir(
                    disks.instance_dir(self.instances_path, meta.get("uuid", ""))):
                found.append(f"domain {dom.name()} has no instance directory")
        try:
            entries = os.listdir(self.instances_path)
        except FileNotFoundError:
            entries = []
        for entry in entries:
            if entry == disks.BASE_DIR:
                for name in os.listdir(os.path.join(self.instances_path, entry)):
                    if ".part" in name:
                        found.append(f"half-fetched base image {name}")
                continue
            uuid = entry[:-len(RESIZE_SUFFIX)] if entry.endswith(RESIZE_SUFFIX) else entry
            if uuid not in names:
                what = "source copy of a move" if entry != uuid else "instance directory"
                found.append(f"{what} {entry} has no domain")
        for item in found:
            LOG.warning("libvirt leftover on %s: %s", self.host, item)
        self.leftovers = found
        return found
