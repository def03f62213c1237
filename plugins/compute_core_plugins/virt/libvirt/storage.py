"""Disks of a running guest: snapshots of its root disk, second disks
attached and detached, and the base image cache's cleaning.
"""
from __future__ import annotations

import os
import time

import libvirt

from compute_core import exception
from compute_core_plugins.virt.libvirt import config, disks
from compute_core_plugins.virt.libvirt.domains import DomainOps, _error


class StorageMixin(DomainOps):
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

    def manage_image_cache(self) -> list[str]:
        """Remove the cached bases no instance uses any more (after
        [libvirt] remove_unused_original_minimum_age_seconds)."""
        if not self.opts.remove_unused_base_images:
            return []
        return self.image_cache.cleanup(self.opts.remove_unused_original_minimum_age_seconds)
