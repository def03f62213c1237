"""The libvirt connection of one compute host, and what it says about the host.

:class:`Host` opens the connection lazily and again whenever libvirt reports
it closed (libvirtd restarted), registers the lifecycle event callback on
every new connection, and answers the host questions: virt type, resources,
CPU model and features, hypervisor type and version.

libvirt's event loop is process-wide by libvirt's own design
(``virEventRegisterDefaultImpl`` may be called once, before any connection):
:func:`start_event_loop` starts it once, in one daemon thread, for every
driver of the process.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import xml.etree.ElementTree as ET

import libvirt
import os_traits

from compute_core import exception
from compute_core.virt.driver import PowerState

LOG = logging.getLogger(__name__)

_EVENT_LOOP_LOCK = threading.Lock()
_EVENT_LOOP_STARTED = False


def start_event_loop() -> None:
    """Register libvirt's default event implementation and run it in a
    daemon thread (once per process: libvirt allows no second one)."""
    global _EVENT_LOOP_STARTED
    with _EVENT_LOOP_LOCK:
        if _EVENT_LOOP_STARTED:
            return
        libvirt.virEventRegisterDefaultImpl()
        # libvirt prints every error on stderr by default; the driver turns
        # the ones that matter into exceptions and log lines itself.
        libvirt.registerErrorHandler(lambda ctx, err: None, None)

        def run():
            while True:
                try:
                    libvirt.virEventRunDefaultImpl()
                except Exception:  # never let the loop die: events would stop
                    LOG.exception("libvirt event loop iteration failed")

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _EVENT_LOOP_STARTED = True


# libvirt's domain states (virDomainState) as the Compute API's power states.
POWER_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: PowerState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: PowerState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.SUSPENDED,
}

# Lifecycle events (virDomainEventType) as the power state they leave.
EVENT_STATES = {
    libvirt.VIR_DOMAIN_EVENT_STARTED: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_EVENT_RESUMED: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: PowerState.PAUSED,
    libvirt.VIR_DOMAIN_EVENT_STOPPED: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_EVENT_CRASHED: PowerState.CRASHED,
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: PowerState.SUSPENDED,
}


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def kvm_usable(conn) -> tuple[bool, str]:
    """Whether kvm guests really run here, and why not. /dev/kvm alone
    proves nothing: on some nested or emulated machines it exists without
    vmx/svm and a kvm guest hangs after real-mode set-up."""
    if not os.path.exists("/dev/kvm"):
        return False, "/dev/kvm does not exist"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm is not readable and writable"
    flags = _cpu_flags()
    if not flags & {"vmx", "svm"}:
        return False, "/dev/kvm exists but the CPU has no vmx/svm flag (no hardware " \
                      "virtualisation reaches this machine)"
    try:
        conn.getDomainCapabilities(None, "x86_64", None, "kvm", 0)
    except libvirt.libvirtError as exc:
        return False, f"libvirt refuses kvm domains: {exc.get_error_message()}"
    return True, "/dev/kvm is usable and the CPU has " + \
        ("vmx" if "vmx" in flags else "svm")


class Host:
    """The connection to libvirt of one compute host."""

    def __init__(self, uri: str, event_handler=None):
        self.uri = uri
        self._event_handler = event_handler  # (domain name, PowerState) -> None
        self._conn = None
        self._lock = threading.RLock()
        self._event_cb_id = None
        self._stopping = False

    # ------------------------------------------------------- connection
    def get_connection(self):
        """The open connection, opened (again) if it is missing or dead."""
        with self._lock:
            conn = self._conn
            if conn is not None:
                try:
                    if conn.isAlive():
                        return conn
                except libvirt.libvirtError:
                    pass
                LOG.warning("connection to %s lost: reconnecting", self.uri)
                self._drop(conn)
            return self._connect()

    def _connect(self):
        self._stopping = False
        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError as exc:
            raise exception.VirtDriverError(
                reason=f"cannot connect to libvirt at {self.uri}: "
                       f"{exc.get_error_message()}") from None
        try:
            conn.registerCloseCallback(self._on_close, None)
        except libvirt.libvirtError:
            pass  # drivers without close callbacks (test://) never close
        if self._event_handler is not None:
            try:
                self._event_cb_id = conn.domainEventRegisterAny(
                    None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None)
            except libvirt.libvirtError as exc:
                LOG.warning("no lifecycle events from %s: %s", self.uri,
                            exc.get_error_message())
        self._conn = conn
        LOG.info("connected to %s (%s %s)", self.uri, conn.getType(),
                 _version_text(conn.getVersion()))
        return conn

    def _on_close(self, conn, reason, opaque):
        LOG.warning("libvirt closed the connection to %s (reason %s): reconnecting",
                    self.uri, reason)
        with self._lock:
            if self._conn is not conn:
                return
            self._conn = None
            stopping = self._stopping
        if not stopping and self._event_handler is not None:
            # Lifecycle events come only over an open connection: reopen it
            # now rather than at the next call (in a thread: this callback
            # runs in the event loop, which the new connection needs).
            threading.Thread(target=self._reconnect, name="libvirt-reconnect",
                             daemon=True).start()

    def _reconnect(self):
        delay = 0.5
        while not self._stopping:
            try:
                self.get_connection()
                return
            except exception.VirtDriverError as exc:
                LOG.warning("%s; trying again in %.0f s", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30)

    def _drop(self, conn):
        self._conn = None
        try:
            conn.close()
        except libvirt.libvirtError:
            pass

    def close(self):
        with self._lock:
            self._stopping = True
            conn, self._conn = self._conn, None
        if conn is not None:
            for undo in ((lambda: conn.domainEventDeregisterAny(self._event_cb_id))
                         if self._event_cb_id is not None else None,
                         conn.unregisterCloseCallback):
                try:
                    if undo is not None:
                        undo()
                except libvirt.libvirtError:
                    pass
            try:
                conn.close()
            except libvirt.libvirtError:
                pass

    def _on_lifecycle(self, conn, dom, event, detail, opaque):
        state = EVENT_STATES.get(event)
        if state is None or self._event_handler is None:
            return
        if event == libvirt.VIR_DOMAIN_EVENT_SUSPENDED and detail in (
                libvirt.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED,
                libvirt.VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY):
            return  # a moment of a migration, not a pause
        try:
            self._event_handler(dom.name(), state)
        except Exception:
            LOG.exception("lifecycle event handler failed for %s", dom.name())

    # ------------------------------------------------------------ domains
    def lookup(self, name):
        """The domain *name*, or None."""
        try:
            return self.get_connection().lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    def all_domains(self):
        return self.get_connection().listAllDomains(0)

    # --------------------------------------------------------------- host
    def detect_virt_type(self, wanted: str) -> str:
        conn = self.get_connection()
        if conn.getType() != "QEMU":
            return "qemu" if wanted == "auto" else wanted  # test:// and friends
        usable, why = kvm_usable(conn)
        if wanted == "kvm" and not usable:
            raise exception.ConfigError(f"[libvirt] virt_type = kvm, but KVM is not usable "
                                        f"here: {why}; use virt_type = qemu (or auto)")
        if wanted == "auto":
            return "kvm" if usable else "qemu"
        return wanted

    def capabilities(self) -> ET.Element:
        return ET.fromstring(self.get_connection().getCapabilities())

    def cpu_info(self) -> dict:
        """arch, model, vendor, topology and features of the host CPU."""
        cpu = self.capabilities().find("host/cpu")
        if cpu is None:
            return {}
        topo = cpu.find("topology")
        return {"arch": cpu.findtext("arch"), "model": cpu.findtext("model"),
                "vendor": cpu.findtext("vendor"),
                "topology": {k: int(v) for k, v in (topo.attrib.items() if topo is not None
                                                    else ()) if v.isdigit()},
                "features": sorted(f.get("name") for f in cpu.findall("feature"))}

    def cpu_traits(self) -> set[str]:
        """HW_CPU_X86_* traits of the CPU features libvirt reports (and of
        the flags of /proc/cpuinfo for a local hypervisor: libvirt lists
        only the features beyond its model)."""
        names = set(self.cpu_info().get("features", []))
        if self.uri.startswith(("qemu:///", "kvm:///")):
            names |= _cpu_flags()
        traits = set()
        for name in names:
            trait = "HW_CPU_X86_" + name.upper().replace(".", "_").replace("-", "_")
            if hasattr(os_traits, trait):
                traits.add(trait)
        return traits

    def memory_and_cpus(self) -> tuple[int, int]:
        info = self.get_connection().getInfo()
        return info[2], info[1]  # cpus, memory MiB

    def hypervisor(self) -> tuple[str, int]:
        conn = self.get_connection()
        return conn.getType(), conn.getVersion()


def _version_text(version: int) -> str:
    return f"{version // 1000000}.{version // 1000 % 1000}.{version % 1000}"
