"""The embedded HTTP server against slow and idle clients: silent, half-sent
and trickling requests hold no worker and are cut at their deadlines."""
import socket
import threading
import time

import pytest
import requests

from compute_core import httpserver
from compute_core.httpserver import WSGIServer


def hello(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello " + str(len(body)).encode()]


@pytest.fixture
def server():
    # Two workers only: if a slow client held one, the tests below would see it.
    srv = WSGIServer(hello, "127.0.0.1", 0, threads=2, name="test", idle_timeout=2,
                     header_timeout=2, body_timeout=2, max_connections=200,
                     max_body_size=1000)
    srv.start()
    yield srv
    srv.stop()


def connect(srv):
    return socket.create_connection((srv.host, srv.port), timeout=10)


def response(sock, ending):
    data = b""
    while not data.endswith(ending):
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    return data


def closed_after(sock, limit):
    """Seconds until the server closes *sock* (None if it stays open for
    *limit* seconds)."""
    t0 = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - t0


def test_silent_and_half_sent_requests_hold_no_worker(server):
    held = [connect(server) for _ in range(40)]
    for i, sock in enumerate(held):
        if i % 2:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Half")
    t0 = time.monotonic()
    for _ in range(10):
        r = requests.get(server.url, timeout=10)
        assert r.status_code == 200 and r.text == "hello 0"
    # A generous bound: a held worker would make this wait for a timeout.
    assert time.monotonic() - t0 < 1.5
    for sock in held:
        sock.close()


def test_a_silent_connection_is_closed_after_the_idle_timeout(server):
    with connect(server) as sock:
        took = closed_after(sock, 8)
    assert took is not None and 1.5 < took < 5, took


def test_a_keep_alive_connection_serves_requests_then_idles_out(server):
    with connect(server) as sock:
        for _ in range(2):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert response(sock, b"hello 0").startswith(b"HTTP/1.1 200")
        took = closed_after(sock, 8)
    assert took is not None and took < 5, took


def test_an_answer_without_a_body_keeps_the_connection_open():
    """A 204 (a placement claim's answer) keeps an HTTP/1.1 connection open:
    waitress alone closes it, and the client reconnects for each request."""
    import http.client

    def no_content(environ, start_response):
        start_response("204 No Content", [])
        return []

    srv = WSGIServer(no_content, "127.0.0.1", 0, threads=1, name="test")
    srv.start()
    try:
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
        conn.request("PUT", "/a", body=b"{}")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 204 and not resp.will_close
        sock = conn.sock
        conn.request("DELETE", "/a")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 204 and conn.sock is sock  # the same connection
        # Asked to close, it closes.
        conn.request("DELETE", "/a", headers={"Connection": "close"})
        resp = conn.getresponse()
        resp.read()
        assert resp.will_close
        conn.close()
    finally:
        srv.stop()


def trickled_until_closed(sock, data):
    """Send *data* a byte every 0.3 s (never idle for long); seconds until
    the server closes the connection (None: not within 10 s)."""
    stop = threading.Event()

    def trickle():
        try:
            for b in data:
                if stop.wait(0.3):
                    return
                sock.send(bytes([b]))
        except OSError:
            pass

    th = threading.Thread(target=trickle)
    th.start()
    try:
        return closed_after(sock, 10)
    finally:
        stop.set()
        th.join()


def test_trickled_headers_are_cut_at_the_header_deadline(server):
    """The headers must be complete 2 s after the request's first byte."""
    with connect(server) as sock:
        took = trickled_until_closed(sock, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100)
    assert took is not None and took < 6, took


def test_a_trickled_body_is_cut_at_the_body_deadline(server):
    with connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n")
        took = trickled_until_closed(sock, b"a" * 500)
    assert took is not None and took < 6, took


def test_a_request_sent_in_pieces_within_the_deadlines_is_served(server):
    with connect(server) as sock:
        for piece in (b"POST / HTTP/1.1\r\nHost: x\r\n", b"Content-Length: 3\r\n\r\n", b"abc"):
            sock.sendall(piece)
            time.sleep(0.5)
        assert response(sock, b"hello 3").startswith(b"HTTP/1.1 200")


def test_a_body_over_the_server_limit_is_refused_unread(server):
    r = requests.post(server.url, data=b"x" * 1001, timeout=10)
    assert r.status_code == 413
    assert requests.post(server.url, data=b"x" * 1000, timeout=10).text == "hello 1000"


def test_stop_closes_connections_and_frees_the_port():
    srv = WSGIServer(hello, "127.0.0.1", 0, threads=1, name="test")
    srv.start()
    held = connect(srv)
    assert requests.get(srv.url, timeout=10).status_code == 200
    srv.stop()
    assert closed_after(held, 5) is not None
    held.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(srv.url, timeout=5)
    # The same port can be bound again at once.
    again = WSGIServer(hello, "127.0.0.1", srv.port, threads=1, name="test")
    again.stop()


def test_a_port_in_use_raises_and_leaks_nothing():
    srv = WSGIServer(hello, "127.0.0.1", 0, threads=1, name="test")
    try:
        before = threading.active_count()
        with pytest.raises(OSError):
            WSGIServer(hello, "127.0.0.1", srv.port, threads=4, name="test")
        assert threading.active_count() == before
    finally:
        srv.stop()


class Recorder:
    """An app that notes each request it ran: method, body, the flag."""

    def __init__(self):
        self.seen = []
        self.event = threading.Event()

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read()
        self.seen.append((environ["REQUEST_METHOD"], body,
                          environ.get(httpserver.TRUNCATED, False)))
        self.event.set()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.mark.parametrize("deliver", [True, False])
def test_a_body_cut_short_reaches_the_app_only_when_asked(deliver):
    app = Recorder()
    srv = WSGIServer(app, "127.0.0.1", 0, threads=2, name="test", max_body_size=10000,
                     deliver_truncated=deliver)
    srv.start()
    try:
        with connect(srv) as sock:
            sock.sendall(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
                         + b"a" * 300)
            time.sleep(0.2)
        app.event.wait(5)
        # A complete request afterwards is served as usual and not flagged.
        assert requests.put(srv.url + "/y", data=b"bb", timeout=10).status_code == 200
    finally:
        srv.stop()
    expected = [("PUT", b"bb", False)]
    if deliver:
        expected.insert(0, ("PUT", b"a" * 300, True))
    assert app.seen == expected


def test_a_request_without_a_body_cut_in_its_headers_is_never_delivered():
    app = Recorder()
    srv = WSGIServer(app, "127.0.0.1", 0, threads=2, name="test", deliver_truncated=True)
    srv.start()
    try:
        with connect(srv) as sock:
            sock.sendall(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Len")
            time.sleep(0.2)
        with connect(srv) as sock:  # headers complete, no body announced
            sock.sendall(b"GET /z HTTP/1.1\r\nHost: x\r\n\r\n")
            response(sock, b"ok")
    finally:
        srv.stop()
    assert app.seen == [("GET", b"", False)]
