"""What every part of the libvirt driver shares: the names of our domains
and of the files in an instance directory, libvirt errors as the driver's,
and :class:`DomainOps`, the driver's ways to find, start, stop, redefine and
remove a domain (the base of the driver's parts, see :mod:`.driver`).
"""
from __future__ import annotations

import logging
import time

import libvirt

from compute_core import exception
from compute_core_plugins.virt.libvirt import config, disks

LOG = logging.getLogger(__name__)

NAME_PREFIX = "instance-"
CONSOLE_LOG = "console.log"
RESIZE_SUFFIX = "_resize"
SAVED_XML = "domain.xml"
CONFIG_DRIVE = "disk.config"
UNDEFINE_FLAGS = (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                  | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                  | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)


def domain_name(uuid: str) -> str:
    return NAME_PREFIX + uuid


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


class DomainOps:
    """The libvirt driver's helpers for its own domains. Its parts (mixins)
    use the attributes :class:`~.driver.LibvirtDriver` sets: ``conf``,
    ``host``, ``opts`` (``[libvirt]``), ``instances_path``, ``images``,
    ``_host`` (the :class:`~.host.Host`)."""

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

    def _acpi_shutdown(self, dom, timeout) -> bool:
        """Press the guest's ACPI power button and wait up to *timeout*
        seconds for it to be off; whether it is (a guest without an ACPI
        handler ignores the button). What stop and a soft reboot try first."""
        try:
            dom.shutdown()
        except libvirt.libvirtError as exc:
            LOG.info("ACPI shutdown of %s refused (%s)", dom.name(), exc.get_error_message())
            return False
        if self._wait_for(dom, (libvirt.VIR_DOMAIN_SHUTOFF,), timeout):
            LOG.info("%s shut down cleanly", dom.name())
            return True
        LOG.info("%s did not shut down in %s s", dom.name(), timeout)
        return False

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

    def _redefine(self, xml, start):
        try:
            dom = self._host.get_connection().defineXML(xml)
        except libvirt.libvirtError as exc:
            raise _error("defining the domain", exc) from None
        if start:
            self._start(dom, "starting")
        return dom

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
