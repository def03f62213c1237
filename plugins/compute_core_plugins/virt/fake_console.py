"""The consoles of the fake driver's guests: real endpoints on 127.0.0.1.

Each guest gets, from spawn to destroy, its own VNC port (a small RFB 3.8
server) and its own serial port, so a console proxy and a browser see the
same protocol as with a real hypervisor:

* VNC: RFB 3.3/3.7/3.8 with security type None; the screen is colour bars
  above a row of blocks coloured from the instance's UUID (hashed), the desktop name
  is the server's name. Raw encoding in whatever pixel format the client
  asks for (8, 16 or 32 bits, either byte order); keys and pointer events
  are read and ignored.
* serial: the guest's console log (its boot marker first), then a login
  prompt; what the client types is echoed back, as a tty does.

One thread per host watches every guest's listening sockets; a connection
gets a thread of its own while it lasts.
"""
from __future__ import annotations

import hashlib
import logging
import selectors
import socket
import struct
import threading

LOG = logging.getLogger(__name__)

WIDTH, HEIGHT = 640, 400
STRIP_ROWS = 16
BARS = [(235, 235, 235), (235, 235, 16), (16, 235, 235), (16, 235, 16),
        (235, 16, 235), (235, 16, 16), (16, 16, 235), (16, 16, 16)]
# Server pixel format: 32 bpp, depth 24, little-endian, true colour, RGB888.
SERVER_FORMAT = (32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
_PF = struct.Struct(">BBBBHHHBBB3x")


def guest_screen(instance_uuid: str) -> list[list[tuple[int, int, int]]]:
    """The runs of each row: [(x_end, colour)], bars on top, then 16 blocks
    coloured from a hash of the instance's UUID on a dark band."""
    bar_w = WIDTH // len(BARS)
    bars = [((i + 1) * bar_w if i < len(BARS) - 1 else WIDTH, c) for i, c in enumerate(BARS)]
    digits = [int(ch, 16) for ch in hashlib.sha256(instance_uuid.encode()).hexdigest()[:16]]
    block_w = WIDTH // 16
    blocks = [((i + 1) * block_w, ((d & 1) * 200 + 40, ((d >> 1) & 1) * 200 + 40,
                                   ((d >> 2) & 3) * 70 + 30))
              for i, d in enumerate(digits)]
    band = [(WIDTH, (24, 32, 48))]
    rows = []
    for y in range(HEIGHT):
        if y < HEIGHT * 2 // 3:
            rows.append(bars)
        elif HEIGHT * 3 // 4 <= y < HEIGHT * 3 // 4 + 48:
            rows.append(blocks)
        else:
            rows.append(band)
    return rows


class PixelFormat:
    def __init__(self, bpp, depth, big_endian, true_colour, rmax, gmax, bmax, rs, gs, bs):
        if bpp not in (8, 16, 32) or not true_colour:
            raise ValueError(f"unsupported pixel format: {bpp} bpp, true colour "
                             f"{bool(true_colour)}")
        self.key = (bpp, big_endian, rmax, gmax, bmax, rs, gs, bs)
        self.size = bpp // 8
        self.order = "big" if big_endian else "little"

    def pixel(self, rgb) -> bytes:
        _, _, rmax, gmax, bmax, rs, gs, bs = self.key
        r, g, b = rgb
        value = ((r * rmax + 127) // 255 << rs | (g * gmax + 127) // 255 << gs
                 | (b * bmax + 127) // 255 << bs)
        # The bits no colour uses are set: noVNC 1.3 (Debian 12's) takes the
        # fourth byte of a 32-bit pixel for alpha past the first message.
        unused = ((1 << (8 * self.size)) - 1) & ~(rmax << rs | gmax << gs | bmax << bs)
        return (value | unused).to_bytes(self.size, self.order)


class Screen:
    """A guest's framebuffer, its rows encoded once per pixel format."""

    def __init__(self, instance_uuid):
        self.rows = guest_screen(instance_uuid)
        self._encoded: dict[tuple, list[bytes]] = {}
        self._lock = threading.Lock()

    def encoded_rows(self, fmt: PixelFormat) -> list[bytes]:
        with self._lock:
            rows = self._encoded.get(fmt.key)
            if rows is None:
                cache: dict[int, bytes] = {}
                rows = []
                for runs in self.rows:
                    key = id(runs)
                    if key not in cache:
                        parts, x = [], 0
                        for x_end, colour in runs:
                            parts.append(fmt.pixel(colour) * (x_end - x))
                            x = x_end
                        cache[key] = b"".join(parts)
                    rows.append(cache[key])
                self._encoded[fmt.key] = rows
            return rows

    def raw_rect(self, fmt: PixelFormat, x, y, w, h) -> bytes:
        rows = self.encoded_rows(fmt)
        s = fmt.size
        return b"".join(rows[row][x * s:(x + w) * s] for row in range(y, y + h))


def _recv_exact(sock, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return data


def serve_rfb(sock, name: str, screen: Screen) -> None:
    """One RFB session with security None, until the client goes."""
    sock.sendall(b"RFB 003.008\n")
    version = _recv_exact(sock, 12)
    if not version.startswith(b"RFB 003."):
        return
    minor = int(version[8:11])
    if minor < 7:
        sock.sendall(struct.pack(">I", 1))  # 3.3: the server picks None
    else:
        sock.sendall(b"\x01\x01")  # one type: None
        if _recv_exact(sock, 1) != b"\x01":
            if minor >= 8:
                reason = b"only security type None is offered"
                sock.sendall(struct.pack(">II", 1, len(reason)) + reason)
            return
        if minor >= 8:
            sock.sendall(struct.pack(">I", 0))
    _recv_exact(sock, 1)  # ClientInit (shared flag)
    encoded_name = name.encode("utf-8")[:255]
    sock.sendall(struct.pack(">HH", WIDTH, HEIGHT) + _PF.pack(*SERVER_FORMAT)
                 + struct.pack(">I", len(encoded_name)) + encoded_name)
    fmt = PixelFormat(*SERVER_FORMAT)
    sent_full = False
    while True:
        kind = _recv_exact(sock, 1)[0]
        if kind == 0:  # SetPixelFormat
            fmt = PixelFormat(*_PF.unpack(_recv_exact(sock, 19)[3:]))
            sent_full = False
        elif kind == 2:  # SetEncodings
            (count,) = struct.unpack(">xH", _recv_exact(sock, 3))
            _recv_exact(sock, 4 * count)
        elif kind == 3:  # FramebufferUpdateRequest
            incremental, x, y, w, h = struct.unpack(">BHHHH", _recv_exact(sock, 9))
            if incremental and sent_full:
                continue  # nothing on this screen ever changes
            x, y = min(x, WIDTH), min(y, HEIGHT)
            w, h = min(w, WIDTH - x), min(h, HEIGHT - y)
            # In strips of rows, as a real server sends its tiles.
            strips = [(row, min(STRIP_ROWS, y + h - row)) for row in range(y, y + h, STRIP_ROWS)]
            sock.sendall(struct.pack(">BxH", 0, len(strips)) + b"".join(
                struct.pack(">HHHHi", x, row, w, rows, 0) + screen.raw_rect(fmt, x, row, w, rows)
                for row, rows in strips))
            sent_full = True
        elif kind == 4:  # KeyEvent
            _recv_exact(sock, 7)
        elif kind == 5:  # PointerEvent
            _recv_exact(sock, 5)
        elif kind == 6:  # ClientCutText
            (length,) = struct.unpack(">3xI", _recv_exact(sock, 7))
            _recv_exact(sock, min(length, 1 << 20))
        else:
            LOG.debug("RFB message type %d not understood: closing", kind)
            return


def serve_serial(sock, name: str, log) -> None:
    """The guest's console log, a prompt, then an echo of what is typed."""
    sock.sendall("".join(log()).encode("utf-8", "replace") + f"\r\n{name} login: ".encode())
    while True:
        data = sock.recv(4096)
        if not data:
            return
        sock.sendall(data.replace(b"\r", b"\r\n"))


class GuestConsoles:
    """The console endpoints of one host's guests."""

    def __init__(self, host: str, listen: str = "127.0.0.1"):
        self.host = host
        self.listen = listen
        self._lock = threading.Lock()
        self._guests: dict[str, dict] = {}
        self._selector = None
        self._thread = None
        self._wake_r = self._wake_w = None
        self._stopping = False

    # ---------------------------------------------------------- guests
    def open(self, instance_uuid: str, name: str, log) -> dict:
        """Open the guest's ports (already open: the same); *log* returns
        its console log lines. Returns {"vnc": port, "serial": port}."""
        with self._lock:
            guest = self._guests.get(instance_uuid)
            if guest is not None:
                return dict(guest["ports"])
            self._ensure_thread()
            listeners = {}
            try:
                for kind in ("vnc", "serial"):
                    listeners[kind] = socket.create_server((self.listen, 0))
                    listeners[kind].setblocking(False)
            except OSError:
                for sock in listeners.values():
                    sock.close()
                raise
            guest = {"uuid": instance_uuid, "name": name, "log": log,
                     "screen": Screen(instance_uuid), "listeners": listeners,
                     "ports": {k: s.getsockname()[1] for k, s in listeners.items()},
                     "conns": set()}
            self._guests[instance_uuid] = guest
            for kind, sock in listeners.items():
                self._selector.register(sock, selectors.EVENT_READ, (guest, kind))
            self._wake()
            return dict(guest["ports"])

    def ports(self, instance_uuid: str) -> dict | None:
        with self._lock:
            guest = self._guests.get(instance_uuid)
            return None if guest is None else dict(guest["ports"])

    def close(self, instance_uuid: str) -> None:
        """Close the guest's ports and drop its open console sessions."""
        with self._lock:
            guest = self._guests.pop(instance_uuid, None)
            if guest is None:
                return
            for sock in guest["listeners"].values():
                try:
                    self._selector.unregister(sock)
                except (KeyError, ValueError):
                    pass
                sock.close()
            conns = list(guest["conns"])
        for conn in conns:
            _shut(conn)

    def stop(self) -> None:
        """Close every guest's ports and stop the thread."""
        for uuid in list(self._guests):
            self.close(uuid)
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._wake()
        if thread is not None:
            thread.join(5)
        with self._lock:
            if self._selector is not None:
                self._selector.close()
                self._selector = None
            for sock in (self._wake_r, self._wake_w):
                if sock is not None:
                    sock.close()
            self._wake_r = self._wake_w = None
            self._stopping = False

    # ---------------------------------------------------------- thread
    def _ensure_thread(self):
        if self._thread is not None:
            return
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"fake-consoles-{self.host}")
        self._thread.start()

    def _wake(self):
        if self._wake_w is not None:
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass

    def _run(self):
        selector = self._selector
        while True:
            with self._lock:
                if self._stopping:
                    return
            for key, _ in selector.select(1.0):
                if key.data is None:
                    try:
                        self._wake_r.recv(512)
                    except OSError:
                        pass
                    continue
                guest, kind = key.data
                try:
                    conn, _ = key.fileobj.accept()
                except OSError:
                    continue
                conn.setblocking(True)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with self._lock:
                    guest["conns"].add(conn)
                threading.Thread(target=self._session, args=(guest, kind, conn), daemon=True,
                                 name=f"fake-console-{kind}-{guest['uuid'][:8]}").start()

    def _session(self, guest, kind, conn):
        try:
            if kind == "vnc":
                serve_rfb(conn, guest["name"], guest["screen"])
            else:
                serve_serial(conn, guest["name"], guest["log"])
        except (OSError, ConnectionError, ValueError, struct.error) as exc:
            LOG.debug("%s console of %s: %s", kind, guest["uuid"], exc)
        finally:
            with self._lock:
                guest["conns"].discard(conn)
            _shut(conn)


def _shut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
