"""Console clients for tests and benchmarks: a websocket stream (on
websockify's client) and a small RFB client that speaks over it or over a
plain socket, as a browser's noVNC would."""
from __future__ import annotations

import struct
import time
from urllib.parse import urlsplit

from websockify.websocket import WebSocket, WebSocketWantReadError

_PF = struct.Struct(">BBBBHHHBBB3x")
# What noVNC asks for: 32 bpp, depth 24, little-endian, RGB in bytes 0, 1, 2.
NOVNC_FORMAT = (32, 24, 0, 1, 255, 255, 255, 0, 8, 16)


class _WebSocket(WebSocket):
    # websockify's client sends the URL's path without its query.
    query = ""

    def send_request(self, type, path):  # noqa: A002 - the base's signature
        super().send_request(type, path + (f"?{self.query}" if self.query else ""))

    def _recv_frames(self):
        # Frames that came in the same read as the 101 answer sit in the
        # buffer; the base would block reading the socket for more first.
        while self._recv_buffer:
            frame = self._decode_hybi(self._recv_buffer)
            if frame is None:
                break
            self._recv_buffer = self._recv_buffer[frame["length"]:]
            self._recv_queue.append(frame)
        if self._recv_queue:
            return True
        return super()._recv_frames()


class WebSocketStream:
    """A blocking socket-like object (sendall/recv/close) over a websocket
    to *url*; binary messages carry the bytes."""

    def __init__(self, url: str, origin: str | None = None, timeout: float = 10):
        self.ws = _WebSocket()
        self.ws.query = urlsplit(url).query
        self.ws.connect(url, origin=origin)
        self.ws.settimeout(timeout)
        self._buffer = b""
        self.closed = False

    def sendall(self, data: bytes) -> None:
        self.ws.sendmsg(data)

    def _fill(self) -> bool:
        while True:
            try:
                msg = self.ws.recvmsg()
            except WebSocketWantReadError:
                continue
            if msg is None:
                self.closed = True
                return False
            if msg:
                self._buffer += msg
                return True

    def recv(self, n: int) -> bytes:
        if not self._buffer and not self.closed:
            self._fill()
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - already gone is fine
            pass
        try:
            self.ws.socket.close()
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def recv_exact(stream, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = stream.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_until(stream, marker: bytes, limit: int = 1 << 16, timeout: float = 10) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        if len(data) > limit or time.monotonic() > deadline:
            raise AssertionError(f"{marker!r} not in {data[-500:]!r}")
        chunk = stream.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed before {marker!r}: {data[-500:]!r}")
        data += chunk
    return data


class RFBClient:
    """Just enough RFB 3.8 (security None, Raw encoding) to read a screen."""

    def __init__(self, stream):
        self.stream = stream
        self.width = self.height = 0
        self.name = ""
        self.bytes_per_pixel = 4

    def handshake(self) -> str:
        version = recv_exact(self.stream, 12)
        if not version.startswith(b"RFB 003."):
            raise ConnectionError(f"not an RFB server: {version!r}")
        self.stream.sendall(b"RFB 003.008\n")
        (count,) = recv_exact(self.stream, 1)
        if count == 0:
            (length,) = struct.unpack(">I", recv_exact(self.stream, 4))
            raise ConnectionError(recv_exact(self.stream, length).decode())
        types = recv_exact(self.stream, count)
        if 1 not in types:
            raise ConnectionError(f"security None not offered: {list(types)}")
        self.stream.sendall(b"\x01")
        (result,) = struct.unpack(">I", recv_exact(self.stream, 4))
        if result != 0:
            raise ConnectionError("security handshake failed")
        self.stream.sendall(b"\x01")  # shared
        self.width, self.height = struct.unpack(">HH", recv_exact(self.stream, 4))
        recv_exact(self.stream, 16)
        (length,) = struct.unpack(">I", recv_exact(self.stream, 4))
        self.name = recv_exact(self.stream, length).decode("utf-8", "replace")
        self.stream.sendall(b"\x00\x00\x00\x00" + _PF.pack(*NOVNC_FORMAT)
                            + struct.pack(">BxHi", 2, 1, 0))  # SetEncodings: Raw
        return self.name

    def request(self, incremental=False, x=0, y=0, w=None, h=None) -> None:
        self.stream.sendall(struct.pack(">BBHHHH", 3, int(incremental), x, y,
                                        self.width if w is None else w,
                                        self.height if h is None else h))

    def read_update(self) -> list[tuple[int, int, int, int, bytes]]:
        kind, count = struct.unpack(">BxH", recv_exact(self.stream, 4))
        if kind != 0:
            raise ConnectionError(f"unexpected RFB message {kind}")
        rects = []
        for _ in range(count):
            x, y, w, h, encoding = struct.unpack(">HHHHi", recv_exact(self.stream, 12))
            if encoding != 0:
                raise ConnectionError(f"unexpected encoding {encoding}")
            rects.append((x, y, w, h, recv_exact(self.stream, w * h * self.bytes_per_pixel)))
        return rects

    def screen(self) -> bytes:
        """The whole screen, RGBX bytes row by row (the rectangles of one
        update put together)."""
        self.request()
        rows = [b""] * self.height
        stride = self.bytes_per_pixel
        covered = 0
        for x, y, w, h, data in self.read_update():
            for i in range(h):
                line = rows[y + i] or bytes(self.width * stride)
                rows[y + i] = (line[:x * stride] + data[i * w * stride:(i + 1) * w * stride]
                               + line[(x + w) * stride:])
            covered += w * h
        if covered != self.width * self.height:
            raise ConnectionError(f"the update covered {covered} pixels, not the screen")
        return b"".join(rows)
