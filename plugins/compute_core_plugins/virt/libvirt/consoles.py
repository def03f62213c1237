"""Consoles of the libvirt driver's guests, as Nova's options ask for them:
the serial console log, VNC and SPICE graphics, serial ports on TCP (each
guest its own port of ``[serial_console] port_range``).
"""
from __future__ import annotations

import os
import socket
import threading
import time
import xml.etree.ElementTree as ET

import libvirt

from compute_core import exception
from compute_core_plugins.virt.libvirt import config
from compute_core_plugins.virt.libvirt.domains import CONSOLE_LOG, DomainOps, _error

MAX_CONSOLE_BYTES = 1 << 20
CONSOLE_TYPES = {"vnc": "vnc", "novnc": "vnc", "spice": "spice", "spice-html5": "spice",
                 "serial": "serial"}


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


class ConsoleMixin(DomainOps):
    _serial_lock: threading.Lock
    _serial_reserved: dict[int, float]
    serial_ports: range

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
