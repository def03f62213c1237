"""os-interface on the libvirt driver: NICs plugged into and out of a
guest, live and in its definition.
"""
from __future__ import annotations

import time

import libvirt

from compute_core import exception
from compute_core_plugins.virt.libvirt import config
from compute_core_plugins.virt.libvirt.domains import DomainOps, _error


class InterfaceMixin(DomainOps):
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
