"""The in-tree console proxies: ``novnc``, ``spice-html5`` and ``serial``.

Each reaches the guest's console over TCP at the host and port its token
recorded, and relays bytes unchanged: the security handshake of the remote
protocol is **passed through**, not done by the proxy. For VNC this means
the browser's noVNC negotiates with the guest's VNC server itself (QEMU's,
or the fake driver's), which offers security type None on a console that
listens on the compute host's management address only; the proxy's own
check is the token. A VNC server that asks for a password or VeNCrypt
makes noVNC ask the user for it, as it would talking to the server
directly.

The client pages come from an installed copy found through an option
(``[vnc] novnc_path``, ``[spice] html5_path``: Debian's ``novnc`` and
``spice-html5`` packages by default); the serial proxy serves a websocket
only.
"""
from __future__ import annotations

import os
import socket

from compute_core import exception
from compute_core.console import ConsoleProxy

CONNECT_TIMEOUT = 10


class _TCPConsoleProxy(ConsoleProxy):
    def connect(self, connect_info: dict):
        address = (connect_info["host"], int(connect_info["port"]))
        try:
            sock = socket.create_connection(address, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise exception.ComputeCoreError(
                f"cannot reach the {self.protocol} console at {address[0]}:{address[1]}: "
                f"{exc}") from None
        sock.settimeout(None)
        return sock


def _client_dir(path: str, page: str, option: str, package: str) -> str:
    if not os.path.isfile(os.path.join(path, page)):
        raise exception.ConfigError(
            f"{option} = {path!r} has no {page}: install the {package} client there "
            f"(Debian: apt-get install {package}) or point {option} at a copy")
    return os.path.abspath(path)


class NoVNCProxy(_TCPConsoleProxy):
    """noVNC in the browser to the guest's VNC (RFB) server."""

    protocol = "vnc"
    console_types = ("novnc",)

    def listen_address(self):
        return (self.conf.vnc.novncproxy_host, self.conf.vnc.novncproxy_port)

    def web_root(self):
        return _client_dir(self.conf.vnc.novnc_path, "vnc_lite.html", "[vnc] novnc_path",
                           "novnc")


class SpiceHTML5Proxy(_TCPConsoleProxy):
    """The SPICE HTML5 client in the browser to the guest's SPICE server."""

    protocol = "spice"
    console_types = ("spice-html5",)

    def listen_address(self):
        return (self.conf.spice.html5proxy_host, self.conf.spice.html5proxy_port)

    def web_root(self):
        return _client_dir(self.conf.spice.html5_path, "spice_auto.html",
                           "[spice] html5_path", "spice-html5")


class SerialProxy(_TCPConsoleProxy):
    """A websocket client (a terminal in the browser) to the guest's serial
    port, bytes as binary messages."""

    protocol = "serial"
    console_types = ("serial",)

    def listen_address(self):
        return (self.conf.serial_console.serialproxy_host,
                self.conf.serial_console.serialproxy_port)
