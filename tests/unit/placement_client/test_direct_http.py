"""The placement client talks plain HTTP over a kept-alive http.client
connection of its own per thread (requests only for HTTPS or a proxied
endpoint): the same requests arrive, a connection the server closed while
idle is replaced before a request goes out, and a timeout is not sent
again."""
from __future__ import annotations

import http.server
import json
import time

import pytest
import requests

from compute_core import conf as conf_mod
from compute_core.placement_client import client as client_mod

from .local_server import LocalServer


class RecordingServer(LocalServer):
    """Answers every request 200 with a JSON echo; records (method, path,
    body, client port). ``close_after``: answers that also close the
    connection (as a server whose keep-alive timed out); ``delay``: seconds
    to wait before answering."""

    def __init__(self, close_after=False, delay=0.0):
        self.close_after = close_after
        self.delay = delay
        super().__init__(Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, body, self.client_address[1],
                                 self.headers.get("Content-Type"),
                                 self.headers.get("OpenStack-API-Version")))
        time.sleep(self.server.delay)
        out = json.dumps({"echo": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
        self.wfile.flush()
        if self.server.close_after:
            # Closed quietly after the answer, as an idle keep-alive times out.
            self.close_connection = True

    do_GET = do_PUT = do_DELETE = do_POST = _any

    def log_message(self, *args):
        pass


@pytest.fixture
def placement():
    made = []

    def make(**kwargs):
        server = RecordingServer(**kwargs)
        conf = conf_mod.load(overrides={"placement.auth_strategy": "noauth2",
                                        "placement.endpoint_override": server.url,
                                        "placement.timeout": 1})
        client = client_mod.PlacementClient(conf)
        made.append((server, client))
        return client, server

    yield make
    for server, client in made:
        client.close()
        server.shutdown()
        server.server_close()


def _no_requests(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("requests was used for a plain-HTTP endpoint")
    monkeypatch.setattr(requests.Session, "request", refuse)


def test_plain_http_goes_over_one_kept_alive_connection(placement, monkeypatch):
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    _no_requests(monkeypatch)
    client, server = placement()
    resp = client.request("GET", "/allocation_candidates",
                          params={"resources": "VCPU:1,MEMORY_MB:64", "limit": "5"})
    assert resp.status_code == 200
    assert resp.json() == {"echo": "/allocation_candidates?resources=VCPU%3A1%2CMEMORY_MB%3A64"
                                   "&limit=5"}
    assert client.request("PUT", "/allocations/c1", json={"a": [1, "x"]}).status_code == 200
    assert client.request("DELETE", "/allocations/c1").status_code == 200
    methods = [s[0] for s in server.seen]
    assert methods == ["GET", "PUT", "DELETE"]
    put = server.seen[1]
    assert json.loads(put[2]) == {"a": [1, "x"]} and put[4] == "application/json"
    assert put[5] == f"placement {client_mod.VERSION}"
    assert len({s[3] for s in server.seen}) == 1, "one connection for the three requests"


def test_a_connection_closed_while_idle_is_replaced_before_sending(placement, monkeypatch):
    """A POST is never sent twice; one after the server closed the idle
    connection still goes out, on a new connection."""
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    _no_requests(monkeypatch)
    client, server = placement(close_after=True)
    for _ in range(3):
        assert client.request("POST", "/allocations", json={}).status_code == 200
        time.sleep(0.05)  # the server's close reaches the client
    assert [s[0] for s in server.seen] == ["POST"] * 3
    assert len({s[3] for s in server.seen}) == 3


def test_a_timeout_is_an_error_and_not_sent_again(placement, monkeypatch):
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    client, server = placement(delay=1.5)
    with pytest.raises(client_mod.PlacementAPIError) as caught:
        client.request("GET", "/resource_providers")
    assert "GET /resource_providers" in caught.value.message
    assert [s[0] for s in server.seen] == ["GET"]


def test_a_proxied_endpoint_goes_through_requests(placement, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    used = []
    real = requests.Session.request

    def spy(self, method, url, **kwargs):
        used.append((method, url, kwargs.get("proxies") or self.proxies.get("http")))
        kwargs["proxies"] = {"http": None}  # the test has no proxy: go straight
        return real(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    client, server = placement()
    assert client.request("GET", "/resource_providers").status_code == 200
    assert used and used[0][2] == "http://127.0.0.1:9"


class _RawSocket:
    def __init__(self, data: bytes):
        self.data = data

    def makefile(self, mode):
        import io
        return io.BytesIO(self.data)


RAW_RESPONSES = [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
    b"OpenStack-API-Version: placement 1.39\r\n\r\n{}",
    b"HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n",
    b"HTTP/1.1 409 Conflict\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Type:text/plain \r\n\r\nuntil the end",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\nContent-Length: 1\r\nA:b\r\n\r\nx",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\nX-Twice: 1\r\nx-twice: 2\r\n\r\nx",
]


@pytest.mark.parametrize("raw", RAW_RESPONSES,
                         ids=[f"response{i}" for i in range(len(RAW_RESPONSES))])
def test_the_response_reads_as_http_client_reads_it(raw):
    """The client's own header reading gives what http.client's gives."""
    import http.client

    ours = client_mod._Response(_RawSocket(raw), method="GET")
    stock = http.client.HTTPResponse(_RawSocket(raw), method="GET")
    ours.begin()
    stock.begin()
    for attr in ("status", "reason", "version", "chunked", "length", "will_close"):
        assert getattr(ours, attr) == getattr(stock, attr), attr
    assert ours.headers.items() == stock.headers.items()
    assert ours.headers.get_all("x-twice") == stock.headers.get_all("x-twice")
    assert ours.read() == stock.read()
