"""A burst of clients connecting at once is served, none reset: the API
servers listen with a backlog sized for it (1024; a small one resets some)."""
import concurrent.futures
import socket
import threading
import urllib.parse


def _get_root(url, barrier):
    parts = urllib.parse.urlsplit(url)
    barrier.wait()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.split(b"\r\n", 1)[0]


def test_a_burst_of_connections_is_served(compute_cloud):
    n = 200
    for url in (compute_cloud.compute_url, compute_cloud.placement_url):
        barrier = threading.Barrier(n)
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            lines = list(pool.map(lambda _: _get_root(url, barrier), range(n)))
        # Every client got an answer (placement's root asks for a token).
        assert len(set(lines)) == 1 and lines[0].split()[1] in (b"200", b"401"), set(lines)
