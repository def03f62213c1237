"""A console in a real browser: headless Chromium (Debian's chromium and
chromium-driver, driven offline by selenium) opens the console URL the
cloud hands out, Debian's noVNC client served by the noVNC proxy connects
through it to the fake guest's VNC server, and a screenshot shows the
guest's screen (its colour bars), not a blank page or an error."""
from __future__ import annotations

import time

from compute_core.testing import api_request
from tests.browser import browser as _browser
from tests.browser import decode_png, novnc_status

from .test_console_proxies import _boot, console

# The fake guest's bars (fake_console.BARS), as the browser shows them.
BARS = [(235, 235, 235), (235, 235, 16), (16, 235, 235), (16, 235, 16),
        (235, 16, 235), (235, 16, 16), (16, 16, 235)]


def test_novnc_in_chromium_shows_the_guests_screen(compute_cloud, tmp_path):
    browser = _browser()
    sid = _boot(compute_cloud, "console-browser")
    try:
        url = console(compute_cloud, sid)
        browser.get(url)
        status = novnc_status(browser)
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
        status = novnc_status(browser)
        assert not status.startswith("Connected"), status
        assert "Disconnected" in status or "wrong" in status, status
    finally:
        browser.quit()
