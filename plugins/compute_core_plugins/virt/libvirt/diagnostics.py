"""A guest's diagnostics (the Compute API's standard shape, from libvirt's
counters) and the host's uptime.
"""
from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET

import libvirt

from compute_core.virt.driver import PowerState
from compute_core_plugins.virt.libvirt.domains import CONFIG_DRIVE, DomainOps, _error


class DiagnosticsMixin(DomainOps):
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
