"""Headless Chromium for the console tests: the browser (Debian's chromium
and chromium-driver, driven offline by selenium), a wait for a console
client's status, and the pixels of a page element cut from a screenshot."""
from __future__ import annotations

import os
import shutil
import struct
import time
import zlib

import pytest

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def skip(reason: str):
    print(f"SKIP: {reason}")
    pytest.skip(reason)


def browser():
    """Headless Chromium driven by selenium, offline (skips, saying why,
    without selenium, chromium or chromium-driver)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip("selenium is not installed (pip install .[test])")
    for path in (CHROMEDRIVER, CHROMIUM):
        if not os.path.exists(path):
            skip(f"{path} is missing (apt-get install chromium chromium-driver)")
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


def wait_for(driver, script: str, done, timeout: float = 30):
    """Poll *script* (JavaScript returning a value) until ``done(value)``
    or *timeout*; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script)
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


NOVNC_STATUS = "var s = document.getElementById('status'); return (s && s.textContent) || '';"


def novnc_status(driver, timeout: float = 30) -> str:
    """noVNC's (vnc_lite.html's) status line once it connected or gave up."""
    return wait_for(driver, NOVNC_STATUS,
                    lambda s: s.startswith("Connected") or "Disconnected" in s or "wrong" in s,
                    timeout)


def element_pixels(driver, selector: str, save_to=None):
    """(width, height, rows of RGB bytes) of the element *selector* as a
    screenshot of the page shows it (saved as PNG to *save_to*)."""
    box = driver.execute_script(  # the content box: inside any border
        "var e = document.querySelector(arguments[0]), r = e.getBoundingClientRect();"
        "return [r.left + e.clientLeft, r.top + e.clientTop, e.clientWidth,"
        " e.clientHeight];", selector)
    shot = driver.get_screenshot_as_png()
    if save_to is not None:
        with open(save_to, "wb") as f:
            f.write(shot)
    width, height, bpp, rows = decode_png(shot)
    left, top = round(box[0]), round(box[1])
    w = min(round(box[2]), width - left)
    h = min(round(box[3]), height - top)
    out = []
    for y in range(top, top + h):
        row = rows[y][left * bpp:(left + w) * bpp]
        out.append(row if bpp == 3 else bytes(
            b for i in range(0, len(row), 4) for b in row[i:i + 3]))
    return w, h, out
