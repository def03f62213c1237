"""Resize and cold migration on the libvirt driver: the source keeps the
powered-off guest's disks and definition in ``<uuid>_resize``, which a
destination that shares instances_path copies from, and a revert brings back.
"""
from __future__ import annotations

import os
import shutil

import libvirt

from compute_core import exception
from compute_core_plugins.virt.libvirt import config, disks
from compute_core_plugins.virt.libvirt.domains import (CONFIG_DRIVE, RESIZE_SUFFIX, SAVED_XML,
                                                       _error, _undefine)
from compute_core_plugins.virt.libvirt.guest_build import GuestBuildMixin


class MigrationMixin(GuestBuildMixin):
    def migrate_disk_and_power_off(self, context, instance, dest, flavor, network_info):
        """Power off (the compute service has shut the guest down cleanly
        already: what is still running is forced), keep the disks and
        definition in ``<uuid>_resize`` (what a revert brings back) and
        undefine the domain."""
        new_root = flavor.get("root_gb") or 0
        if new_root and new_root < (instance.get("root_gb") or 0):
            raise exception.VirtDriverError(
                reason=f"the root disk cannot shrink from {instance.get('root_gb')} GiB to "
                       f"{new_root} GiB")
        dom = self._domain(instance)
        self.power_off(instance)
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
