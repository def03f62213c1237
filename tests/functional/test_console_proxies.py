"""The console proxies of the embedded cloud, end to end without a browser:
a console handed out for a fake guest, opened through the noVNC and serial
proxies over websockets, and every way a connection is refused (wrong,
expired, deleted or mismatched token, foreign Origin, plain HTTP, TLS
rules), each with the reason in the proxy's log and the guest untouched."""
from __future__ import annotations

import logging
import re
import socket
import subprocess
import threading
import urllib.parse

import pytest
import requests

from compute_core import context
from compute_core import conf as conf_mod
from compute_core.console import access, tokens
from compute_core.console.service import ConsoleProxyService
from compute_core.testing import api_request, first_image_id, wait_for_server
from compute_core.testing.console import RFBClient, WebSocketStream, read_until

LOGGER = "compute_core.console.service"


def _boot(cloud, name):
    resp = api_request(cloud, "POST", "/servers", body={"server": {
        "name": name, "imageRef": first_image_id(cloud), "flavorRef": "1"}})
    assert resp.status_code == 202, resp.text
    server = wait_for_server(cloud, resp.json()["server"]["id"])
    assert server["status"] == "ACTIVE"
    return server["id"]


@pytest.fixture(scope="module")
def servers(compute_cloud):
    ids = {name: _boot(compute_cloud, name) for name in ("console-a", "console-b")}
    yield ids
    for sid in ids.values():
        api_request(compute_cloud, "DELETE", f"/servers/{sid}")


def console(cloud, sid, protocol="vnc", console_type="novnc") -> str:
    """The console URL the API hands out (POST /servers/{id}/remote-consoles)."""
    resp = api_request(cloud, "POST", f"/servers/{sid}/remote-consoles", version="2.6",
                       body={"remote_console": {"protocol": protocol, "type": console_type}})
    assert resp.status_code == 200, resp.text
    return resp.json()["remote_console"]["url"]


def console_direct(cloud, sid, protocol="vnc", console_type="novnc") -> str:
    """The same from compute_core.console.access, whose refusals are
    exceptions (the API's are in test_remote_consoles_api)."""
    from compute_core.api.server_service import ServerService

    return access.get_console(cloud._api, ServerService(cloud._api),
                              context.get_admin_context(), sid, protocol,
                              console_type)["url"]


def token_of(url: str) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    if "path" in query:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(query["path"][0]).query)
    return query["token"][0]


def ws_url(cloud, proxy, token, extra=""):
    base = cloud.console_urls[proxy].replace("http", "ws", 1)
    return f"{base}/?token={token}{extra}"


def _refused(url, origin=None):
    with pytest.raises(Exception, match="WebSocket request denied: 403"):
        WebSocketStream(url, origin=origin)


def test_the_embedded_cloud_runs_the_novnc_and_serial_proxies(compute_cloud):
    cloud = compute_cloud
    assert set(cloud.console_urls) == {"novnc", "serial"}
    assert cloud.conf.vnc.novncproxy_base_url == cloud.console_urls["novnc"] + "/vnc_lite.html"
    assert cloud.conf.serial_console.base_url == \
        cloud.console_urls["serial"].replace("http", "ws") + "/"
    assert cloud.conf.serial_console.enabled and not cloud.conf.spice.enabled


def test_novnc_url_opens_the_guests_screen(compute_cloud, servers):
    url = console(compute_cloud, servers["console-a"])
    assert url.startswith(compute_cloud.console_urls["novnc"] + "/vnc_lite.html?path=%3Ftoken%3D")
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "noVNC" in page.text
    with WebSocketStream(ws_url(compute_cloud, "novnc", token_of(url))) as ws:
        client = RFBClient(ws)
        assert client.handshake() == "console-a"
        screen = client.screen()
    assert len({screen[i:i + 3] for i in range(0, len(screen), 4)}) >= 9


def test_serial_url_reads_the_boot_marker(compute_cloud, servers):
    sid = servers["console-a"]
    url = console(compute_cloud, sid, "serial", "serial")
    assert url.startswith(compute_cloud.conf.serial_console.base_url + "?token=")
    with WebSocketStream(url) as ws:
        text = read_until(ws, b"login: ")
        assert f"{sid} booted".encode() in text
        ws.sendall(b"hello\r")
        assert b"hello\r\n" in read_until(ws, b"hello\r\n")


def test_a_token_opens_its_own_instance_only(compute_cloud, servers, caplog):
    url_a = console(compute_cloud, servers["console-a"])
    url_b = console(compute_cloud, servers["console-b"])
    assert token_of(url_a) != token_of(url_b)
    for url, name in ((url_a, "console-a"), (url_b, "console-b")):
        # Whatever else the request says, the recorded host and port win.
        extra = "&host=10.0.0.1&port=22&instance=" + servers["console-b" if name ==
                                                              "console-a" else "console-a"]
        with WebSocketStream(ws_url(compute_cloud, "novnc", token_of(url), extra)) as ws:
            assert RFBClient(ws).handshake() == name
    # A serial token on the noVNC proxy, and the reverse: refused, with why.
    serial = token_of(console(compute_cloud, servers["console-a"], "serial", "serial"))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        _refused(ws_url(compute_cloud, "novnc", serial))
        _refused(ws_url(compute_cloud, "serial", token_of(url_a)))
    reasons = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert any("is for a serial console, not novnc" in r for r in reasons), reasons
    assert any("is for a novnc console, not serial" in r for r in reasons), reasons


@pytest.mark.parametrize("token, reason", [
    ("", "no console token in the request"),
    ("A" * 43, "unknown console token"),
    ("A" * 400, "console token too long")])
def test_a_wrong_token_is_refused_with_the_reason_logged(compute_cloud, servers, caplog,
                                                          token, reason):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        _refused(ws_url(compute_cloud, "novnc", token))
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert any(reason in m for m in messages), messages
    assert not any(token and token in m for m in messages)  # never the token itself


def test_an_expired_token_is_refused(compute_cloud, servers, caplog):
    sid = servers["console-b"]
    _, db = compute_cloud._api.cells.for_instance(sid)
    host = api_request(compute_cloud, "GET", f"/servers/{sid}").json()["server"][
        "OS-EXT-SRV-ATTR:host"]
    info = compute_cloud.driver(host).get_console_connection(None, {"uuid": sid}, "novnc")
    token, _ = tokens.create(db, sid, "novnc", info["host"], info["port"], ttl=1, now=1000)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        _refused(ws_url(compute_cloud, "novnc", token))
    assert any(f"console token of instance {sid} expired" in r.getMessage()
               for r in caplog.records)


def test_a_deleted_instances_tokens_are_gone(compute_cloud, caplog):
    sid = _boot(compute_cloud, "console-doomed")
    url = console(compute_cloud, sid)
    with WebSocketStream(ws_url(compute_cloud, "novnc", token_of(url))) as ws:
        assert RFBClient(ws).handshake() == "console-doomed"
    api_request(compute_cloud, "DELETE", f"/servers/{sid}")
    wait_for_server(compute_cloud, sid, ("DELETED",))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        _refused(ws_url(compute_cloud, "novnc", token_of(url)))
    assert any("unknown console token" in r.getMessage() for r in caplog.records)


def test_origin_rules(compute_cloud, servers, caplog):
    cloud = compute_cloud
    token = token_of(console(cloud, servers["console-a"]))
    url = ws_url(cloud, "novnc", token)
    port = urllib.parse.urlsplit(url).port
    # The page the proxy served itself, and no Origin (not a browser): fine.
    for origin in (f"http://127.0.0.1:{port}", f"https://127.0.0.1:{port}", None):
        with WebSocketStream(url, origin=origin) as ws:
            assert RFBClient(ws).handshake() == "console-a"
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for origin in ("http://evil.example", "http://127.0.0.1.evil.example:80",
                       "ftp://127.0.0.1", "null"):
            _refused(url, origin=origin)
    messages = " ".join(r.getMessage() for r in caplog.records if r.name == LOGGER)
    assert "'http://evil.example' is neither this proxy's host" in messages
    assert "scheme 'ftp'" in messages and "'null' names no host" in messages
    # [console] allowed_origins lets a dashboard's host in.
    cloud.conf.set_override("allowed_origins", ["dashboard.example"], group="console")
    try:
        proxy = cloud.console_proxies["novnc"]
        proxy.server.allowed_origins = cloud.conf.console.allowed_origins
        with WebSocketStream(url, origin="https://dashboard.example") as ws:
            assert RFBClient(ws).handshake() == "console-a"
    finally:
        cloud.conf.clear_override("allowed_origins", group="console")
        proxy.server.allowed_origins = []
    _refused(url, origin="https://dashboard.example")


def test_a_client_that_sends_half_a_request_is_cut(compute_cloud, monkeypatch):
    from compute_core.console import service as service_mod

    monkeypatch.setattr(service_mod, "IO_TIMEOUT", 1)
    cells = compute_cloud._api.cells
    dbs = [cells.get(c["uuid"]) for c in cells.cells(include_cell0=False)]
    service = ConsoleProxyService(compute_cloud.conf, "serial", dbs, listen="127.0.0.1",
                                  port=0)
    service.start()
    try:
        with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
            sock.sendall(b"GET /?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends
            assert sock.recv(100) == b""  # closed, without an answer
    finally:
        service.stop()


def test_plain_http_requests_reach_no_guest(compute_cloud, servers):
    cloud = compute_cloud
    token = token_of(console(cloud, servers["console-a"], "serial", "serial"))
    serial = cloud.console_urls["serial"]
    # The serial proxy serves websockets only.
    resp = requests.get(f"{serial}/?token={token}", timeout=10)
    assert resp.status_code == 405
    novnc = cloud.console_urls["novnc"]
    assert requests.get(f"{novnc}/vnc_lite.html", timeout=10).status_code == 200
    # No directory listings, nothing outside the client's directory.
    assert requests.get(f"{novnc}/?token={token}", timeout=10).status_code == 404
    with socket.create_connection(("127.0.0.1", urllib.parse.urlsplit(novnc).port)) as sock:
        sock.sendall(b"GET /../../../etc/passwd HTTP/1.0\r\n\r\n")
        assert sock.recv(100).split(b"\r\n")[0].endswith(b"404 File not found")
    # An upgrade without the websocket headers: 400, not a relay.
    resp = requests.get(f"{novnc}/?token={token}", headers={"Upgrade": "websocket",
                                                           "Connection": "Upgrade"},
                        timeout=10)
    assert resp.status_code in (400, 403)


def _self_signed(tmp_path):
    cert, key = tmp_path / "proxy.pem", tmp_path / "proxy.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.mark.parametrize("ssl_only", [False, True])
def test_tls_with_cert_and_key(compute_cloud, servers, tmp_path, monkeypatch, ssl_only):
    cert, key = _self_signed(tmp_path)
    conf = conf_mod.load(overrides={"cert": str(cert), "key": str(key), "ssl_only": ssl_only})
    cells = compute_cloud._api.cells
    dbs = [cells.get(c["uuid"]) for c in cells.cells(include_cell0=False)]
    service = ConsoleProxyService(conf, "serial", dbs, listen="127.0.0.1", port=0)
    service.start()
    try:
        assert service.url.startswith("https://127.0.0.1:")
        token = token_of(console(compute_cloud, servers["console-b"], "serial", "serial"))
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust it for the client
        wss = service.url.replace("https", "wss") + f"/?token={token}"
        with WebSocketStream(wss, origin=service.url) as ws:
            assert b"console-b login: " in read_until(ws, b"login: ")
        # A plain-http Origin on a TLS connection is refused.
        _refused(wss, origin=service.url.replace("https", "http"))
        plain = service.url.replace("https", "ws") + f"/?token={token}"
        if ssl_only:
            with pytest.raises(Exception):
                WebSocketStream(plain)
        else:
            with WebSocketStream(plain) as ws:
                assert b"login: " in read_until(ws, b"login: ")
    finally:
        service.stop()


def test_ssl_only_without_a_cert_does_not_start(compute_cloud, tmp_path):
    from compute_core import exception

    conf = conf_mod.load(overrides={"cert": str(tmp_path / "missing.pem"), "ssl_only": True})
    with pytest.raises(exception.ConfigError, match="ssl_only is set but the cert file"):
        ConsoleProxyService(conf, "serial", [], listen="127.0.0.1", port=0)


def test_a_guest_that_is_gone_closes_the_websocket(compute_cloud, caplog):
    sid = _boot(compute_cloud, "console-vanishing")
    url = console(compute_cloud, sid, "serial", "serial")
    host = api_request(compute_cloud, "GET", f"/servers/{sid}").json()["server"][
        "OS-EXT-SRV-ATTR:host"]
    # The guest's port closes (as when a hypervisor's guest dies), the
    # token is still live: the proxy closes the websocket, saying why.
    compute_cloud.driver(host).consoles.close(sid)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        with WebSocketStream(url) as ws:
            assert ws.recv(10) == b""
            assert ws.ws.close_code == 1011
    assert any(re.search(r"cannot reach the serial console of instance", r.getMessage())
               for r in caplog.records)
    api_request(compute_cloud, "DELETE", f"/servers/{sid}")


def test_stopping_the_proxy_ends_open_sessions(compute_cloud, servers):
    conf = compute_cloud.conf
    cells = compute_cloud._api.cells
    dbs = [cells.get(c["uuid"]) for c in cells.cells(include_cell0=False)]
    service = ConsoleProxyService(conf, "serial", dbs, listen="127.0.0.1", port=0)
    service.start()
    token = token_of(console(compute_cloud, servers["console-a"], "serial", "serial"))
    ws = WebSocketStream(service.url.replace("http", "ws") + f"/?token={token}")
    read_until(ws, b"login: ")
    done = threading.Event()
    threading.Thread(target=lambda: (service.stop(), done.set()), daemon=True).start()
    assert done.wait(10)
    assert ws.recv(10) == b""
    ws.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", service.port), timeout=2).close()


def test_an_unknown_or_unavailable_console_type(compute_cloud, servers):
    from compute_core import exception

    sid = servers["console-a"]
    for protocol, console_type, error, message in (
            ("vnc", "serial", exception.Invalid, "Invalid type 'serial' for protocol vnc"),
            ("telnet", "serial", exception.Invalid, "Invalid protocol 'telnet'"),
            ("vnc", "xvpvnc", access.ConsoleTypeUnavailable, "Unavailable console type xvpvnc"),
            ("spice", "spice-html5", access.ConsoleTypeUnavailable,
             "Unavailable console type spice-html5")):
        with pytest.raises(error, match=re.escape(message)):
            console_direct(compute_cloud, sid, protocol, console_type)
    # Enabled, but the fake driver does not speak SPICE: 501 from its declaration.
    compute_cloud.conf.set_override("enabled", True, group="spice")
    try:
        with pytest.raises(access.ConsoleNotSupported) as err:
            console_direct(compute_cloud, sid, "spice", "spice-html5")
        assert err.value.code == 501 and "supports_console_spice is false" in str(err.value)
    finally:
        compute_cloud.conf.clear_override("enabled", group="spice")


def _run_proxy(args, config_text, tmp_path, timeout=60):
    import subprocess
    import sys

    config = tmp_path / "proxy.conf"
    config.write_text(config_text)
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from compute_core.cmd import console; "
         f"sys.exit(console.{args[0]}(sys.argv[1:]))", "--config-file", str(config),
         *args[1:]], stderr=subprocess.PIPE, text=True)


def test_compute_novncproxy_serves_and_stops_cleanly(compute_cloud, servers, tmp_path):
    cells = compute_cloud._api.cells
    (cell,) = cells.cells(include_cell0=False)
    proc = _run_proxy(["novncproxy_main", "--listen", "127.0.0.1", "--port", "0"],
                      f"[database]\nconnection = {cells.get(cell['uuid']).url}\n", tmp_path)
    try:
        url, lines = None, []
        for line in proc.stderr:
            lines.append(line)
            found = re.search(r"console proxy novnc \(novnc\) serving on ([^\s,]+)", line)
            url = url or (found and found.group(1))
            if "compute-novncproxy ready" in line:
                break
        assert url, "".join(lines)
        assert "noVNC" in requests.get(url + "/vnc_lite.html", timeout=10).text
        token = token_of(console(compute_cloud, servers["console-b"]))
        with WebSocketStream(url.replace("http", "ws") + f"/?token={token}") as ws:
            assert RFBClient(ws).handshake() == "console-b"
    finally:
        proc.terminate()
        assert proc.wait(30) == 0


@pytest.mark.parametrize("config, error", [
    ("[vnc]\nnovnc_path = /nonexistent\n",
     "compute-novncproxy: error: [vnc] novnc_path = '/nonexistent' has no vnc_lite.html: "
     "install the novnc client there"),
    ("[DEFAULT]\nssl_only = true\ncert = /nonexistent.pem\n",
     "compute-novncproxy: error: [DEFAULT] ssl_only is set but the cert file"),
])
def test_compute_novncproxy_startup_errors_are_one_line(compute_cloud, tmp_path, config,
                                                        error):
    cells = compute_cloud._api.cells
    (cell,) = cells.cells(include_cell0=False)
    proc = _run_proxy(["novncproxy_main", "--port", "0"],
                      f"[database]\nconnection = {cells.get(cell['uuid']).url}\n" + config,
                      tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and lines[0].startswith(error), err
    assert "Traceback" not in err


def test_compute_aio_serves_consoles(tmp_path):
    """compute-aio runs the noVNC and serial proxies beside its APIs and its
    console URLs lead to them (and its ready file names them)."""
    import json
    import signal
    import time

    from tests.aio_process import start_compute_aio

    ready = tmp_path / "ready.json"
    proc, banner, url, _ = start_compute_aio(tmp_path / "state", "--hosts", "1", "--quiet",
                                             "--ready-file", str(ready))
    try:
        proxies = dict(re.findall(r"^console proxy (http\S+)\s+\((\S+)\)$", banner, re.M))
        assert sorted(proxies.values()) == ["novnc", "serial"], banner
        assert sorted(json.loads(ready.read_text())["console_urls"]) == ["novnc", "serial"]
        headers = {"X-Auth-Token": "admin:admin", "OpenStack-API-Version": "compute 2.6"}
        image = requests.get(url + "/images", headers=headers, timeout=10).json()["images"][0]
        sid = requests.post(url + "/servers", headers=headers, timeout=30, json={"server": {
            "name": "aio-console", "imageRef": image["id"], "flavorRef": "1"}}).json()[
            "server"]["id"]
        deadline = time.monotonic() + 60
        while requests.get(f"{url}/servers/{sid}", headers=headers, timeout=10).json()[
                "server"]["status"] != "ACTIVE":
            assert time.monotonic() < deadline, "server not ACTIVE"
            time.sleep(0.2)
        resp = requests.post(f"{url}/servers/{sid}/remote-consoles", headers=headers,
                             timeout=30, json={"remote_console": {"protocol": "serial",
                                                                  "type": "serial"}})
        assert resp.status_code == 200, resp.text
        console_url = resp.json()["remote_console"]["url"]
        serial = next(u for u, name in proxies.items() if name == "serial")
        assert console_url.startswith(serial.replace("http", "ws", 1) + "/?token=")
        with WebSocketStream(console_url) as ws:
            assert f"{sid} booted".encode() in read_until(ws, b"aio-console login: ")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "Traceback" not in out, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
