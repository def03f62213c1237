"""A third-party plugin distribution, installed with pip and used by name.

``tests/functional/third_party/`` is a complete small distribution
(``compute_core_example_plugins``, its own ``setup.py``) with a virt driver,
a scheduler filter, a weigher and a console proxy. The outer test installs
a copy of it into this Python environment, checks ``compute-manage plugins
list``, then runs the ``inner_*`` tests of this module in a new pytest
process: entry points are read from installed metadata, so only a process
started after the install is sure to see them. The distribution is
uninstalled whatever happens.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from compute_core.testing import api_request, first_image_id, wait_for_server

DIST = "compute_core_example_plugins"
SOURCE = Path(__file__).parent / "third_party"
REPO = Path(__file__).resolve().parents[2]
INNER = "COMPUTE_CORE_EXAMPLE_PLUGINS_INSTALLED"


def _pip(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _can_build_without_isolation() -> bool:
    # setuptools builds wheels itself from 70.1 on; before, it needs `wheel`.
    return bool(importlib.util.find_spec("wheel")
                or importlib.util.find_spec("setuptools.command.bdist_wheel"))


@pytest.fixture
def example_installed(tmp_path, request):
    if os.environ.get(INNER):
        pytest.skip("already inside the run that has it installed")
    if _pip("show", DIST, check=False).returncode == 0:
        pytest.fail(f"{DIST} is already installed; uninstall it first")
    src = tmp_path / "src"
    shutil.copytree(SOURCE, src, ignore=shutil.ignore_patterns(
        "*.egg-info", "build", "dist", "__pycache__"))
    # Never editable: the test must see what an ordinary install gives.
    isolation = ["--no-build-isolation"] if _can_build_without_isolation() else []
    request.addfinalizer(lambda: _pip("uninstall", "-y", DIST, check=False))
    _pip("install", "--no-deps", *isolation, str(src))


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def test_example_distribution_installs_and_runs_by_name(example_installed):
    listing = subprocess.run(
        [sys.executable, "-m", "compute_core.cmd.manage", "plugins", "list"],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert listing.returncode == 0, listing.stderr
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in listing.stdout.splitlines() if DIST in line]
    # Builders spell the distribution name either way; PEP 503 makes them equal.
    dist = _canonical(DIST)
    assert sorted((r[0], r[1], _canonical(r[2]), r[3]) for r in rows) == sorted([
        ("compute_core.virt_drivers", "example", dist, "1.0.0"),
        ("compute_core.scheduler.filters", "AvoidHostFilter", dist, "1.0.0"),
        ("compute_core.scheduler.weighers", "PreferredHostWeigher", dist, "1.0.0"),
        ("compute_core.console_proxies", "example-line", dist, "1.0.0"),
    ])

    inner = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-k", "inner_", "-p",
         "no:cacheprovider", "-rs"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
        env=dict(os.environ, **{INNER: "1"}))
    assert inner.returncode == 0, inner.stdout[-6000:] + inner.stderr[-3000:]
    assert "3 passed" in inner.stdout, inner.stdout[-3000:]


# ------------------------------------------------------------------------
# The inner run: the distribution is installed, nothing here imports it.

@pytest.fixture
def example_cloud(tmp_path):
    from compute_core import Cloud

    # The plugins' own options go in a configuration file, as an operator
    # would write them; the core's options can be overrides.
    config = tmp_path / "compute_core.conf"
    config.write_text("[example_plugins]\npreferred_hosts = host2\n")
    with Cloud(hosts=2, config_file=str(config), overrides={
            "compute_driver": "example",
            "filter_scheduler.enabled_filters": ["ComputeFilter", "AvoidHostFilter"],
            "filter_scheduler.weighers": ["PreferredHostWeigher"]}) as cloud:
        yield cloud


def _boot(cloud, name, hints=None):
    image = first_image_id(cloud)
    body = {"server": {"name": name, "imageRef": image, "flavorRef": "1"}}
    if hints:
        body["os:scheduler_hints"] = hints
    resp = api_request(cloud, "POST", "/servers", body=body)
    assert resp.status_code == 202, resp.text
    return resp.json()["server"]["id"]


def _action(cloud, sid, body):
    return api_request(cloud, "POST", f"/servers/{sid}/action", body=body)


def test_inner_scheduler_uses_the_example_filter_and_weigher(example_cloud):
    cloud = example_cloud
    # Both hosts pass and are equal in every other way: the weigher puts
    # [example_plugins] preferred_hosts first.
    weighed = _boot(cloud, "weighed")
    server = wait_for_server(cloud, weighed)
    assert server["status"] == "ACTIVE"
    assert server["OS-EXT-SRV-ATTR:host"] == "host2"
    # The filter refuses the host the hint names, preferred or not.
    filtered = _boot(cloud, "filtered", {"avoid_host": "host2"})
    server = wait_for_server(cloud, filtered)
    assert server["status"] == "ACTIVE"
    assert server["OS-EXT-SRV-ATTR:host"] == "host1"
    nowhere = _boot(cloud, "nowhere", {"avoid_host": ["host1", "host2"]})
    server = wait_for_server(cloud, nowhere)
    assert server["status"] == "ERROR"
    assert "No valid host" in server["fault"]["message"]
    for sid in (weighed, filtered, nowhere):
        api_request(cloud, "DELETE", f"/servers/{sid}")
        wait_for_server(cloud, sid, ("DELETED",))


def test_inner_api_boots_through_the_example_driver_and_refuses_pause(example_cloud):
    from compute_core.virt import ComputeDriver

    cloud = example_cloud
    hypervisors = api_request(cloud, "GET", "/os-hypervisors/detail").json()["hypervisors"]
    assert {h["hypervisor_type"] for h in hypervisors} == {"example"}
    sid = _boot(cloud, "through-example")
    server = wait_for_server(cloud, sid)
    assert server["status"] == "ACTIVE" and server["OS-EXT-STS:power_state"] == 1
    driver = cloud.driver(server["OS-EXT-SRV-ATTR:host"])
    assert type(driver).__name__ == "ExampleDriver" and isinstance(driver, ComputeDriver)
    assert sid in driver.list_instances()

    # The driver declares it cannot pause or suspend: 409, and the host is
    # never asked (the server does not even change task_state).
    for action in ("pause", "suspend"):
        resp = _action(cloud, sid, {action: None})
        assert resp.status_code == 409, resp.text
        message = resp.json()["conflictingRequest"]["message"]
        assert message.startswith(f"Cannot '{action}' instance {sid}: the virt driver")
        assert "(ExampleDriver)" in message and f"supports_{action}" in message
    server = api_request(cloud, "GET", f"/servers/{sid}").json()["server"]
    assert server["status"] == "ACTIVE" and server["OS-EXT-STS:task_state"] is None

    # What every driver must do works.
    assert _action(cloud, sid, {"os-stop": None}).status_code == 202
    assert wait_for_server(cloud, sid, ("SHUTOFF",))["OS-EXT-STS:power_state"] == 4
    assert _action(cloud, sid, {"reboot": {"type": "HARD"}}).status_code == 202
    assert wait_for_server(cloud, sid, ("ACTIVE",))["OS-EXT-STS:power_state"] == 1
    assert "hard reboot" in driver.get_console_output(None, {"uuid": sid})
    api_request(cloud, "DELETE", f"/servers/{sid}")
    wait_for_server(cloud, sid, ("DELETED",))
    assert sid not in driver.list_instances()


def _line_console(answer: bytes):
    """A guest console speaking the example protocol; returns (port, seen)."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen = []

    def serve():
        conn, _ = listener.accept()
        with conn, listener:
            data = b""
            while not data.endswith(b"\n"):
                data += conn.recv(64)
            seen.append(data)
            conn.sendall(answer)
            if answer == b"OK\n":
                conn.sendall(conn.recv(64).upper())  # the guest's side of the session

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], seen


def test_inner_console_proxy_is_loaded_by_name():
    from compute_core import conf as conf_mod
    from compute_core import exception
    from compute_core.console import ConsoleProxy, load_console_proxy

    proxy = load_console_proxy(conf_mod.load(), "example-line")
    assert isinstance(proxy, ConsoleProxy)
    assert proxy.protocol == "example-line" and proxy.serves("example-line")

    port, seen = _line_console(b"OK\n")
    info = {"host": "127.0.0.1", "port": port, "internal_access_path": "/guest/ttyS0"}
    sock = proxy.connect(info)
    with sock:
        proxy.handshake(sock, info)
        sock.sendall(b"login\n")
        assert sock.recv(64) == b"LOGIN\n"
    assert seen == [b"ATTACH /guest/ttyS0\n"]

    port, _ = _line_console(b"NO such console\n")
    info = {"host": "127.0.0.1", "port": port, "internal_access_path": None}
    with proxy.connect(info) as sock, pytest.raises(exception.ComputeCoreError,
                                                    match="NO such console"):
        proxy.handshake(sock, info)
