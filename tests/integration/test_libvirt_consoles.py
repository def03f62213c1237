"""Remote consoles of a real QEMU guest, end to end: the Compute API hands
out the URL, the proxy plugins of the embedded cloud (compute-novncproxy,
compute-spicehtml5proxy, compute-serialproxy) check its token and relay to
the guest's VNC, SPICE and TCP serial ports that libvirt opened, and the
clients a user would run (noVNC and spice-html5 in headless Chromium, a
websocket for the serial port) show the guest.

What the browser shows is compared with the guest's screen read straight
from its VNC server (not through a proxy): the tiny guest writes its boot
marker on the VGA text console, so the screen is not blank, and a canvas
that shows an error or nothing does not match it. Skipped, with the reason
printed, without libvirtd/QEMU (see test_libvirt_guests) or Chromium.
"""
from __future__ import annotations

import socket
import time

import pytest

from compute_core.testing.console import RFBClient, WebSocketStream, read_until
from compute_core_plugins.virt.libvirt import config, tiny_guest
from tests import browser as chromium

from .test_libvirt_guests import _domain, libvirt_cloud

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PORT_RANGE = (10700, 10799)


@pytest.fixture(scope="module")
def lv():
    # The proxies of all three types: the cloud enables each console type
    # it runs a proxy for, and a libvirt host then gives its guests VNC and
    # SPICE graphics and a TCP serial port (Nova's [vnc]/[spice]/
    # [serial_console] enabled).
    with libvirt_cloud(hosts=1, **{
            "aio.console_proxies": ["novnc", "spice-html5", "serial"],
            "serial_console.port_range": "%d:%d" % PORT_RANGE}) as client:
        yield client


@pytest.fixture(scope="module")
def guest(lv):
    sid = lv.create("console-guest")
    lv.wait(sid, "ACTIVE")
    lv.wait_marker(sid)
    yield sid
    lv.delete(sid)


def _url(lv, sid, protocol, console_type):
    body = lv.call("POST", f"/servers/{sid}/remote-consoles",
                   {"remote_console": {"protocol": protocol, "type": console_type}})
    return body["remote_console"]["url"]


def _direct_screen(lv, sid):
    """(width, height, RGB rows) of the guest's screen from its own VNC
    server, and how many of its pixels are lit (not black)."""
    info = lv.driver_of(sid).get_console_connection(None, {"uuid": sid}, "novnc")
    with socket.create_connection((info["host"], info["port"]), timeout=30) as sock:
        rfb = RFBClient(sock)
        rfb.handshake()
        data = rfb.screen()
    stride = rfb.width * 4
    rows = [bytes(b for i in range(y * stride, (y + 1) * stride, 4) for b in data[i:i + 3])
            for y in range(rfb.height)]
    return rfb.width, rfb.height, rows


def _lit(rows):
    return {(x, y) for y, row in enumerate(rows) for x in range(len(row) // 3)
            if any(row[x * 3:x * 3 + 3])}


def _assert_shows(seen, reference):
    """The browser's canvas (*seen*) is the guest's screen (*reference*):
    the same size, its text drawn where the guest has it."""
    (w, h, rows), (rw, rh, ref) = seen, reference
    assert (w, h) == (rw, rh), f"canvas {w}x{h}, guest screen {rw}x{rh}"
    lit = _lit(ref)
    # The guest wrote its marker (and the firmware its banner) on the screen.
    assert len(lit) > 300, f"the guest's screen is nearly blank ({len(lit)} lit pixels)"
    same = sum(rows[y][x * 3:x * 3 + 3] == ref[y][x * 3:x * 3 + 3] for x, y in lit)
    # A blinking cursor may differ between the two reads.
    assert same >= 0.95 * len(lit), f"{same} of the guest's {len(lit)} lit pixels shown"
    # And little else: spice.css rounds the canvas's corners, which lights
    # its outermost ring of pixels; inside it, what is lit is the guest's.
    extra = {(x, y) for x, y in _lit(rows) - lit if 0 < x < w - 1 and 0 < y < h - 1}
    assert len(extra) <= 0.05 * len(lit), f"{len(extra)} pixels lit the guest does not show"


def _wait_until_shown(driver, selector, reference, save_to, timeout=60):
    """Screenshots until the element shows the reference or *timeout*."""
    deadline = time.monotonic() + timeout
    while True:
        seen = chromium.element_pixels(driver, selector, save_to)
        try:
            _assert_shows(seen, reference)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(1)


def test_novnc_in_chromium_shows_the_guests_screen(lv, guest, tmp_path):
    url = _url(lv, guest, "vnc", "novnc")
    assert url.startswith(lv.cloud.console_urls["novnc"])
    reference = _direct_screen(lv, guest)
    driver = chromium.browser()
    try:
        driver.get(url)
        status = chromium.novnc_status(driver, timeout=60)
        # QEMU names its VNC desktop after the domain: this very guest.
        assert status == f"Connected to QEMU (instance-{guest})", status
        _wait_until_shown(driver, "#screen canvas", reference, tmp_path / "novnc.png")
    finally:
        driver.quit()


SPICE_STATE = ("var m = document.getElementById('message-div');"
               "var c = document.getElementById('spice_surface_0');"
               "return [(m && m.textContent) || '', c ? c.width : 0, c ? c.height : 0];")


def test_spice_html5_in_chromium_shows_the_guests_screen(lv, guest, tmp_path):
    if "spice-html5" not in lv.cloud.console_urls:
        chromium.skip("no SPICE HTML5 proxy: its client is missing (apt-get install "
                      "spice-html5)")
    assert "<graphics type='spice'" in _domain(guest)
    url = _url(lv, guest, "spice", "spice-html5")
    assert url.startswith(lv.cloud.console_urls["spice-html5"])
    reference = _direct_screen(lv, guest)
    driver = chromium.browser()
    try:
        driver.get(url)
        # spice-html5's own report: its main channel connected, then the
        # display channel made the primary surface's canvas.
        messages, width, height = chromium.wait_for(
            driver, SPICE_STATE, lambda v: v[1] > 0 or "rror" in v[0], timeout=60)
        assert "Connected" in messages and width > 0, messages
        _wait_until_shown(driver, "#spice_surface_0", reference, tmp_path / "spice.png")
    finally:
        driver.quit()


def _expect(ws, text: bytes, timeout: float) -> bytes:
    """Read *ws* until *text*; b"" when it does not come within *timeout*."""
    ws.ws.settimeout(timeout)
    try:
        return read_until(ws, text, timeout=timeout)
    except (TimeoutError, AssertionError):
        return b""


def test_the_serial_console_shows_the_boot_marker_and_echoes(lv, guest):
    where = config.serial_tcp(_domain(guest))
    assert where is not None and PORT_RANGE[0] <= where[1] <= PORT_RANGE[1], where
    url = _url(lv, guest, "serial", "serial")
    assert url.startswith(lv.cloud.console_urls["serial"].replace("http", "ws", 1))
    # The token leads to the guest's TCP port at [serial_console] proxyclient_address.
    token = url.rpartition("token=")[2]
    assert lv.call("GET", f"/os-console-auth-tokens/{token}")["console"] == {
        "instance_uuid": guest, "host": "127.0.0.1", "port": where[1],
        "internal_access_path": None}
    # The URL's token lasts its ttl and leads to the same port after a
    # reboot: watch the guest boot again through it.
    lv.action(guest, {"reboot": {"type": "HARD"}})
    deadline = time.monotonic() + 180
    seen = b""
    while tiny_guest.MARKER.encode() not in seen:
        assert time.monotonic() < deadline, f"no marker on the serial websocket: {seen!r}"
        try:
            ws = WebSocketStream(url, timeout=90)
        except OSError:
            time.sleep(0.1)
            continue
        try:
            seen = read_until(ws, tiny_guest.MARKER.encode(), timeout=150)
        except (ConnectionError, TimeoutError):
            # The old guest went away under it, or the new one is not up
            # yet: the proxy closes; connect again.
            ws.close()
            time.sleep(0.1)
            continue
    try:
        # A line typed on the console is answered by the guest.
        answer = tiny_guest.ECHO.encode() + b"hello from the proxy"
        for _ in range(30):
            ws.sendall(b"hello from the proxy\r")
            if answer in _expect(ws, answer, 2):
                break
        else:
            raise AssertionError("the guest did not echo the line typed on its console")
    finally:
        ws.close()
    lv.wait(guest, "ACTIVE")
