"""The Compute API's consoles: POST /servers/{id}/remote-consoles (2.6+),
the legacy os-getVNCConsole / os-getSPICEConsole / os-getSerialConsole
actions (2.1–2.5) and the admin's GET /os-console-auth-tokens/{token}
(2.31+), their bodies against tempest's schemas, their errors in the API's
fault format, and the URLs they hand out opened through the proxies."""
from __future__ import annotations

import pytest

from compute_core.testing import api_request
from compute_core.testing.console import RFBClient, WebSocketStream, read_until
from tests import tempest_schemas

from .test_console_proxies import token_of, ws_url


@pytest.fixture(scope="module")
def server(compute_cloud, image_id):
    from .test_console_proxies import _boot

    sid = _boot(compute_cloud, "api-console")
    yield sid
    api_request(compute_cloud, "DELETE", f"/servers/{sid}")


def _remote(api, sid, protocol, console_type, version="2.6", **kw):
    return api("POST", f"/servers/{sid}/remote-consoles", version=version,
               body={"remote_console": {"protocol": protocol, "type": console_type}}, **kw)


def _fault(resp, status):
    assert resp.status_code == status, resp.text
    (kind,) = resp.json()
    body = resp.json()[kind]
    assert body["code"] == status
    return body["message"]


def test_remote_console_vnc_opens_the_screen(api, compute_cloud, server):
    resp = _remote(api, server, "vnc", "novnc")
    assert resp.status_code == 200, resp.text
    tempest_schemas.check(resp, "servers", "get_remote_consoles", "2.6")
    console = resp.json()["remote_console"]
    assert (console["protocol"], console["type"]) == ("vnc", "novnc")
    assert console["url"].startswith(compute_cloud.conf.vnc.novncproxy_base_url + "?path=")
    with WebSocketStream(ws_url(compute_cloud, "novnc", token_of(console["url"]))) as ws:
        assert RFBClient(ws).handshake() == "api-console"


def test_remote_console_serial_reads_the_boot_marker(api, server):
    resp = _remote(api, server, "serial", "serial", version="2.100")
    assert resp.status_code == 200, resp.text
    tempest_schemas.check(resp, "servers", "get_remote_consoles", "2.99")
    with WebSocketStream(resp.json()["remote_console"]["url"]) as ws:
        assert f"{server} booted".encode() in read_until(ws, b"login: ")


@pytest.mark.parametrize("body, status, message", [
    ({"remote_console": {"protocol": "telnet", "type": "serial"}}, 400, "protocol"),
    ({"remote_console": {"protocol": "vnc", "type": "x11"}}, 400, "type"),
    ({"remote_console": {"protocol": "vnc"}}, 400, "type"),
    ({"remote_console": {"protocol": "vnc", "type": "novnc", "extra": 1}}, 400, "extra"),
    ({"console": {"protocol": "vnc", "type": "novnc"}}, 400, "remote_console"),
    ({"remote_console": {"protocol": "vnc", "type": "serial"}}, 400, "Invalid type 'serial'"),
    ({"remote_console": {"protocol": "vnc", "type": "xvpvnc"}}, 400,
     "Unavailable console type xvpvnc"),
    ({"remote_console": {"protocol": "spice", "type": "spice-html5"}}, 400,
     "Unavailable console type spice-html5"),
    ({"remote_console": {"protocol": "mks", "type": "webmks"}}, 400, "mks"),
])
def test_remote_console_refusals(api, server, body, status, message):
    resp = api("POST", f"/servers/{server}/remote-consoles", version="2.6", body=body)
    assert message in _fault(resp, status)


def test_remote_console_webmks_from_2_8_is_unavailable(api, server):
    resp = _remote(api, server, "mks", "webmks", version="2.8")
    assert "Unavailable console type webmks" in _fault(resp, 400)


def test_remote_consoles_is_2_6_and_later(api, server):
    _fault(_remote(api, server, "vnc", "novnc", version="2.5"), 404)


def test_a_console_the_driver_cannot_give_is_501(api, compute_cloud, server):
    # Enabled, so not the 400 of an unavailable type; the fake driver does
    # not speak SPICE: 501 notImplemented, as Nova answers a driver's
    # NotImplementedError, on the 2.6 resource and on the legacy action.
    compute_cloud.conf.set_override("enabled", True, group="spice")
    try:
        resp = _remote(api, server, "spice", "spice-html5")
        legacy = api("POST", f"/servers/{server}/action", version="2.1",
                     body={"os-getSPICEConsole": {"type": "spice-html5"}})
    finally:
        compute_cloud.conf.clear_override("enabled", group="spice")
    for answer in (resp, legacy):
        assert list(answer.json()) == ["notImplemented"], answer.text
        assert "supports_console_spice is false" in _fault(answer, 501)


def test_a_server_not_running_or_not_yours_has_no_console(api, compute_cloud, server):
    missing = "00000000-0000-4000-8000-000000000000"
    assert missing in _fault(_remote(api, missing, "vnc", "novnc"), 404)
    # Another project's member does not see the server at all.
    _fault(_remote(api, server, "vnc", "novnc", token="other:other"), 404)
    # A stopped server has no console to show.
    assert api("POST", f"/servers/{server}/action", body={"os-stop": None}).status_code == 202
    from compute_core.testing import wait_for_server

    wait_for_server(compute_cloud, server, ("SHUTOFF",))
    try:
        assert "is not ready" in _fault(_remote(api, server, "vnc", "novnc"), 409)
    finally:
        api("POST", f"/servers/{server}/action", body={"os-start": None})
        wait_for_server(compute_cloud, server, ("ACTIVE",))


@pytest.mark.parametrize("action, console_type, status", [
    ("os-getVNCConsole", "novnc", 200),
    ("os-getSerialConsole", "serial", 200),
    ("os-getSPICEConsole", "spice-html5", 400),
    ("os-getVNCConsole", "xvpvnc", 400),
])
def test_the_legacy_actions(api, compute_cloud, server, action, console_type, status):
    resp = api("POST", f"/servers/{server}/action", version="2.1",
               body={action: {"type": console_type}})
    if status != 200:
        assert f"Unavailable console type {console_type}" in _fault(resp, status)
        return
    assert resp.status_code == 200, resp.text
    if action == "os-getVNCConsole":
        tempest_schemas.check(resp, "servers", "get_vnc_console", "2.1")
    body = resp.json()["console"]
    assert body["type"] == console_type
    token = token_of(body["url"])
    proxy = "novnc" if console_type == "novnc" else "serial"
    with WebSocketStream(ws_url(compute_cloud, proxy, token)) as ws:
        if proxy == "novnc":
            assert RFBClient(ws).handshake() == "api-console"
        else:
            assert b"login: " in read_until(ws, b"login: ")


@pytest.mark.parametrize("body, message", [
    ({"os-getVNCConsole": {"type": "serial"}}, "type"),
    ({"os-getVNCConsole": {}}, "type"),
    ({"os-getSerialConsole": {"type": "novnc"}}, "type"),
    ({"os-getVNCConsole": None}, "os-getVNCConsole"),
])
def test_the_legacy_actions_check_their_bodies(api, server, body, message):
    resp = api("POST", f"/servers/{server}/action", version="2.1", body=body)
    assert message in _fault(resp, 400)


def test_the_legacy_actions_end_at_2_6(api, server):
    resp = api("POST", f"/servers/{server}/action", version="2.6",
               body={"os-getVNCConsole": {"type": "novnc"}})
    assert resp.status_code in (400, 404), resp.text


def test_console_auth_token_details_for_admins(api, compute_cloud, server):
    url = _remote(api, server, "vnc", "novnc").json()["remote_console"]["url"]
    token = token_of(url)
    resp = api("GET", f"/os-console-auth-tokens/{token}", version="2.31")
    assert resp.status_code == 200, resp.text
    tempest_schemas.check(resp, "servers", "console_auth_tokens", "2.99")
    details = resp.json()["console"]
    host = api("GET", f"/servers/{server}").json()["server"]["OS-EXT-SRV-ATTR:host"]
    info = compute_cloud.driver(host).get_console_connection(None, {"uuid": server}, "novnc")
    assert details == {"instance_uuid": server, "host": info["host"], "port": info["port"],
                       "internal_access_path": None}
    # Also at 2.99 (tls_port only for spice-direct, which is not served).
    assert api("GET", f"/os-console-auth-tokens/{token}",
               version="2.100").json()["console"] == details
    # Before 2.31 the API served only RDP tokens: 400.
    _fault(api("GET", f"/os-console-auth-tokens/{token}", version="2.30"), 400)
    # Admins only.
    _fault(api("GET", f"/os-console-auth-tokens/{token}", version="2.31",
               token=compute_cloud.member_token), 403)
    # Unknown and deleted-with-the-server tokens are 404.
    assert "Token not found" in _fault(api("GET", "/os-console-auth-tokens/" + "A" * 43,
                                           version="2.31"), 404)


def test_openstack_client_console_url_show(compute_cloud, server, admin_openstack_connection):
    conn = admin_openstack_connection
    console = conn.compute.create_server_remote_console(server, protocol="vnc",
                                                        type="novnc")
    assert console.url.startswith(compute_cloud.conf.vnc.novncproxy_base_url)
    with WebSocketStream(ws_url(compute_cloud, "novnc", token_of(console.url))) as ws:
        assert RFBClient(ws).handshake() == "api-console"
