"""The fake driver's guests have real consoles: an RFB server drawing a
screen of their own and a serial port with their boot marker, one port
each, opened at spawn and closed at destroy or when moved away."""
import socket

import pytest

from compute_core import conf as conf_mod
from compute_core import exception
from compute_core.testing.console import RFBClient, read_until
from compute_core.virt.driver import load_driver


@pytest.fixture
def driver():
    conf = conf_mod.load(args=[], overrides={"compute_driver": "fake"})
    drv = load_driver(conf, "h1")
    drv.init_host()
    yield drv
    drv.cleanup_host()


def _spawn(driver, uuid, name):
    inst = {"uuid": uuid, "display_name": name, "vcpus": 1, "memory_mb": 64, "root_gb": 1,
            "ephemeral_gb": 0, "image_ref": "img"}
    driver.spawn(None, inst, {"id": "img"}, {})
    return inst


def _colours(screen: bytes) -> set:
    return {screen[i:i + 3] for i in range(0, len(screen), 4)}


def test_each_guest_has_its_own_vnc_screen(driver):
    a = _spawn(driver, "aaaaaaaa-0000-4000-8000-000000000001", "alpha")
    b = _spawn(driver, "bbbbbbbb-ffff-4000-8000-000000000002", "beta")
    info_a = driver.get_console_connection(None, a, "novnc")
    info_b = driver.get_console_connection(None, b, "novnc")
    assert info_a["host"] == "127.0.0.1" and info_a["port"] != info_b["port"]
    screens = {}
    for inst, info in ((a, info_a), (b, info_b)):
        with socket.create_connection((info["host"], info["port"]), timeout=5) as sock:
            client = RFBClient(sock)
            assert client.handshake() == inst["display_name"]
            assert (client.width, client.height) == (640, 400)
            screens[inst["uuid"]] = screen = client.screen()
            assert len(screen) == 640 * 400 * 4
            # Not blank: the eight colour bars and the UUID's blocks.
            assert len(_colours(screen)) >= 9
            # A partial update in another pixel format is served too.
            client.request(x=600, y=390, w=100, h=100)
            ((x, y, w, h, data),) = client.read_update()
            assert (x, y, w, h) == (600, 390, 40, 10) and len(data) == 40 * 10 * 4
            # A large area comes in strips of rows.
            client.request(x=10, y=5, w=20, h=40)
            strips = client.read_update()
            assert [(x, y, w, h) for x, y, w, h, _ in strips] == \
                [(10, 5, 20, 16), (10, 21, 20, 16), (10, 37, 20, 8)]
    # The blocks under the bars differ from guest to guest.
    assert screens[a["uuid"]] != screens[b["uuid"]]
    # Top-left pixel is the first (white) bar, as the noVNC format puts it.
    assert screens[a["uuid"]][:3] == bytes((235, 235, 235))


def test_the_serial_console_shows_the_boot_marker_and_echoes(driver):
    inst = _spawn(driver, "cccccccc-0000-4000-8000-000000000003", "gamma")
    info = driver.get_console_connection(None, inst, "serial")
    with socket.create_connection((info["host"], info["port"]), timeout=5) as sock:
        text = read_until(sock, b"login: ")
        assert f"{inst['uuid']} booted".encode() in text and b"gamma login: " in text
        sock.sendall(b"root\r")
        assert read_until(sock, b"root\r\n")


def test_ports_close_with_the_guest_and_spice_is_refused(driver):
    inst = _spawn(driver, "dddddddd-0000-4000-8000-000000000004", "delta")
    ports = [driver.get_console_connection(None, inst, t)["port"] for t in ("novnc", "serial")]
    with pytest.raises(exception.NotSupportedByDriver):
        driver.get_console_connection(None, inst, "spice-html5")
    assert not driver.supports("supports_console_spice")
    session = socket.create_connection(("127.0.0.1", ports[0]), timeout=5)
    assert session.recv(12) == b"RFB 003.008\n"
    driver.destroy(None, inst, {})
    assert session.recv(100) == b""  # an open session ends with the guest
    session.close()
    for port in ports:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(exception.InstanceNotFound):
        driver.get_console_connection(None, inst, "novnc")
