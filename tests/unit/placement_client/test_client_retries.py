"""The placement client sends an idempotent request again when the server
dropped the kept-alive connection under it (RemoteDisconnected), a bounded
number of times; a POST is never sent twice."""
from __future__ import annotations

import http.server
import json

import pytest

from compute_core import conf as conf_mod
from compute_core.placement_client import client as client_mod

from .local_server import LocalServer


class DroppingServer(LocalServer):
    """Closes the connection without an answer for the first *drops*
    requests (as a server does to a kept-alive connection it timed out),
    then answers 200 with an empty candidates body."""

    def __init__(self, drops):
        self.drops = drops
        super().__init__(Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append(self.command)
        if len(self.server.seen) <= self.server.drops:
            self.close_connection = True  # no status line: RemoteDisconnected
            return
        body = json.dumps({"allocation_requests": [], "provider_summaries": {}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_DELETE = do_POST = _any

    def log_message(self, *args):
        pass


@pytest.fixture
def placement():
    servers = []

    def make(drops):
        server = DroppingServer(drops)
        servers.append(server)
        conf = conf_mod.load(overrides={"placement.auth_strategy": "noauth2",
                                        "placement.endpoint_override": server.url})
        return client_mod.PlacementClient(conf), server

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def test_allocation_candidates_survive_a_dropped_connection(placement):
    client, server = placement(drops=1)
    try:
        assert client.allocation_candidates({"VCPU": 1}, 10) == ([], {})
    finally:
        client.close()
    assert server.seen == ["GET", "GET"]


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_idempotent_writes_are_sent_again(placement, method):
    client, server = placement(drops=2)
    try:
        assert client.request(method, "/anything", json={}).status_code == 200
    finally:
        client.close()
    assert server.seen == [method] * 3


def test_resending_is_bounded(placement):
    client, server = placement(drops=100)
    try:
        with pytest.raises(client_mod.PlacementAPIError) as caught:
            client.request("GET", "/allocation_candidates")
    finally:
        client.close()
    assert "GET /allocation_candidates" in caught.value.message
    assert server.seen == ["GET"] * client_mod.SEND_ATTEMPTS


def test_a_post_is_not_sent_twice(placement):
    client, server = placement(drops=1)
    try:
        with pytest.raises(client_mod.PlacementAPIError):
            client.request("POST", "/allocations", json={})
    finally:
        client.close()
    assert server.seen == ["POST"]


def test_the_environment_is_read_once_per_session(placement, monkeypatch):
    client, server = placement(drops=0)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    import requests.utils

    reads = []
    real = requests.utils.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                        lambda *a, **k: reads.append(a) or real(*a, **k))
    try:
        for _ in range(5):
            assert client.request("GET", "/resource_providers").status_code == 200
        session = client._session()
    finally:
        client.close()
    assert len(reads) == 1 and len(server.seen) == 5
    # NO_PROXY names the endpoint: no proxy for it, as requests would decide.
    assert session.proxies.get("http") is None and not session.trust_env
