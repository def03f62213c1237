"""The disks and the :class:`~.config.GuestSpec` of a guest: what spawn,
rescue, a cold migration's destination and a block migration's destination
make from the instance, its flavor and its image's properties.
"""
from __future__ import annotations

import os
import shutil
import time

from compute_core import exception
from compute_core_plugins.virt.libvirt import config, configdrive, disks
from compute_core_plugins.virt.libvirt.domains import (CONFIG_DRIVE, CONSOLE_LOG, DomainOps,
                                                       domain_name)


class GuestBuildMixin(DomainOps):
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

