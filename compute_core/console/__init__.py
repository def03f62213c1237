"""Console proxies: the :class:`ConsoleProxy` contract and its loader.

A console proxy is the piece between a user's client (a browser running
noVNC, a SPICE HTML5 page, a serial websocket client) and the console port a
compute host opened for one guest. The proxy service checks the console
token, then asks its :class:`ConsoleProxy` plugin to reach the guest.

Proxies are plugins in the ``compute_core.console_proxies`` entry-point
group; which one runs is decided by which proxy service is started
(``compute-novncproxy``, ``compute-spicehtml5proxy``, ``compute-serialproxy``,
or ``compute-consoleproxy --proxy NAME`` for any installed plugin; the
embedded cloud runs those of ``[aio] console_proxies``). In-tree: ``novnc``,
``spice-html5`` and ``serial``. The service itself (websocket server, token
and Origin checks, TLS, the relay) is :mod:`compute_core.console.service`;
tokens are :mod:`compute_core.console.tokens`.
"""
from __future__ import annotations

import abc

from compute_core import plugins

__all__ = ["ConsoleProxy", "load_console_proxy"]


class ConsoleProxy(abc.ABC):
    """Base class of console proxy plugins.

    **Describing the proxy** (class attributes, read without constructing):

    ``protocol``
        the wire protocol spoken to the guest's console port, e.g. ``"vnc"``,
        ``"spice"``, ``"serial"``.
    ``console_types``
        the console types of the Compute API this proxy serves (the ``type``
        of a remote console request), e.g. ``("novnc",)`` or
        ``("spice-html5",)``. A driver's ``get_console_connection`` is asked
        for one of these types.

    **Lifecycle.** Constructed once per proxy service as ``Proxy(conf)``,
    where *conf* is the service's ``ConfigOpts`` (register your own option
    group on it in ``__init__``; never use the global ``cfg.CONF``). The
    service calls :meth:`connect` (then :meth:`handshake`) from one thread
    per client connection, several at once: keep per-connection state in
    local variables or in the returned socket, not on ``self``.

    **Errors.** Raise any :class:`compute_core.exception.ComputeCoreError`
    (or let ``OSError`` from the socket layer through) when the guest cannot
    be reached or the handshake fails: the service closes that client's
    connection and logs the message; other connections are not affected.
    """

    #: Protocol spoken to the guest's console port ("vnc", "spice", "serial").
    protocol: str = ""
    #: Compute API console types this proxy serves ("novnc", "spice-html5", ...).
    console_types: tuple[str, ...] = ()

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def connect(self, connect_info: dict):
        """Open a connection to the guest's console.

        *connect_info* is what a validated token carries, the dict a virt
        driver's ``get_console_connection`` returned:
        ``{"host": str, "port": int, "internal_access_path": str | None}``.
        Returns a connected socket-like object (``send``/``sendall``/``recv``/
        ``close``, and ``fileno`` if the service should poll it) that the
        service then relays to the client byte for byte.
        """

    def listen_address(self) -> tuple[str, int]:
        """(address, port) the proxy service listens on unless told
        otherwise; read your own options here. Default: every address,
        a port the OS picks."""
        return ("0.0.0.0", 0)

    def web_root(self) -> str | None:
        """Directory of the client pages the service serves over plain
        HTTP GET (noVNC's, SPICE HTML5's), or None to serve websockets
        only. Raise :class:`compute_core.exception.ConfigError` when the
        configured directory is not usable: the service does not start."""
        return None

    def handshake(self, guest_sock, connect_info: dict) -> None:
        """Protocol set-up on *guest_sock* before relaying starts.

        Called once after :meth:`connect`. The default does nothing; a
        protocol that must negotiate before the client's bytes may flow
        (an HTTP CONNECT to ``internal_access_path``, a VNC security type
        the client does not speak) does it here, and raises to refuse.
        """

    @classmethod
    def serves(cls, console_type: str) -> bool:
        return console_type in cls.console_types


def load_console_proxy(conf, name: str) -> ConsoleProxy:
    """The console proxy plugin *name*, constructed with *conf*.

    Raises :class:`compute_core.exception.PluginLoadError` naming the group,
    *name* and the installed proxies when it is missing, fails to import or
    is not a :class:`ConsoleProxy`.
    """
    return plugins.load_plugin(plugins.CONSOLE_PROXIES, name, ConsoleProxy, conf)
