"""LibvirtDriver: compute_core's ComputeDriver on libvirt (QEMU/KVM).

A guest is the persistent domain ``instance-<uuid>`` whose ``<metadata>``
names its instance, project, flavor and compute host (several compute hosts
may share one libvirtd: each sees only its own domains). Its files are in
``[libvirt] instances_path/<uuid>/`` (see :mod:`.disks`); base images are
cached in ``_base``. Options: :mod:`.options`.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET

import libvirt

from compute_core import conf as conf_mod
from compute_core import exception
from compute_core.virt.driver import ComputeDriver, HostResources, InstanceInfo, PowerState
from compute_core_plugins.virt.libvirt import config, configdrive, disks, options
from compute_core_plugins.virt.libvirt.host import POWER_STATES, Host, start_event_loop

LOG = logging.getLogger(__name__)

NAME_PREFIX = "instance-"
CONSOLE_LOG = "console.log"
RESIZE_SUFFIX = "_resize"
SAVED_XML = "domain.xml"
CONFIG_DRIVE = "disk.config"
MAX_CONSOLE_BYTES = 1 << 20
UNLIMITED_MIB_S = 1 << 30  # as good as no bandwidth limit for a migration
UNDEFINE_FLAGS = (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                  | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                  | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
CONSOLE_TYPES = {"vnc": "vnc", "novnc": "vnc", "spice": "spice", "spice-html5": "spice",
                 "serial": "serial"}


def domain_name(uuid: str) -> str:
    return NAME_PREFIX + uuid


def _port_free(host: str, port: int) -> bool:
    """Nothing else on this machine listens on *port* (as Nova checks a
    serial port before handing it to a guest)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def serial_port_range(text: str) -> range:
    """The ports of ``[serial_console] port_range`` ("MIN:MAX", both in)."""
    low, _, high = text.partition(":")
    try:
        first, last = int(low), int(high)
    except ValueError:
        first = last = -1
    if not 0 < first <= last < 65536:
        raise exception.ConfigError(f"[serial_console] port_range = {text!r}: not MIN:MAX "
                                    f"with 0 < MIN <= MAX < 65536")
    return range(first, last + 1)


def _error(action: str, exc: libvirt.libvirtError):
    return exception.VirtDriverError(reason=f"{action}: {exc.get_error_message()}")


def _undefine(dom):
    """Undefine with the managed save, snapshot metadata and NVRAM; a
    hypervisor driver that knows no NVRAM flag (test://) is asked without."""
    try:
        dom.undefineFlags(UNDEFINE_FLAGS)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_INVALID_ARG:
            raise
        dom.undefineFlags(UNDEFINE_FLAGS & ~libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)


class LibvirtDriver(ComputeDriver):
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

    # ------------------------------------------------------------ helpers
    @property
    def image_cache(self) -> disks.ImageCache:
        if self._image_cache is None:
            if self.images is None:
                from compute_core import assembly
                from compute_core.image import load_image_backend

                self._images_db = assembly.api_database(self.conf)
                self.images = load_image_backend(self.conf, self._images_db)
            self._image_cache = disks.ImageCache(self.instances_path, self.images)
        return self._image_cache

    def _dir(self, instance) -> str:
        return disks.instance_dir(self.instances_path, instance["uuid"])

    def _domain(self, instance, required=True):
        try:
            dom = self._host.lookup(domain_name(instance["uuid"]))
        except libvirt.libvirtError as exc:
            raise _error(f"looking up {instance['uuid']}", exc) from None
        if dom is None and required:
            raise exception.InstanceNotFound(instance_id=instance["uuid"])
        return dom

    def _ours(self, dom) -> dict | None:
        """The metadata of one of our domains on this host, else None."""
        if not dom.name().startswith(NAME_PREFIX):
            return None
        try:
            meta = config.read_metadata(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        except libvirt.libvirtError:
            return None
        return meta if meta.get("host") == self.host else None

    @staticmethod
    def _state(dom) -> int:
        return dom.state()[0]

    def _wait_for(self, dom, states, timeout) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._state(dom) in states:
                    return True
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    return libvirt.VIR_DOMAIN_SHUTOFF in states
                raise
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def _start(self, dom, what):
        try:
            dom.create()
        except libvirt.libvirtError as exc:
            raise _error(f"{what} of {dom.name()}", exc) from None
        if not self._wait_for(dom, (libvirt.VIR_DOMAIN_RUNNING,),
                              self.opts.wait_for_running_seconds):
            raise exception.VirtDriverError(
                reason=f"{dom.name()} did not reach running in "
                       f"{self.opts.wait_for_running_seconds} s")

    def _force_off(self, dom):
        try:
            if dom.isActive():
                dom.destroy()
        except libvirt.libvirtError as exc:
            if exc.get_error_code() not in (libvirt.VIR_ERR_NO_DOMAIN,
                                            libvirt.VIR_ERR_OPERATION_INVALID):
                raise _error(f"destroying {dom.name()}", exc) from None

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

    def _prepare_guest(self, instance, image_meta, network_info, directory,
                       flavor=None) -> config.GuestSpec:
        """The disks of a new guest (made now) and its GuestSpec."""
        image_id = image_meta.get("id") or instance.get("image_ref")
        base, image = self.image_cache.fetch(image_id)
        bases = [image_id]
        props = dict(image.get("properties") or {})
        root_gb = instance.get("root_gb") or 0
        disks.create_root_disk(os.path.join(directory, "disk"), base,
                               image.get("disk_format") or "raw", root_gb,
                               self.opts.images_type)
        flavor = flavor or instance.get("flavor") or {}
        bases += self._make_extra_disks(instance, flavor, directory, props)
        if configdrive.wanted(instance):
            configdrive.build(os.path.join(directory, CONFIG_DRIVE), instance, network_info)
        kernel = initrd = None
        if props.get("kernel_id"):
            kernel, _ = self.image_cache.fetch(props["kernel_id"])
            bases.append(props["kernel_id"])
        if props.get("ramdisk_id"):
            initrd, _ = self.image_cache.fetch(props["ramdisk_id"])
            bases.append(props["ramdisk_id"])
        disks.write_disk_info(directory, {"bases": bases, "image_id": image_id,
                                          "properties": props})
        return self._guest_spec(instance, props, network_info, directory, kernel, initrd)

    def _make_extra_disks(self, instance, flavor, directory, props) -> list[str]:
        """The flavor's ephemeral disk (formatted, labelled ephemeral0) and
        swap disk (mkswap'ed) that *directory* lacks; returns the names of
        the ``_base`` files they are overlays on."""
        made = []
        eph = instance.get("ephemeral_gb") or flavor.get("ephemeral_gb") or 0
        path = os.path.join(directory, "disk.eph0")
        if eph and not os.path.exists(path):
            os_type = props.get("os_type")
            template = disks.mkfs_template(os_type, self.conf.virt_mkfs)
            fs = disks.ephemeral_fs(os_type, self.conf.default_ephemeral_format)
            base = disks.create_formatted_disk(
                path, eph << 30,
                lambda target: disks.mkfs_command(fs, target, disks.EPHEMERAL_LABEL, template),
                self.opts.images_type, self.image_cache,
                disks.ephemeral_base_name(eph, template or fs))
            made += [base] if base else []
        elif eph:
            disks.resize_disk(path, eph)
        swap = flavor.get("swap") or 0
        path = os.path.join(directory, "disk.swap")
        if swap and not os.path.exists(path):
            base = disks.create_formatted_disk(
                path, swap << 20, lambda target: disks.mkfs_command("swap", target),
                self.opts.images_type, self.image_cache, disks.swap_base_name(swap))
            made += [base] if base else []
        return made

    def _guest_spec(self, instance, props, network_info, directory, kernel=None,
                    initrd=None, flavor=None) -> config.GuestSpec:
        flavor = flavor or instance.get("flavor") or {}
        bus = props.get("hw_disk_bus") or "virtio"
        if bus not in config.DISK_BUSES:
            raise exception.VirtDriverError(
                reason=f"image property hw_disk_bus={bus!r} is not one of "
                       f"{', '.join(config.DISK_BUSES)}")
        vif_model = props.get("hw_vif_model") or "virtio"
        if vif_model not in config.VIF_MODELS:
            raise exception.VirtDriverError(
                reason=f"image property hw_vif_model={vif_model!r} is not one of "
                       f"{', '.join(config.VIF_MODELS)}")
        disk_list = [config.Disk(os.path.join(directory, "disk"),
                                 format=self.opts.images_type, bus=bus)]
        for name in ("disk.eph0", "disk.swap"):
            path = os.path.join(directory, name)
            if os.path.exists(path):  # a qcow2 overlay, or raw formatted in place
                disk_list.append(config.Disk(path, format=disks.image_info(path)["format"],
                                             bus=bus))
        machine_type = props.get("hw_machine_type") or self.opts.hw_machine_type
        if os.path.exists(os.path.join(directory, CONFIG_DRIVE)):
            # q35 has no IDE controller; pc's IDE needs no extra controller.
            disk_list.append(config.Disk(
                os.path.join(directory, CONFIG_DRIVE), format="raw", device="cdrom",
                bus="sata" if "q35" in (machine_type or "") else "ide"))
        firmware = props.get("hw_firmware_type") or "bios"
        loader = nvram = None
        if firmware == "uefi":
            if not os.path.exists(self.opts.ovmf_code):
                raise exception.VirtDriverError(
                    reason=f"image wants UEFI (hw_firmware_type=uefi) but "
                           f"{self.opts.ovmf_code} is not installed (apt-get install ovmf)")
            loader = self.opts.ovmf_code
            nvram = os.path.join(directory, "nvram.fd")
            if not os.path.exists(nvram):
                shutil.copyfile(self.opts.ovmf_vars_template, nvram)
        elif firmware != "bios":
            raise exception.VirtDriverError(
                reason=f"image property hw_firmware_type={firmware!r} is not bios or uefi")
        cpu_mode = self.opts.cpu_mode
        if cpu_mode == "default":
            cpu_mode = "host-model" if self.virt_type == "kvm" else "none"
        nics = []
        if self.opts.vif_type != "none":
            for ports in (network_info or {}).values():
                for port in ports or []:
                    mac = port.get("OS-EXT-IPS-MAC:mac_addr") or port.get("mac")
                    if mac:
                        nics.append(config.Nic(mac=mac, model=vif_model,
                                               type=self.opts.vif_type,
                                               bridge=self.opts.bridge))
        serial_tcp = None
        if self.conf.serial_console.enabled:
            serial_tcp = (self.conf.serial_console.proxyclient_address,
                          self._free_serial_port())
        return config.GuestSpec(
            name=domain_name(instance["uuid"]), uuid=instance["uuid"],
            virt_type=self.virt_type or "qemu",
            vcpus=instance.get("vcpus") or flavor.get("vcpus") or 1,
            memory_mb=instance.get("memory_mb") or flavor.get("memory_mb") or 128,
            metadata=self._metadata(instance, flavor),
            disks=disk_list, nics=nics, cpu_mode=cpu_mode, cpu_model=self.opts.cpu_model,
            machine_type=machine_type,
            kernel=kernel, initrd=initrd,
            cmdline=props.get("os_command_line") or ("console=ttyS0" if kernel else None),
            firmware=firmware, loader=loader, nvram=nvram,
            console_log=os.path.join(directory, CONSOLE_LOG), serial_tcp=serial_tcp,
            vnc_listen=self.conf.vnc.server_listen if self.conf.vnc.enabled else None,
            spice_listen=self.conf.spice.server_listen if self.conf.spice.enabled else None)

    def _metadata(self, instance, flavor) -> dict:
        return {
            "uuid": instance["uuid"], "name": instance.get("display_name"),
            "host": self.host, "project": {"uuid": instance.get("project_id")},
            "user": {"uuid": instance.get("user_id")},
            "flavor": {"name": flavor.get("name"), "flavorid": flavor.get("flavorid"),
                       "vcpus": instance.get("vcpus") or flavor.get("vcpus"),
                       "memory_mb": instance.get("memory_mb") or flavor.get("memory_mb"),
                       "root_gb": instance.get("root_gb") or flavor.get("root_gb") or 0,
                       "ephemeral_gb": instance.get("ephemeral_gb")
                       or flavor.get("ephemeral_gb") or 0,
                       "swap": flavor.get("swap") or 0},
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def _free_serial_port(self) -> int:
        with self._serial_lock:
            used = set()
            for dom in self._host.all_domains():
                try:
                    tcp = config.serial_tcp(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
                except libvirt.libvirtError:
                    continue
                if tcp:
                    used.add(tcp[1])
            now = time.monotonic()
            self._serial_reserved = {p: t for p, t in self._serial_reserved.items()
                                     if now - t < 120}
            used.update(self._serial_reserved)
            host = self.conf.serial_console.proxyclient_address
            for port in self.serial_ports:
                if port not in used and _port_free(host, port):
                    self._serial_reserved[port] = now
                    return port
        raise exception.VirtDriverError(
            reason=f"no free serial console port in [serial_console] port_range "
                   f"{self.conf.serial_console.port_range}")

    def destroy(self, context, instance, network_info, destroy_disks=True):
        self._remove_guest(instance, remove_files=destroy_disks)

    def _remove_guest(self, instance, remove_files=True):
        """Stop and undefine the domain (persistent or transient, with its
        managed save and snapshots), then remove its files."""
        dom = self._domain(instance, required=False)
        if dom is not None:
            self._force_off(dom)
            try:
                if dom.isPersistent():
                    _undefine(dom)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise _error(f"undefining {dom.name()}", exc) from None
        if remove_files:
            disks.remove_dir(self._dir(instance))

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
            try:
                dom.shutdown()
            except libvirt.libvirtError as exc:
                LOG.info("ACPI shutdown of %s refused (%s): forcing it", dom.name(),
                         exc.get_error_message())
            else:
                if self._wait_for(dom, (libvirt.VIR_DOMAIN_SHUTOFF,), timeout):
                    LOG.info("%s shut down cleanly", dom.name())
                    return
                LOG.info("%s did not shut down in %s s: forcing it", dom.name(), timeout)
        self._force_off(dom)

    def power_on(self, context, instance, network_info):
        dom = self._domain(instance)
        if not dom.isActive():
            self._start(dom, "starting")

    def reboot(self, context, instance, network_info, reboot_type):
        dom = self._domain(instance)
        if reboot_type != "HARD" and self._state(dom) == libvirt.VIR_DOMAIN_RUNNING:
            wait = self.opts.wait_soft_reboot_seconds
            try:
                dom.shutdown()
            except libvirt.libvirtError as exc:
                LOG.info("ACPI shutdown of %s refused (%s)", dom.name(),
                         exc.get_error_message())
            else:
                if self._wait_for(dom, (libvirt.VIR_DOMAIN_SHUTOFF,), wait):
                    self._start(dom, "starting (soft reboot)")
                    LOG.info("soft rebooted %s", dom.name())
                    return
            LOG.info("%s did not shut down in %s s for a soft reboot: rebooting it hard",
                     dom.name(), wait)
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
    def get_console_output(self, context, instance):
        self._domain(instance)
        path = os.path.join(self._dir(instance), CONSOLE_LOG)
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                f.seek(max(0, size - MAX_CONSOLE_BYTES))
                data = f.read()
        except FileNotFoundError:
            return ""
        return data.decode("utf-8", errors="replace")

    def get_console_connection(self, context, instance, console_type):
        kind = CONSOLE_TYPES.get(console_type)
        if kind is None or not self.supports(f"supports_console_{kind}"):
            self._unsupported(f"{console_type} consoles")
        dom = self._domain(instance)
        try:
            xml = dom.XMLDesc(0)
        except libvirt.libvirtError as exc:
            raise _error(f"reading {dom.name()}", exc) from None
        device = "serial[@type='tcp']" if kind == "serial" else f"graphics[@type='{kind}']"
        if ET.fromstring(xml).find(f"devices/{device}") is None:
            # Made while that console was not enabled on its host (Nova's 400).
            raise exception.ConsoleTypeUnavailable(console_type=console_type)
        where = config.serial_tcp(xml) if kind == "serial" else \
            config.graphics_port(xml, kind)
        if where is None:
            raise exception.VirtDriverError(
                reason=f"{dom.name()} has no {kind} console now (is it running?)")
        # As Nova: graphics are reached at the host's proxy client address,
        # a serial port at the address it is bound to (proxyclient_address).
        host = where[0] if kind == "serial" else self.conf[kind].server_proxyclient_address
        return {"host": host, "port": where[1], "internal_access_path": None}

    # ---------------------------------------------------------- snapshot
    def snapshot(self, context, instance, image_id, upload):
        """The root disk flattened into a qcow2 file, handed to *upload*.
        A running guest is paused while its disk is read."""
        dom = self._domain(instance)
        directory = self._dir(instance)
        tmp = os.path.join(directory, f"snapshot-{image_id}.qcow2")
        paused = False
        try:
            if self._state(dom) == libvirt.VIR_DOMAIN_RUNNING:
                dom.suspend()
                paused = True
            disks.qemu_img("convert", "-q", "-U", "-O", "qcow2",
                           os.path.join(directory, "disk"), tmp)
        finally:
            if paused:
                dom.resume()
        try:
            with open(tmp, "rb") as f:
                upload(f, disk_format="qcow2")  # whatever the base image's
        finally:
            os.unlink(tmp)

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

    def _redefine(self, xml, start):
        try:
            dom = self._host.get_connection().defineXML(xml)
        except libvirt.libvirtError as exc:
            raise _error("defining the domain", exc) from None
        if start:
            self._start(dom, "starting")
        return dom

    # ---------------------------------------------------- second disks
    def attach_disk(self, instance, path: str, disk_format: str = "qcow2") -> str:
        """Attach the file *path* as the guest's next virtio disk, live and
        in its definition; return the target name (vdb ...)."""
        dom = self._domain(instance)
        xml = dom.XMLDesc(0)
        existing = [config.Disk(d["path"] or "", dev=d["dev"])
                    for d in config.domain_disks(xml)]
        disk = config.Disk(path, format=disk_format)
        config.disk_targets(existing + [disk])
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if dom.isActive():
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        try:
            dom.attachDeviceFlags(config.disk_xml(disk), flags)
        except libvirt.libvirtError as exc:
            raise _error(f"attaching {path} to {dom.name()}", exc) from None
        return disk.dev

    def detach_disk(self, instance, dev: str, timeout: float = 30) -> None:
        dom = self._domain(instance)
        found = [d for d in config.domain_disks(dom.XMLDesc(0)) if d["dev"] == dev]
        if not found:
            raise exception.VirtDriverError(reason=f"{dom.name()} has no disk {dev}")
        disk = config.Disk(found[0]["path"], dev=dev)
        disk.format = disks.image_info(disk.path)["format"]
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if dom.isActive():
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        try:
            dom.detachDeviceFlags(config.disk_xml(disk), flags)
        except libvirt.libvirtError as exc:
            raise _error(f"detaching {dev} from {dom.name()}", exc) from None
        # The guest releases the device when it acknowledges the unplug.
        deadline = time.monotonic() + timeout
        while any(d["dev"] == dev for d in config.domain_disks(dom.XMLDesc(0))):
            if time.monotonic() > deadline:
                raise exception.VirtDriverError(
                    reason=f"the guest of {dom.name()} did not release {dev} in {timeout} s")
            time.sleep(0.1)

    # --------------------------------------------------------- interfaces
    def _vif_nic(self, instance, vif) -> config.Nic:
        props = (instance.get("system_metadata") or {}).get("image_properties") or {}
        return config.Nic(mac=vif["mac_address"], model=props.get("hw_vif_model") or "virtio",
                          type=self.opts.vif_type, bridge=self.opts.bridge)

    def attach_interface(self, context, instance, image_meta, vif):
        """Plug a NIC into the domain, live when it runs and in its
        definition (a stopped guest has it at its next start)."""
        dom = self._domain(instance)
        nic = self._vif_nic(instance, vif)
        if nic.mac in config.domain_macs(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)):
            raise exception.VirtDriverError(reason=f"{dom.name()} has a NIC {nic.mac} already")
        live = dom.isActive()
        try:
            dom.attachDeviceFlags(config.nic_xml(nic), libvirt.VIR_DOMAIN_AFFECT_CONFIG |
                                  (libvirt.VIR_DOMAIN_AFFECT_LIVE if live else 0))
        except libvirt.libvirtError as exc:
            raise _error(f"plugging NIC {nic.mac} into {dom.name()}", exc) from None

    def detach_interface(self, context, instance, vif, timeout: float = 30):
        """Unplug the NIC of *vif* (found by its MAC); a running guest is
        given *timeout* seconds to release it (a paused one releases it
        when it runs again)."""
        dom = self._domain(instance)
        nic = self._vif_nic(instance, vif)
        live = dom.isActive()
        flags = 0
        if nic.mac in config.domain_macs(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)):
            flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if live and nic.mac in config.domain_macs(dom.XMLDesc(0)):
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        if not flags:
            return
        try:
            dom.detachDeviceFlags(config.nic_xml(nic), flags)
        except libvirt.libvirtError as exc:
            raise _error(f"unplugging NIC {nic.mac} from {dom.name()}", exc) from None
        if not flags & libvirt.VIR_DOMAIN_AFFECT_LIVE or \
                self._state(dom) != libvirt.VIR_DOMAIN_RUNNING:
            return
        deadline = time.monotonic() + timeout
        while nic.mac in config.domain_macs(dom.XMLDesc(0)):
            if time.monotonic() > deadline:
                raise exception.VirtDriverError(
                    reason=f"the guest of {dom.name()} did not release NIC {nic.mac} in "
                           f"{timeout} s")
            time.sleep(0.1)

    # ---------------------------------------------------------- migration
    def migrate_disk_and_power_off(self, context, instance, dest, flavor, network_info):
        """Power off, keep the disks and definition in ``<uuid>_resize``
        (what a revert brings back) and undefine the domain."""
        new_root = flavor.get("root_gb") or 0
        if new_root and new_root < (instance.get("root_gb") or 0):
            raise exception.VirtDriverError(
                reason=f"the root disk cannot shrink from {instance.get('root_gb')} GiB to "
                       f"{new_root} GiB")
        dom = self._domain(instance)
        self.power_off(instance, timeout=self.opts.wait_soft_reboot_seconds)
        directory = self._dir(instance)
        moved = directory + RESIZE_SUFFIX
        if os.path.exists(moved):
            disks.remove_dir(moved)
        with open(os.path.join(directory, SAVED_XML), "w") as f:
            f.write(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        os.rename(directory, moved)
        try:
            _undefine(dom)
        except libvirt.libvirtError as exc:
            os.rename(moved, directory)
            raise _error(f"undefining {dom.name()}", exc) from None
        return {"source_host": self.host, "source_dir": moved}

    def finish_migration(self, context, migration, instance, disk_info, network_info,
                         image_meta, resize_instance, power_on=True):
        source = (disk_info or {}).get("source_dir") or \
            self._dir(instance) + RESIZE_SUFFIX
        if not os.path.isdir(source):
            raise exception.VirtDriverError(
                reason=f"the source disks ({source}) are not reachable from {self.host}: "
                       "cold migration needs compute hosts that share instances_path")
        directory = self._dir(instance)
        os.makedirs(directory, mode=0o755, exist_ok=False)
        try:
            info = disks.read_disk_info(source)
            for name in ("disk", "disk.eph0", "disk.swap", "nvram.fd", CONFIG_DRIVE):
                if os.path.exists(os.path.join(source, name)):
                    shutil.copyfile(os.path.join(source, name), os.path.join(directory, name))
            for base in info.get("bases", []):
                if not disks.is_generated_base(base):
                    self.image_cache.fetch(base)  # this host's cache, if another
            flavor = instance.get("flavor") or {}
            if resize_instance and instance.get("root_gb"):
                disks.resize_disk(os.path.join(directory, "disk"), instance["root_gb"])
            props = info.get("properties") or {}
            made = self._make_extra_disks(instance, flavor, directory, props)
            disks.write_disk_info(directory, dict(info, bases=list(
                dict.fromkeys(info.get("bases", []) + made))))
            kernel = initrd = None
            if props.get("kernel_id"):
                kernel = self.image_cache.path(props["kernel_id"])
            if props.get("ramdisk_id"):
                initrd = self.image_cache.path(props["ramdisk_id"])
            spec = self._guest_spec(instance, props, network_info, directory, kernel, initrd)
            self._redefine(config.build_domain(spec), start=power_on)
        except BaseException:
            self._remove_guest(instance, remove_files=True)
            raise

    def confirm_migration(self, context, migration, instance, network_info):
        disks.remove_dir(self._dir(instance) + RESIZE_SUFFIX)

    def finish_revert_migration(self, context, instance, network_info, migration,
                                power_on=True):
        directory = self._dir(instance)
        moved = directory + RESIZE_SUFFIX
        if not os.path.isdir(moved):
            raise exception.VirtDriverError(reason=f"nothing to revert: {moved} is gone")
        if os.path.exists(directory):
            self._remove_guest(instance, remove_files=True)
        os.rename(moved, directory)
        with open(os.path.join(directory, SAVED_XML)) as f:
            xml = f.read()
        os.unlink(os.path.join(directory, SAVED_XML))
        self._redefine(xml, start=power_on)

    # ----------------------------------------------------- live migration
    def _inbound_addr(self) -> str:
        return self.opts.live_migration_inbound_addr or self.conf.my_ip

    def _host_uuid(self) -> str:
        """What tells libvirt hosts apart: the host UUID libvirt reports (a
        hypervisor driver without one, test://, by its URI)."""
        return self._host.capabilities().findtext("host/uuid") or f"uri:{self._host.uri}"

    def pre_live_migration(self, context, instance, network_info, migrate_data):
        """Destination, before the move: where the instance directory is
        already here, the storage is shared with the source (nothing to
        make); otherwise the disks are made as at spawn (overlays on this
        host's bases, the config drive, the kernel fetched) for a block
        migration to fill. Answers what the source needs to reach this host."""
        directory = self._dir(instance)
        shared = os.path.isfile(os.path.join(directory, disks.DISK_INFO))
        marker = None
        if shared:
            # The source checks that it sees this file: a directory left
            # here by an earlier move is not shared storage.
            marker = f".shared-check-{uuidlib.uuid4().hex}"
            with open(os.path.join(directory, marker), "w"):
                pass
        else:
            try:
                os.makedirs(directory, mode=0o755, exist_ok=False)
            except FileExistsError:
                raise exception.VirtDriverError(
                    reason=f"instance directory {directory} exists already on {self.host} "
                           "without its disks (a leftover?)") from None
            try:
                self._prepare_guest(instance, {"id": instance.get("image_ref")},
                                    network_info, directory)
            except BaseException:
                disks.remove_dir(directory)
                raise
        return dict(migrate_data or {}, shared_storage=shared, shared_marker=marker,
                    dest_host=self.host,
                    dest_instances_path=self.instances_path,
                    dest_addr=self._inbound_addr(), dest_host_uuid=self._host_uuid())

    def live_migration(self, context, instance, dest, post_method, recover_method,
                       migrate_data):
        """Source: move the running (or paused) guest to *dest*'s libvirtd,
        peer to peer, its memory over ``tcp://<destination address>``; the
        disks stay where they are on shared storage, else are copied (block
        migration of the overlays). The domain is defined on the destination
        (naming that host in its metadata) and undefined here; without
        shared storage this host's files go too."""
        data = dict(migrate_data or {})
        dom = self._domain(instance)
        uuid = instance["uuid"]
        self._migrating[uuid] = set()
        try:
            self._migrate(dom, instance, dest, data)
        except Exception as exc:
            asked = self._migrating.get(uuid, set())
            if "force-complete" in asked and instance.get("vm_state") != "paused":
                self._resume_quietly(dom)  # paused to converge; it stays here
            recover_method(context, instance, dest, data)
            if "abort" in asked:
                raise exception.LiveMigrationAborted(
                    instance_uuid=uuid, reason="asked through the API") from exc
            raise
        finally:
            self._migrating.pop(uuid, None)
        if not data.get("shared_storage"):
            disks.remove_dir(self._dir(instance))
        LOG.info("live-migrated %s from %s to %s (%s)", instance["uuid"], self.host, dest,
                 "shared storage" if data.get("shared_storage") else "block migration")
        post_method(context, instance, dest, data)

    def _migrate(self, dom, instance, dest, data):
        if data.get("shared_storage"):
            marker = os.path.join(self._dir(instance), data.get("shared_marker") or "-")
            if not os.path.isfile(marker):
                raise exception.VirtDriverError(
                    reason=f"{dest} has a directory of {instance['uuid']} that {self.host} "
                           "does not see (not shared storage: a leftover of an earlier "
                           "move there?)")
            os.unlink(marker)
        if data.get("dest_host_uuid") and data["dest_host_uuid"] == self._host_uuid():
            raise exception.VirtDriverError(
                reason=f"{self.host} and {dest} use one libvirt host (UUID "
                       f"{data['dest_host_uuid']}): a live migration needs the destination "
                       "on a libvirtd of its own ([libvirt] connection_uri)")
        addr = data.get("dest_addr") or dest
        uri = self.opts.live_migration_uri % addr if self.opts.live_migration_uri else \
            f"qemu+{self.opts.live_migration_scheme}://{addr}/system"
        # The memory goes to the destination's address (without the port
        # of its libvirtd); QEMU listens on a port of libvirt's choosing.
        memory_host = addr.rsplit(":", 1)[0] if addr.count(":") == 1 else addr
        xml = config.retarget(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE), dest,
                              self.instances_path,
                              data.get("dest_instances_path") or self.instances_path)
        params = {libvirt.VIR_MIGRATE_PARAM_URI: f"tcp://{memory_host}",
                  libvirt.VIR_MIGRATE_PARAM_DEST_XML: xml,
                  libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: xml}
        if self.opts.live_migration_bandwidth:
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = self.opts.live_migration_bandwidth
        flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
                 | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
        if self._state(dom) == libvirt.VIR_DOMAIN_PAUSED:
            flags |= libvirt.VIR_MIGRATE_PAUSED  # a paused server arrives paused
        if data.get("shared_storage"):
            # libvirt trusts only network filesystems as shared; the
            # destination found this instance's files in place itself.
            flags |= libvirt.VIR_MIGRATE_UNSAFE
        else:
            flags |= libvirt.VIR_MIGRATE_NON_SHARED_INC
            params[libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS] = config.writable_disk_targets(xml)
        outcome = {}

        def run():
            try:
                dom.migrateToURI3(uri, params, flags)
            except libvirt.libvirtError as exc:
                outcome["error"] = exc

        mover = threading.Thread(target=run, name=f"migrate-{instance['uuid']}", daemon=True)
        mover.start()
        self._watch_migration(dom, instance, mover, data)
        if "error" in outcome:
            raise _error(f"live migration of {dom.name()} to {dest} ({uri})",
                         outcome["error"])

    def _watch_migration(self, dom, instance, mover, data):
        """While the migration runs: report its progress, and abort it when
        it outlives [libvirt] live_migration_completion_timeout."""
        per_gib = self.opts.live_migration_completion_timeout
        size_gib = max(1, (instance.get("memory_mb") or 0) / 1024 + (
            0 if data.get("shared_storage") else (instance.get("root_gb") or 0)))
        deadline = time.monotonic() + per_gib * size_gib if per_gib else None
        while mover.is_alive():
            mover.join(0.5)
            if not mover.is_alive():
                break
            try:
                stats = dom.jobStats()
            except libvirt.libvirtError:
                continue
            self.emit_migration_progress(instance["uuid"], {
                k: stats.get(k) for k in ("memory_total", "memory_processed",
                                          "memory_remaining", "disk_total",
                                          "disk_processed", "disk_remaining")})
            if deadline is not None and time.monotonic() > deadline:
                LOG.warning("live migration of %s exceeded %s s: aborting it",
                            instance["uuid"], int(per_gib * size_gib))
                try:
                    dom.abortJob()
                except libvirt.libvirtError as exc:
                    LOG.warning("could not abort the migration of %s: %s", instance["uuid"],
                                exc.get_error_message())
                deadline = None

    def post_live_migration_at_destination(self, context, instance, network_info):
        """Destination, after the move: the guest runs here, defined (its
        metadata names this host); one paused only to force the move to
        complete runs again."""
        dom = self._domain(instance)
        if not dom.isPersistent():
            self._redefine(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), start=False)
        self._own_disks_again(dom)
        if instance.get("vm_state") != "paused" and \
                self._state(dom) == libvirt.VIR_DOMAIN_PAUSED:
            self._resume_quietly(dom)

    def rollback_live_migration_at_destination(self, context, instance, migrate_data):
        """The disks pre_live_migration made for a block migration that did
        not happen go (never shared files, nor a guest that runs here)."""
        if (migrate_data or {}).get("shared_storage", True):
            return
        if self._domain(instance, required=False) is not None:
            LOG.warning("%s has a domain on %s after a failed move: its files stay",
                        instance["uuid"], self.host)
            return
        disks.remove_dir(self._dir(instance))

    @staticmethod
    def _own_disks_again(dom):
        """On storage libvirt does not know as shared (one machine's files),
        the source's libvirtd gives the disks back to their first owner when
        the guest leaves it, under this host's QEMU: a guest that opens them
        again (one that moved paused opens them when it resumes) is refused.
        Give the writable disks to the user this host's QEMU runs as."""
        root = ET.fromstring(dom.XMLDesc(0))
        label = root.findtext("seclabel[@model='dac']/imagelabel") or \
            root.findtext("seclabel[@model='dac']/label") or ""
        try:
            uid, gid = (int(part.lstrip("+")) for part in label.split(":"))
        except ValueError:
            return  # no DAC labels (test://, or relabelling off)
        for target in config.writable_disk_targets(ET.tostring(root, encoding="unicode")):
            disk = root.find(f"devices/disk/target[@dev='{target}']/../source")
            path = disk.get("file") if disk is not None else None
            if path and os.path.exists(path) and os.stat(path).st_uid != uid:
                os.chown(path, uid, gid)

    @staticmethod
    def _resume_quietly(dom):
        try:
            dom.resume()
        except libvirt.libvirtError as exc:
            LOG.warning("could not resume %s: %s", dom.name(), exc.get_error_message())

    def _ask_migration(self, instance, what):
        """Note *what* was asked of the running migration of *instance*;
        its domain."""
        asked = self._migrating.get(instance["uuid"])
        if asked is None:
            raise exception.VirtDriverError(
                reason=f"no live migration of {instance['uuid']} runs on {self.host}")
        asked.add(what)
        return self._domain(instance)

    def live_migration_abort(self, instance):
        dom = self._ask_migration(instance, "abort")
        try:
            dom.abortJob()
        except libvirt.libvirtError as exc:
            raise _error(f"aborting the migration of {dom.name()}", exc) from None

    def live_migration_force_complete(self, instance):
        """Pause the guest: its memory stops changing, so the copy catches
        up and the move ends (on the destination it runs again); the
        bandwidth cap is lifted."""
        dom = self._ask_migration(instance, "force-complete")
        try:
            if self._state(dom) == libvirt.VIR_DOMAIN_RUNNING:
                dom.suspend()
            # "now": without live_migration_bandwidth's cap as well
            dom.migrateSetMaxSpeed(UNLIMITED_MIB_S, 0)
        except libvirt.libvirtError as exc:
            raise _error(f"pausing {dom.name()} to complete its migration", exc) from None

    # -------------------------------------------------------- diagnostics
    def get_diagnostics(self, instance):
        """The running guest's counters from libvirt, in the Compute API's
        standard diagnostics shape."""
        dom = self._domain(instance)
        try:
            state, max_kib, _, ncpus, _ = dom.info()
            xml = ET.fromstring(dom.XMLDesc(0))
            active = dom.isActive()
            cpus = dom.vcpus()[0] if active else []
            memory = dom.memoryStats() if active else {}
        except libvirt.libvirtError as exc:
            raise _error(f"reading the diagnostics of {dom.name()}", exc) from None
        nics, disk_details = [], []
        for iface in xml.findall("devices/interface"):
            mac = iface.find("mac")
            target = iface.find("target")
            stats = [None] * 8
            if active and target is not None:
                try:
                    stats = list(dom.interfaceStats(target.get("dev")))
                except libvirt.libvirtError:
                    pass
            nics.append({"mac_address": mac.get("address") if mac is not None else None,
                         "rx_octets": stats[0], "rx_packets": stats[1], "rx_errors": stats[2],
                         "rx_drop": stats[3], "tx_octets": stats[4], "tx_packets": stats[5],
                         "tx_errors": stats[6], "tx_drop": stats[7], "rx_rate": None,
                         "tx_rate": None})
        for disk in xml.findall("devices/disk"):
            target = disk.find("target")
            stats = [None] * 5
            if active and target is not None:
                try:
                    stats = list(dom.blockStats(target.get("dev")))
                except libvirt.libvirtError:
                    pass
            disk_details.append({"read_requests": stats[0], "read_bytes": stats[1],
                                 "write_requests": stats[2], "write_bytes": stats[3],
                                 "errors_count": stats[4]})
        power = self.get_info(instance).state
        names = {PowerState.RUNNING: "running", PowerState.PAUSED: "paused",
                 PowerState.SHUTDOWN: "shutdown", PowerState.CRASHED: "crashed",
                 PowerState.SUSPENDED: "suspended"}
        used = memory.get("rss")
        return {
            "state": names.get(power, "pending"), "driver": "libvirt",
            "hypervisor": self.virt_type, "hypervisor_os": "linux", "uptime": None,
            "config_drive": os.path.exists(os.path.join(self._dir(instance), CONFIG_DRIVE)),
            "num_cpus": ncpus, "num_nics": len(nics), "num_disks": len(disk_details),
            "cpu_details": [{"id": c[0], "time": c[2], "utilisation": None} for c in cpus],
            "nic_details": nics, "disk_details": disk_details,
            "memory_details": {"maximum": max_kib // 1024,
                               "used": used // 1024 if used is not None else None},
        }

    def get_host_uptime(self):
        """What ``uptime`` prints, for a hypervisor on this machine."""
        if not self._host.uri.startswith(("qemu:///", "kvm:///")):
            return None
        try:
            proc = subprocess.run(["uptime"], capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() or None

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

    def manage_image_cache(self) -> list[str]:
        """Remove the cached bases no instance uses any more (after
        [libvirt] remove_unused_original_minimum_age_seconds)."""
        if not self.opts.remove_unused_base_images:
            return []
        return self.image_cache.cleanup(self.opts.remove_unused_original_minimum_age_seconds)

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
