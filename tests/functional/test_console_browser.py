"""A console in a real browser: headless Chromium (Debian's chromium and
chromium-driver, driven offline by selenium) opens the console URL the
cloud hands out, Debian's noVNC client served by the noVNC proxy connects
through it to the fake guest's VNC server, and a screenshot shows the
guest's screen (its colour bars), not a blank page or an error."""
from __future__ import annotations

import os
import shutil
import struct
import time
import zlib

import pytest

from compute_core.testing import api_request

from .test_console_proxies import _boot, console

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The fake guest's bars (fake_console.BARS), as the browser shows them.
BARS = [(235, 235, 235), (235, 235, 16), (16, 235, 235), (16, 235, 16),
        (235, 16, 235), (235, 16, 16), (16, 16, 235)]


def _browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install .[test])")
    for path in (CHROMEDRIVER, CHROMIUM):
        if not os.path.exists(path):
            pytest.skip(f"{path} is missing (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--window-size=1024,800",
                 "--disable-dev-shm-usage"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """(width, height, bytes per pixel, rows) of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def test_novnc_in_chromium_shows_the_guests_screen(compute_cloud, tmp_path):
    browser = _browser()
    sid = _boot(compute_cloud, "console-browser")
    try:
        url = console(compute_cloud, sid)
        browser.get(url)
        deadline = time.monotonic() + 30
        status = ""
        while time.monotonic() < deadline:
            status = browser.execute_script(
                "var s = document.getElementById('status'); return s && s.textContent;") or ""
            if status.startswith("Connected") or "Disconnected" in status \
                    or "wrong" in status:
                break
            time.sleep(0.2)
        assert status == "Connected to console-browser", status
        time.sleep(1)  # the first framebuffer update is drawn
        shot = browser.get_screenshot_as_png()
        (tmp_path / "console.png").write_bytes(shot)
        width, height, bpp, rows = decode_png(shot)
        colours = set()
        for y in range(0, height, 4):
            row = rows[y]
            for x in range(0, width, 4):
                colours.add(tuple(row[x * bpp:x * bpp + 3]))
        # The guest's bars are on the page, and it is not one flat colour.
        missing = [bar for bar in BARS if bar not in colours]
        assert missing == [], (missing, len(colours))
        assert len(colours) >= 10
        # The whole screen is drawn: the bars fill two thirds of its 400
        # rows (a client that drew only its first update would show a strip).
        bar_rows = [y for y in range(height) if any(
            tuple(rows[y][x * bpp:x * bpp + 3]) == BARS[3] for x in range(0, width, 8))]
        assert len(bar_rows) >= 260, len(bar_rows)
    finally:
        browser.quit()
        api_request(compute_cloud, "DELETE", f"/servers/{sid}")


def test_the_page_without_a_valid_token_does_not_connect(compute_cloud):
    browser = _browser()
    try:
        base = compute_cloud.conf.vnc.novncproxy_base_url
        browser.get(f"{base}?path=%3Ftoken%3D{'A' * 43}")
        deadline = time.monotonic() + 30
        status = ""
        while time.monotonic() < deadline:
            status = browser.execute_script(
                "return document.getElementById('status').textContent;") or ""
            if status not in ("Loading", "Connecting"):
                break
            time.sleep(0.2)
        assert not status.startswith("Connected"), status
        assert "Disconnected" in status or "wrong" in status, status
    finally:
        browser.quit()
