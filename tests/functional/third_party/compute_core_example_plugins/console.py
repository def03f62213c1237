"""A console proxy for a line-based console protocol.

The guest side of the protocol: once connected, the proxy sends
``ATTACH <path>\n`` (the ``internal_access_path`` of the console, or ``/``)
and the console answers ``OK\n`` before the client's bytes flow.
"""
from __future__ import annotations

import socket

from compute_core import exception
from compute_core.console import ConsoleProxy


class LineConsoleProxy(ConsoleProxy):
    protocol = "example-line"
    console_types = ("example-line",)

    def connect(self, connect_info: dict):
        try:
            return socket.create_connection((connect_info["host"], int(connect_info["port"])),
                                            timeout=5)
        except OSError as exc:
            raise exception.ComputeCoreError(
                f"cannot reach console {connect_info['host']}:{connect_info['port']}: "
                f"{exc}") from None

    def handshake(self, guest_sock, connect_info: dict) -> None:
        path = connect_info.get("internal_access_path") or "/"
        guest_sock.sendall(f"ATTACH {path}\n".encode())
        answer = b""
        while not answer.endswith(b"\n") and len(answer) < 256:
            chunk = guest_sock.recv(256)
            if not chunk:
                break
            answer += chunk
        if answer != b"OK\n":
            raise exception.ComputeCoreError(
                f"console refused ATTACH {path}: {answer.decode(errors='replace').strip()}")
