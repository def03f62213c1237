"""The console proxy service: a websocket server (websockify's request
handler on the standard library's threading HTTP server, no eventlet) that
checks a console token and relays bytes to the console it opens.

One connection, in its own thread:

1. An HTTP request. Without ``Upgrade: websocket`` it is a plain GET of the
   client's pages (the plugin's :meth:`~ConsoleProxy.web_root`; directory
   listings are refused), or 405 when the plugin serves none.
2. A websocket upgrade: the ``Origin`` header, when there is one (a
   browser), must name this proxy's own host (from ``Host``) or one of
   ``[console] allowed_origins``, with https when the connection is TLS.
   The token (``?token=`` or a ``token`` cookie) must be live and for a
   console type the plugin serves. A refusal is a 403 and a log line with
   the reason; the guest is never contacted.
3. The plugin connects to the host and port recorded with the token (never
   an address from the request), does its handshake, and the bytes are
   relayed both ways until either side closes.

TLS: with ``[DEFAULT] cert`` (and ``key``) present, a connection whose first
byte is a TLS handshake is wrapped; ``ssl_only`` refuses the others.
"""
from __future__ import annotations

import http.cookies
import logging
import os
import re
import socket
import ssl
import threading
from http.server import HTTPServer
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs, urlsplit

from websockify.websocketproxy import ProxyRequestHandler

from compute_core import exception
from compute_core.console import ConsoleProxy, load_console_proxy
from compute_core.console import tokens as console_tokens

LOG = logging.getLogger(__name__)
IO_TIMEOUT = 30  # seconds
_TOKEN_IN_TEXT = re.compile(r"(token(?:=|%3D))[^&'\s\"]+", re.I)


class Refused(Exception):
    """A websocket request that is not let through (the reason)."""


class _Handler(ProxyRequestHandler):
    # SimpleHTTPRequestHandler sets self.directory from its argument (or
    # the working directory); ours is the plugin's web root, per server.
    @property
    def directory(self):
        return self.server.web_root or "/nonexistent"

    @directory.setter
    def directory(self, _value):
        pass

    def log_message(self, format, *args):  # noqa: A002 - the base's signature
        # websockify logs the request path: never the token in it.
        LOG.info("%s %s", self.server.name, _TOKEN_IN_TEXT.sub(r"\1***", format % args))

    def log_request(self, code="-", size="-"):
        LOG.debug("%s %s %s %s", self.server.name,
                  _TOKEN_IN_TEXT.sub(r"\1***", self.requestline), code, size)

    # ------------------------------------------------------ the upgrade
    def handle_upgrade(self):
        try:
            self._check_origin()
            self.console = self.server.validate(self._token())
        except (Refused, console_tokens.InvalidToken) as exc:
            LOG.warning("%s: console connection from %s refused: %s", self.server.name,
                        self.client_address[0], exc)
            self.send_error(403, "console connection refused")
            self.close_connection = True
            return
        super().handle_upgrade()

    def _token(self) -> str | None:
        query = parse_qs(urlsplit(self.path).query)
        if query.get("token"):
            return query["token"][0].strip()
        cookies = http.cookies.SimpleCookie()
        try:
            cookies.load(self.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            return None
        morsel = cookies.get("token")
        return morsel.value.strip() if morsel else None

    def _check_origin(self) -> None:
        origin = self.headers.get("Origin")
        if origin is None:
            return  # not a browser: nothing to protect against
        parts = urlsplit(origin)
        if not parts.hostname:
            raise Refused(f"Origin {origin!r} names no host")
        own = urlsplit("//" + (self.headers.get("Host") or "")).hostname
        allowed = {h.strip().lower() for h in self.server.allowed_origins if h.strip()}
        if own:
            allowed.add(own.lower())
        if parts.hostname.lower() not in allowed:
            raise Refused(f"Origin {origin!r} is neither this proxy's host ({own}) nor in "
                          f"[console] allowed_origins")
        secure = isinstance(self.connection, ssl.SSLSocket)
        expected = ("https",) if secure else ("http", "https")
        if parts.scheme not in expected:
            raise Refused(f"Origin {origin!r}: scheme {parts.scheme!r} on a "
                          f"{'TLS' if secure else 'plain'} connection")

    # ------------------------------------------------------ the relay
    def validate_connection(self):
        pass  # done in handle_upgrade, before the websocket is accepted

    def new_websocket_client(self):
        record = self.console
        info = {"host": record["host"], "port": record["port"],
                "internal_access_path": record["internal_access_path"]}
        proxy = self.server.proxy
        what = f"{record['console_type']} console of instance {record['instance_uuid']}"
        try:
            guest = proxy.connect(info)
        except (exception.ComputeCoreError, OSError) as exc:
            LOG.warning("%s: cannot reach the %s at %s:%s: %s", self.server.name, what,
                        info["host"], info["port"], exc)
            raise self.CClose(1011, "cannot reach the console") from None
        self.server.track(guest)
        try:
            try:
                proxy.handshake(guest, info)
            except (exception.ComputeCoreError, OSError) as exc:
                LOG.warning("%s: handshake with the %s failed: %s", self.server.name, what,
                            exc)
                raise self.CClose(1011, "console handshake failed") from None
            if hasattr(guest, "setsockopt"):
                try:
                    guest.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    guest.settimeout(None)
                except OSError:
                    pass
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            LOG.info("%s: %s opened from %s", self.server.name, what, self.client_address[0])
            self.do_proxy(guest)
        finally:
            self.server.untrack(guest)
            try:
                guest.close()
            except OSError:
                pass


class ConsoleProxyServer(ThreadingMixIn, HTTPServer):
    """The HTTP/websocket server of one console proxy plugin."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    # read by websockify's handler and do_proxy
    only_upgrade = False
    file_only = True
    verbose = False
    heartbeat = None
    record = None
    run_once = False
    daemon = False
    web_auth = False
    host_token = False
    traffic = False
    handler_id = 0
    auth_plugin = token_plugin = None
    target_host = target_port = unix_target = wrap_cmd = ssl_target = None
    unix_listen = False

    def __init__(self, name, proxy: ConsoleProxy, validate, listen, port, web_root=None,
                 ssl_context=None, ssl_only=False, allowed_origins=()):
        self.name = name
        self.proxy = proxy
        self.validate = validate
        self.web_root = web_root
        self.only_upgrade = web_root is None
        self.ssl_context = ssl_context
        self.ssl_only = ssl_only
        self.allowed_origins = list(allowed_origins)
        self.logger = LOG
        self._open: set = set()
        self._open_lock = threading.Lock()
        self.address_family = socket.AF_INET6 if ":" in listen else socket.AF_INET
        super().__init__((listen, port), _Handler)

    def track(self, sock):
        with self._open_lock:
            self._open.add(sock)

    def untrack(self, sock):
        with self._open_lock:
            self._open.discard(sock)

    def finish_request(self, request, client_address):
        """In the connection's thread: TLS or not, then the handler."""
        self.track(request)
        try:
            # Bounds the TLS handshake and the request head, and later a
            # send to a client that stopped reading; the relay waits for
            # traffic in select(), so an idle console is not cut.
            request.settimeout(IO_TIMEOUT)
            first = request.recv(1, socket.MSG_PEEK)
            if first and first[0] in (0x16, 0x80):
                if self.ssl_context is None:
                    LOG.warning("%s: TLS from %s but no [DEFAULT] cert: closed", self.name,
                                client_address[0])
                    return
                self.untrack(request)
                request = self.ssl_context.wrap_socket(request, server_side=True)
                self.track(request)
            elif self.ssl_only:
                LOG.warning("%s: plain connection from %s refused ([DEFAULT] ssl_only)",
                            self.name, client_address[0])
                return
            elif not first:
                return
            super().finish_request(request, client_address)
        except (OSError, ssl.SSLError) as exc:
            LOG.info("%s: connection from %s ended: %s", self.name, client_address[0], exc)
        finally:
            self.untrack(request)

    def handle_error(self, request, client_address):
        LOG.info("%s: error on the connection from %s", self.name, client_address[0],
                 exc_info=LOG.isEnabledFor(logging.DEBUG))

    def close_connections(self):
        with self._open_lock:
            socks, self._open = list(self._open), set()
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def ssl_context(conf) -> ssl.SSLContext | None:
    """The proxies' TLS context from [DEFAULT] cert/key, None without a
    cert file (ssl_only then is a configuration error)."""
    cert = conf.cert
    if not cert or not os.path.exists(cert):
        if conf.ssl_only:
            raise exception.ConfigError(f"[DEFAULT] ssl_only is set but the cert file "
                                        f"{cert!r} does not exist")
        return None
    if conf.key and not os.path.exists(conf.key):
        raise exception.ConfigError(f"[DEFAULT] key file {conf.key!r} does not exist")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, conf.key or None)
    except (OSError, ssl.SSLError) as exc:
        raise exception.ConfigError(f"cannot load [DEFAULT] cert {cert!r} / key "
                                    f"{conf.key!r}: {exc}") from None
    return context


class ConsoleProxyService:
    """A console proxy plugin served on a port: start()/stop(), as the
    services of compute_core.cmd.services and the embedded Cloud run them.

    *dbs*: the cell databases whose console tokens it accepts.
    """

    def __init__(self, conf, name: str, dbs, listen: str | None = None,
                 port: int | None = None):
        self.conf = conf
        self.name = name
        self.proxy = load_console_proxy(conf, name)
        default_listen, default_port = self.proxy.listen_address()
        self.listen = default_listen if listen is None else listen
        self.port = default_port if port is None else port
        self.web_root = self.proxy.web_root()
        self.dbs = list(dbs)
        self.types = tuple(self.proxy.console_types)
        self.ssl_context = ssl_context(conf)
        self.server = None
        self._thread = None
        self.url = None

    def validate(self, token):
        """The token's record from whichever cell database has it."""
        unknown = None
        for db in self.dbs:
            try:
                return console_tokens.validate(db, token, self.types)
            except console_tokens.InvalidToken as exc:
                if not str(exc).startswith("unknown"):
                    raise
                unknown = exc
        raise unknown or console_tokens.InvalidToken("no cell database to check tokens in")

    def start(self):
        try:
            self.server = ConsoleProxyServer(
                f"console proxy {self.name}", self.proxy, self.validate, self.listen,
                self.port, web_root=self.web_root, ssl_context=self.ssl_context,
                ssl_only=self.conf.ssl_only, allowed_origins=self.conf.console.allowed_origins)
        except OSError as exc:
            raise exception.ConfigError(f"console proxy {self.name} cannot listen on "
                                        f"{self.listen}:{self.port}: {exc}") from None
        host, port = self.server.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        scheme = "https" if self.ssl_context is not None else "http"
        self.port = port
        self.url = f"{scheme}://{shown if ':' not in shown else f'[{shown}]'}:{port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.5,),
                                        daemon=True, name=f"console-proxy-{self.name}")
        self._thread.start()
        LOG.info("console proxy %s (%s) serving on %s%s", self.name, ", ".join(self.types),
                 self.url, f", client pages from {self.web_root}" if self.web_root else "")

    def stop(self):
        if self.server is None:
            return
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self.server = self._thread = None
