"""The fake virt driver: guests live in a dict, per host, in memory, and
with ``[fake_driver] guests_path`` also in a JSON file per host that the
next driver of that host reads back: guests outlive a restart of the compute
service (or of the whole process), as a hypervisor's do.

Host size comes from ``[fake_driver]``. Faults can be injected two ways:

* a server metadata key (``[fake_driver] fail_metadata_key``, default
  ``fake_fail``) whose value names the operations to fail, comma separated
  (``spawn``, ``destroy``, ``power_off``, ``power_on``, ``reboot``...);
* from Python, :meth:`FakeDriver.inject_fault` and :attr:`spawn_delay`.

A guest obeys ACPI shutdown requests at once (clean shutdowns and soft
reboots); one with server metadata ``fake_acpi=ignore`` (or
:meth:`FakeDriver.ignore_acpi`) ignores them, so the compute service waits
its timeouts out and then forces.

Each running guest has real console endpoints on 127.0.0.1 (a VNC server
and a serial port of its own, see :mod:`.fake_console`), opened at spawn
and closed when it is destroyed or moved away; ``get_console_connection``
returns them. SPICE is not spoken: those consoles are refused.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import threading
import time

from compute_core import clock, exception
from compute_core.virt.driver import ComputeDriver, HostResources, InstanceInfo, PowerState
from compute_core_plugins.virt.fake_console import GuestConsoles

# Server metadata: "fake_acpi": "ignore" makes the guest ignore ACPI requests.
ACPI_METADATA_KEY = "fake_acpi"
# Bytes of the pattern after a fake disk's header.
DISK_BYTES = 4096
# How a fake disk starts.
DISK_MAGIC = b"compute_core fake disk\n"
_PATTERN_BYTES = DISK_BYTES // 32 * 32  # whole sha256 digests


def _nics(network_info) -> list[dict]:
    """The NICs a guest is made with: one per address of its network_info
    (the port ids are os-interface's, known only to a NIC it plugged)."""
    return [{"mac": a["OS-EXT-IPS-MAC:mac_addr"], "port_id": None}
            for addrs in (network_info or {}).values() for a in addrs
            if a.get("OS-EXT-IPS-MAC:mac_addr")]


class FakeDriver(ComputeDriver):
    capabilities = {
        "supports_pause": True,
        "supports_suspend": True,
        "supports_rescue": True,
        "supports_snapshot": True,
        "supports_resize": True,
        "supports_migrate": True,
        "supports_live_migration": True,
        "supports_rebuild": True,
        "supports_evacuate": True,
        "supports_set_admin_password": True,
        "supports_trigger_crash_dump": True,
        "supports_console_vnc": True,
        "supports_console_spice": False,
        "supports_console_serial": True,
        "supports_console_log": True,
        "supports_host_power": True,
        "supports_host_maintenance": True,
        "supports_diagnostics": True,
        "supports_image_cache": True,
        "supports_attach_interface": True,
    }

    def __init__(self, conf, host):
        super().__init__(conf, host)
        opts = conf.fake_driver
        self.vcpus = opts.vcpus
        self.memory_mb = opts.memory_mb
        self.disk_gb = opts.disk_gb
        self.spawn_delay = opts.spawn_delay
        self._started = time.monotonic()
        self.cached_images: set[str] = set()
        self.capabilities = dict(self.capabilities,
                                 supports_migrate_to_same_host=opts.migrate_to_same_host)
        self.instances: dict[str, dict] = {}
        # Source copies of guests being moved (resized or migrated) away,
        # until the move is confirmed (dropped) or reverted (running again).
        self.moving_out: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._unsaved = False  # guests changed by load_state, file not yet written
        self._faults: dict[str, list] = {}  # operation -> [(instance uuid or None, count)]
        self.calls: list[tuple[str, str]] = []
        # The timeout of each guest's last power_off (what a test checks).
        self.power_off_timeouts: dict[str, int] = {}
        self._guests_file = os.path.join(opts.guests_path, f"{host}.json") \
            if opts.guests_path else None
        self.consoles = GuestConsoles(host)
        self._load_guests()

    # ------------------------------------------------------------ guests
    def _load_guests(self):
        if self._guests_file is None or not os.path.exists(self._guests_file):
            return
        with open(self._guests_file) as f:
            saved = json.load(f)
        for table, guests in ((self.instances, saved.get("instances", {})),
                              (self.moving_out, saved.get("moving_out", {}))):
            for uuid, guest in guests.items():
                table[uuid] = dict(guest, state=PowerState(guest["state"]))

    def _save_guests(self):
        """Write the guests out (called with self._lock held after each
        change): a new file renamed over the old one, so that a process
        killed meanwhile leaves the previous or the new state, never half."""
        self._unsaved = False
        if self._guests_file is None:
            return
        os.makedirs(os.path.dirname(self._guests_file), exist_ok=True)
        tmp = f"{self._guests_file}.{threading.get_ident()}.tmp"
        with open(tmp, "w") as f:
            json.dump({"instances": self.instances, "moving_out": self.moving_out}, f)
        os.replace(tmp, self._guests_file)

    def set_host_size(self, vcpus=None, memory_mb=None, disk_gb=None):
        for attr, value in (("vcpus", vcpus), ("memory_mb", memory_mb), ("disk_gb", disk_gb)):
            if value is not None:
                setattr(self, attr, value)

    # ------------------------------------------------------------ state
    def save_state(self):
        with self._lock:
            return copy.deepcopy({"instances": self.instances, "moving_out": self.moving_out,
                                  "size": (self.vcpus, self.memory_mb, self.disk_gb),
                                  "spawn_delay": self.spawn_delay})

    def load_state(self, state) -> None:
        with self._lock:
            self.vcpus, self.memory_mb, self.disk_gb = state["size"]
            self.spawn_delay = state["spawn_delay"]
            self._faults.clear()
            self.calls.clear()
            self.power_off_timeouts.clear()
            if (self.instances, self.moving_out) == (state["instances"], state["moving_out"]):
                return  # unchanged: no copy, no file written
            state = copy.deepcopy(state)
            self.instances = state["instances"]
            self.moving_out = state["moving_out"]
            # The guests file is written at the next change or when the
            # host stops, not here: a restore per test would pay a file
            # replace each time (milliseconds on a busy disk).
            self._unsaved = True

    # ---------------------------------------------------- fault injection
    def inject_fault(self, operation: str, instance_uuid: str | None = None,
                     count: int | None = None, message: str | None = None) -> None:
        """Make *operation* fail (for one instance, or all when None), for the
        next *count* calls (None: until cleared)."""
        with self._lock:
            self._faults.setdefault(operation, []).append(
                {"uuid": instance_uuid, "count": count,
                 "message": message or f"Injected {operation} failure"})

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _check_fault(self, operation: str, instance: dict) -> None:
        self.calls.append((operation, instance.get("uuid")))
        wanted = (instance.get("metadata") or {}).get(self.conf.fake_driver.fail_metadata_key)
        if wanted and operation in [w.strip() for w in wanted.split(",")]:
            raise exception.VirtDriverError(reason=f"Injected {operation} failure on {self.host}")
        with self._lock:
            for fault in self._faults.get(operation, []):
                if fault["uuid"] in (None, instance.get("uuid")) and fault["count"] != 0:
                    if fault["count"] is not None:
                        fault["count"] -= 1
                    raise exception.VirtDriverError(reason=fault["message"])

    def _guest(self, instance):
        try:
            return self.instances[instance["uuid"]]
        except KeyError:
            raise exception.InstanceNotFound(instance_id=instance["uuid"]) from None

    def _set_state(self, instance, state, log=None, **changes):
        guest = self._guest(instance)
        with self._lock:
            guest.update(changes, state=state)
            if log:
                guest.setdefault("console", []).append(f"{log}\n")
            self._save_guests()

    def _log(self, instance, line):
        """A line of the guest's console log (what get_console_output reads):
        the fake guests write one per lifecycle event."""
        guest = self._guest(instance)
        with self._lock:
            guest.setdefault("console", []).append(f"{line}\n")
            self._save_guests()

    # ----------------------------------------------------------- lifecycle
    def init_host(self):
        pass

    def cleanup_host(self):
        self.consoles.stop()
        with self._lock:
            if self._unsaved:
                self._save_guests()

    def _open_consoles(self, instance) -> dict:
        uuid = instance["uuid"]

        def log():
            with self._lock:
                return list(self.instances.get(uuid, {}).get("console", []))

        return self.consoles.open(uuid, instance.get("display_name") or uuid, log)

    def list_instances(self):
        with self._lock:
            return list(self.instances)

    def spawn(self, context, instance, image_meta, network_info, admin_password=None):
        if self.spawn_delay:
            clock.current().sleep(self.spawn_delay)
        self._check_fault("spawn", instance)
        written = self._written_in_image(image_meta)
        with self._lock:
            self.instances[instance["uuid"]] = {
                "state": PowerState.RUNNING, "vcpus": instance["vcpus"],
                "memory_mb": instance["memory_mb"],
                "disk_gb": (instance.get("root_gb") or 0) + (instance.get("ephemeral_gb") or 0),
                "image": image_meta.get("id"), "written": written.hex(),
                "nics": _nics(network_info),
                "console": [f"{instance['uuid']} booted from image {image_meta.get('id')}\n"]}
            self._save_guests()
        self._open_consoles(instance)

    def _written_in_image(self, image_meta) -> bytes:
        """What a guest had written on the disk an image was captured from
        (a snapshot, backup or shelve of a fake guest), read through the
        image backend: the new guest's disk carries it on. Other images
        (no fake disk inside) carry nothing."""
        props = image_meta.get("properties") or {}
        if self.image_backend is None or not image_meta.get("id") or \
                props.get("image_type") not in ("snapshot", "backup"):
            return b""
        images = self.image_backend()
        with open(images.path(image_meta["id"]), "rb") as f:
            data = f.read()
        if not data.startswith(DISK_MAGIC):
            return b""
        head_end = data.index(b"\n", data.index(b"\nimage ") + 1) + 1
        return data[head_end + _PATTERN_BYTES:]

    def destroy(self, context, instance, network_info, destroy_disks=True):
        self._check_fault("destroy", instance)
        with self._lock:
            self.instances.pop(instance["uuid"], None)
            self._save_guests()
        self.consoles.close(instance["uuid"])

    def rebuild(self, context, instance, image_meta, network_info):
        self._check_fault("rebuild", instance)
        self._set_state(instance, PowerState.RUNNING, image=image_meta.get("id"), written="",
                        log=f"rebuilt from image {image_meta.get('id')}")

    def disk(self, instance_uuid: str) -> bytes:
        """The guest's root disk: small and deterministic (its instance and
        the image it booted from, then a pattern derived from both), then
        what the guest wrote on it (:meth:`write_disk`), so a snapshot
        carries real bytes a test can compare."""
        guest = self._guest({"uuid": instance_uuid})
        head = (DISK_MAGIC + f"instance {instance_uuid}\nimage {guest.get('image')}\n".encode())
        seed = hashlib.sha256(head).digest()
        return head + seed * (DISK_BYTES // len(seed)) + bytes.fromhex(guest.get("written", ""))

    def write_disk(self, instance_uuid: str, data: bytes) -> None:
        """What a process in the guest writes to its root disk (appended
        after the pattern): it goes wherever the disk goes."""
        guest = self._guest({"uuid": instance_uuid})
        with self._lock:
            guest["written"] = guest.get("written", "") + data.hex()
            self._save_guests()

    def snapshot(self, context, instance, image_id, upload):
        self._check_fault("snapshot", instance)
        upload(io.BytesIO(self.disk(instance["uuid"])))

    def rescue(self, context, instance, network_info, image_meta, rescue_password):
        self._check_fault("rescue", instance)
        self._set_state(instance, PowerState.RUNNING, rescued=True,
                        log=f"rescue boot from image {(image_meta or {}).get('id')}")

    def unrescue(self, context, instance):
        self._check_fault("unrescue", instance)
        self._set_state(instance, PowerState.RUNNING, rescued=False, log="booted from its disk")

    def attach_interface(self, context, instance, image_meta, vif):
        self._check_fault("attach_interface", instance)
        guest = self._guest(instance)
        with self._lock:
            nics = guest.setdefault("nics", [])
            if any(nic["mac"] == vif["mac_address"] for nic in nics):
                raise exception.VirtDriverError(
                    reason=f"the guest has a NIC with MAC {vif['mac_address']} already")
            nics.append({"mac": vif["mac_address"], "port_id": vif["id"]})
            self._save_guests()
        self._log(instance, f"NIC {vif['mac_address']} plugged")

    def detach_interface(self, context, instance, vif):
        self._check_fault("detach_interface", instance)
        guest = self._guest(instance)
        with self._lock:
            nics = guest.get("nics") or []
            guest["nics"] = [nic for nic in nics if nic["mac"] != vif["mac_address"]]
            unplugged = len(guest["nics"]) < len(nics)
            self._save_guests()
        if unplugged:
            self._log(instance, f"NIC {vif['mac_address']} unplugged")

    def set_admin_password(self, instance, new_pass):
        self._check_fault("set_admin_password", instance)
        self._guest(instance)
        self._log(instance, "administrator password changed")

    def trigger_crash_dump(self, instance):
        self._check_fault("trigger_crash_dump", instance)
        self._log(instance, "NMI received: kernel panic, dumping memory")

    # --------------------------------------------------------------- power
    def get_info(self, instance):
        return InstanceInfo(state=self._guest(instance)["state"], internal_id=instance["uuid"])

    def power_off(self, instance, timeout=0, retry_interval=0):
        self._check_fault("power_off", instance)
        self.power_off_timeouts[instance["uuid"]] = timeout
        self._set_state(instance, PowerState.SHUTDOWN, log="powered off")

    def request_shutdown(self, instance, reboot=False):
        """The guest shuts down at once, unless it ignores ACPI (server
        metadata ``fake_acpi=ignore``, or :meth:`ignore_acpi`)."""
        guest = self._guest(instance)
        if guest["state"] != PowerState.RUNNING:
            return False  # only a running guest listens
        ignores = guest.get("ignores_acpi") or \
            (instance.get("metadata") or {}).get(ACPI_METADATA_KEY) == "ignore"
        if ignores:
            self._log(instance, "ACPI shutdown request ignored")
        else:
            self._set_state(instance, PowerState.SHUTDOWN, log="ACPI shutdown")
        return True

    def ignore_acpi(self, instance_uuid: str, ignore: bool = True) -> None:
        """Make the guest ignore (or obey again) ACPI shutdown requests: a
        clean shutdown then waits out [DEFAULT] shutdown_timeout and a soft
        reboot [libvirt] wait_soft_reboot_seconds."""
        guest = self._guest({"uuid": instance_uuid})
        with self._lock:
            guest["ignores_acpi"] = ignore
            self._save_guests()

    def power_on(self, context, instance, network_info):
        self._check_fault("power_on", instance)
        self._set_state(instance, PowerState.RUNNING, log="powered on")

    def reboot(self, context, instance, network_info, reboot_type):
        self._check_fault("reboot", instance)
        self._set_state(instance, PowerState.RUNNING, log=f"{reboot_type.lower()} reboot")

    def pause(self, instance):
        self._check_fault("pause", instance)
        self._set_state(instance, PowerState.PAUSED, log="paused")

    def unpause(self, instance):
        self._check_fault("unpause", instance)
        self._set_state(instance, PowerState.RUNNING, log="unpaused")

    def suspend(self, context, instance):
        self._check_fault("suspend", instance)
        self._set_state(instance, PowerState.SUSPENDED, log="suspended")

    def resume(self, context, instance, network_info):
        self._check_fault("resume", instance)
        self._set_state(instance, PowerState.RUNNING, log="resumed")

    # ----------------------------------------------------------- migration
    def migrate_disk_and_power_off(self, context, instance, dest, flavor, network_info):
        self._check_fault("migrate", instance)
        self._set_state(instance, PowerState.SHUTDOWN)
        with self._lock:
            guest = self.instances.pop(instance["uuid"], None)
            if guest is not None:
                self.moving_out[instance["uuid"]] = guest
            self._save_guests()
        self.consoles.close(instance["uuid"])
        return {"source": self.host}

    def finish_migration(self, context, migration, instance, disk_info, network_info,
                         image_meta, resize_instance, power_on=True):
        self._check_fault("finish_migration", instance)
        with self._lock:
            self.instances[instance["uuid"]] = {
                "state": PowerState.RUNNING if power_on else PowerState.SHUTDOWN,
                "vcpus": instance["vcpus"], "memory_mb": instance["memory_mb"],
                "disk_gb": instance.get("root_gb") or 0, "image": instance.get("image_ref"),
                "nics": _nics(network_info), "console": [f"migrated to {self.host}\n"]}
            self._save_guests()
        self._open_consoles(instance)

    def confirm_migration(self, context, migration, instance, network_info):
        with self._lock:
            self.moving_out.pop(instance["uuid"], None)
            self._save_guests()

    def finish_revert_migration(self, context, instance, network_info, migration, power_on=True):
        with self._lock:
            guest = self.moving_out.pop(instance["uuid"], None)
            if guest is not None:
                self.instances[instance["uuid"]] = guest
            self._save_guests()
        if guest is not None:
            self._open_consoles(instance)
        self._set_state(instance, PowerState.RUNNING if power_on else PowerState.SHUTDOWN)

    def pre_live_migration(self, context, instance, network_info, migrate_data):
        return dict(migrate_data or {})

    def live_migration(self, context, instance, dest, post_method, recover_method, migrate_data):
        try:
            self._check_fault("live_migration", instance)
        except exception.VirtDriverError:
            recover_method(context, instance, dest, migrate_data)
            raise
        with self._lock:
            self.instances.pop(instance["uuid"], None)
            self._save_guests()
        self.consoles.close(instance["uuid"])
        post_method(context, instance, dest, migrate_data)

    def post_live_migration_at_destination(self, context, instance, network_info):
        paused = instance.get("vm_state") == "paused"  # a paused guest moves paused
        with self._lock:
            self.instances[instance["uuid"]] = {
                "state": PowerState.PAUSED if paused else PowerState.RUNNING, "vcpus": instance["vcpus"],
                "memory_mb": instance["memory_mb"], "disk_gb": instance.get("root_gb") or 0,
                "image": instance.get("image_ref"),
                "console": [f"live-migrated to {self.host}\n"]}
            self._save_guests()
        self._open_consoles(instance)

    # ------------------------------------------------------------- console
    CONSOLE_KINDS = {"novnc": "vnc", "vnc": "vnc", "serial": "serial"}

    def get_console_connection(self, context, instance, console_type):
        self._guest(instance)
        kind = self.CONSOLE_KINDS.get(console_type)
        if kind is None:
            self._unsupported(f"{console_type} consoles")
        # A guest read back after a restart opens its ports on first use.
        ports = self.consoles.ports(instance["uuid"]) or self._open_consoles(instance)
        return {"host": self.consoles.listen, "port": ports[kind],
                "internal_access_path": None}

    def get_console_output(self, context, instance):
        return "".join(self._guest(instance)["console"])

    # ----------------------------------------------------------- resources
    def get_available_resource(self):
        with self._lock:
            # A guest moving out still holds its resources until confirmed.
            guests = list(self.instances.values()) + list(self.moving_out.values())
        return HostResources(
            vcpus=self.vcpus, memory_mb=self.memory_mb, local_gb=self.disk_gb,
            hypervisor_type="fake", hypervisor_version=1000, hypervisor_hostname=self.host,
            cpu_info='{"arch": "x86_64", "model": "fake", "vendor": "compute_core"}',
            vcpus_used=sum(g["vcpus"] for g in guests),
            memory_mb_used=sum(g["memory_mb"] for g in guests),
            local_gb_used=sum(g["disk_gb"] for g in guests))

    def update_provider_tree(self, provider_tree, nodename):
        provider_tree["traits"].update({"COMPUTE_NET_ATTACH_INTERFACE", "HW_CPU_X86_SSE2"})

    def cache_image(self, context, image):
        # The simulated host keeps the ids of the images it has cached.
        with self._lock:
            if image["id"] in self.cached_images:
                return False
            self.cached_images.add(image["id"])
        return True

    def get_diagnostics(self, instance):
        guest = self._guest(instance)
        state = {PowerState.RUNNING: "running", PowerState.PAUSED: "paused",
                 PowerState.SUSPENDED: "suspended", PowerState.SHUTDOWN: "shutdown",
                 PowerState.CRASHED: "crashed"}.get(guest["state"], "pending")
        nics = [{"mac_address": a.get("OS-EXT-IPS-MAC:mac_addr"), "rx_octets": 0,
                 "rx_errors": 0, "rx_drop": 0, "rx_packets": 0, "rx_rate": None,
                 "tx_octets": 0, "tx_errors": 0, "tx_drop": 0, "tx_packets": 0,
                 "tx_rate": None}
                for net in (instance.get("network_info") or {}).values() for a in net]
        return {
            # The standard shape's "driver" is one of the API's known driver
            # families (libvirt, xenapi, vmwareapi, ironic, hyperv): a
            # simulated guest presents as libvirt's, as Nova's fake driver does.
            "state": state, "driver": "libvirt", "hypervisor": "fake",
            "hypervisor_os": "linux",
            "uptime": int(time.time() - guest.setdefault("started", time.time())),
            "config_drive": bool(instance.get("config_drive")),
            "num_cpus": guest["vcpus"], "num_nics": len(nics), "num_disks": 1,
            "cpu_details": [{"id": i, "time": 0, "utilisation": None}
                            for i in range(guest["vcpus"])],
            "nic_details": nics,
            "disk_details": [{"read_bytes": 0, "read_requests": 0, "write_bytes": 0,
                              "write_requests": 0, "errors_count": 0}],
            "memory_details": {"maximum": guest["memory_mb"], "used": 0},
        }

    # ---------------------------------------------------------------- host
    def get_host_uptime(self):
        # A simulated host has been up since its driver started.
        up = int(time.monotonic() - self._started)
        days, rest = divmod(up, 86400)
        hours, rest = divmod(rest, 3600)
        clock = time.strftime("%H:%M:%S", time.gmtime())
        return (f" {clock} up {days} days, {hours:2d}:{rest // 60:02d},  1 user,  "
                f"load average: 0.00, 0.00, 0.00")

    def host_power_action(self, action):
        return action

    def host_maintenance_mode(self, host, mode):
        return "on_maintenance" if mode else "off_maintenance"
