"""A third-party plugin distribution, installed with pip and used by name.

``tests/functional/third_party/`` is a complete small distribution
(``compute_core_example_plugins``, its own ``setup.py``) with a virt driver,
a scheduler filter, a weigher and a console proxy. The outer test installs
it with pip (``--target``, never editable), together with
``broken_plugins/`` (one plugin broken in each way a plugin can be), checks
``compute-manage plugins list``, then runs the ``inner_*`` tests of this
module in a new pytest process whose PYTHONPATH shows the two: entry points
are read from installed metadata, so only a process started after the
install sees them, and no other process on the machine does.
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
BROKEN_DIST = "compute_core_broken_plugins"
BROKEN = Path(__file__).parent / "broken_plugins"
INNER_TESTS = 16
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
def example_installed(tmp_path):
    """The example and the broken distributions, pip-installed (never
    editable) into a folder of their own; returns the environment whose
    PYTHONPATH shows them, so only the processes given it see them and
    other test runs on the machine are not disturbed."""
    if os.environ.get(INNER):
        pytest.skip("already inside the run that has it installed")
    site = tmp_path / "site"
    isolation = ["--no-build-isolation"] if _can_build_without_isolation() else []
    for source in (SOURCE, BROKEN):
        src = tmp_path / source.name
        shutil.copytree(source, src, ignore=shutil.ignore_patterns(
            "*.egg-info", "build", "dist", "__pycache__"))
        _pip("install", "--no-deps", "--no-compile", "--target", str(site), *isolation,
             str(src))
    path = [str(site)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path))


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def test_example_distribution_installs_and_runs_by_name(example_installed):
    listing = subprocess.run(
        [sys.executable, "-m", "compute_core.cmd.manage", "plugins", "list"],
        capture_output=True, text=True, timeout=120, cwd=REPO, env=example_installed)
    assert listing.returncode == 0, listing.stderr
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in listing.stdout.splitlines() if DIST in line or BROKEN_DIST in line]
    # Builders spell the distribution name either way; PEP 503 makes them equal.
    dist, broken = _canonical(DIST), _canonical(BROKEN_DIST)
    listed = sorted((r[0], r[1], _canonical(r[2]), r[3], r[4].split(":")[0]) for r in rows)
    assert listed == sorted([
        ("compute_core.virt_drivers", "example", dist, "1.0.0", "ok"),
        ("compute_core.scheduler.filters", "AvoidHostFilter", dist, "1.0.0", "ok"),
        ("compute_core.scheduler.weighers", "PreferredHostWeigher", dist, "1.0.0", "ok"),
        ("compute_core.console_proxies", "example-line", dist, "1.0.0", "ok"),
        ("compute_core.virt_drivers", "no-import", broken, "0.1.0", "cannot load"),
        ("compute_core.virt_drivers", "half", broken, "0.1.0", "ok"),
        ("compute_core.virt_drivers", "one-arg", broken, "0.1.0", "ok"),
        ("compute_core.virt_drivers", "not-a-driver", broken, "0.1.0", "ok"),
        ("compute_core.virt_drivers", "bad-option", broken, "0.1.0", "ok"),
        ("compute_core.scheduler.filters", "LabelAsText", broken, "0.1.0", "ok"),
        ("compute_core.scheduler.filters", "LabelAsNumber", broken, "0.1.0", "ok"),
    ]), listing.stdout
    assert "ModuleNotFoundError" in listing.stdout  # why no-import cannot load

    inner = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-k", "inner_", "-p",
         "no:cacheprovider", "-rs"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
        env=dict(example_installed, **{INNER: "1"}))
    assert inner.returncode == 0, inner.stdout[-6000:] + inner.stderr[-3000:]
    assert f"{INNER_TESTS} passed" in inner.stdout, inner.stdout[-3000:]


# ------------------------------------------------------------------------
# The inner run: the distribution is installed, nothing here imports it.

def _readme_blocks(language: str, heading="## Writing a plugin") -> list[str]:
    """The code blocks of one section of the README."""
    text = (REPO / "README.md").read_text()
    section = text[text.index(heading):]
    section = section[:section.index("\n## ", 5)]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


@pytest.fixture
def example_cloud(tmp_path):
    from compute_core import Cloud

    # The configuration the README gives, as an operator would write it.
    (ini,) = _readme_blocks("ini")
    config = tmp_path / "compute_core.conf"
    config.write_text(ini)
    with Cloud(hosts=2, config_file=str(config)) as cloud:
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


def test_inner_a_third_party_console_proxy_runs_like_the_in_tree_ones(tmp_path):
    """Named in [aio] console_proxies, the embedded cloud serves it; named
    with --proxy, compute-consoleproxy does: tokens, Origin and relay as
    for noVNC, and the plugin's own handshake with its guest."""
    from compute_core import Cloud
    from compute_core.console import tokens
    from compute_core.testing.console import WebSocketStream

    with Cloud(state_dir=str(tmp_path / "state"),
               overrides={"aio.console_proxies": ["serial", "example-line"]}) as cloud:
        assert set(cloud.console_urls) == {"serial", "example-line"}
        (cell,) = cloud._api.cells.cells(include_cell0=False)
        db = cloud._api.cells.get(cell["uuid"])

        def session(base_url, console_type="example-line"):
            port, seen = _line_console(b"OK\n")
            token, _ = tokens.create(db, "inst-1", console_type, "127.0.0.1", port, ttl=60,
                                     internal_access_path="/guest/ttyS1")
            url = base_url.replace("http", "ws", 1) + f"/?token={token}"
            with WebSocketStream(url) as ws:
                ws.sendall(b"hello")
                assert ws.recv(64) == b"HELLO"
            assert seen == [b"ATTACH /guest/ttyS1\n"]
            return port

        session(cloud.console_urls["example-line"])
        # A token of another console type is not the plugin's to open.
        port, seen = _line_console(b"OK\n")
        token, _ = tokens.create(db, "inst-1", "serial", "127.0.0.1", port, ttl=60)
        with pytest.raises(Exception, match="403"):
            WebSocketStream(cloud.console_urls["example-line"].replace("http", "ws", 1)
                            + f"/?token={token}")
        assert seen == []

        # The same plugin as a service of its own, on the cloud's cell DB.
        config = tmp_path / "proxy.conf"
        config.write_text(f"[database]\nconnection = {db.url}\n")
        proc = subprocess.Popen(
            [sys.executable, "-m", "compute_core.cmd.console", "--proxy", "example-line",
             "--config-file", str(config), "--listen", "127.0.0.1", "--port", "0"],
            stderr=subprocess.PIPE, text=True, cwd=REPO)
        try:
            url, lines = None, []
            for line in proc.stderr:
                lines.append(line)
                found = re.search(r"console proxy example-line .* serving on ([^\s,]+)", line)
                url = url or (found and found.group(1))
                if "compute-consoleproxy ready" in line:
                    break
            assert url, "".join(lines)
            session(url)
        finally:
            proc.terminate()
            assert proc.wait(30) == 0


# ------------------------------------------------------------------------
# Every way a plugin can be broken: one line naming the group, the plugin,
# the distribution and the reason, when the cloud starts.

def _start_error(tmp_path, overrides, config=""):
    from compute_core import Cloud, exception

    conf_file = tmp_path / "broken.conf"
    conf_file.write_text(config)
    cloud = Cloud(hosts=1, config_file=str(conf_file), overrides=overrides)
    try:
        with pytest.raises((exception.PluginLoadError, exception.ConfigError)) as err:
            cloud.start()
    finally:
        cloud.stop()
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("driver, reason", [
    ("no-import", "it does not import: ModuleNotFoundError: No module named "
                  "'compute_core_broken_plugins.not_there'"),
    ("half", "HalfDriver does not implement the abstract method(s) destroy, "
             "get_available_resource, get_info, power_off, power_on, reboot, spawn of "
             "ComputeDriver"),
    ("one-arg", "its constructor OneArgumentDriver(conf) cannot be called as "
                "ComputeDriver(conf, host): too many positional arguments"),
    ("not-a-driver", "NotADriver is not a ComputeDriver (subclass "
                     "compute_core.virt.driver.ComputeDriver)"),
])
def test_inner_a_broken_driver_is_one_line(tmp_path, driver, reason):
    message = _start_error(tmp_path, {"compute_driver": driver})
    assert f"plugin {driver!r} of group compute_core.virt_drivers" in message
    assert "compute_core_broken_plugins" in _canonical(message).replace("-", "_")
    assert reason in message, message


def test_inner_a_bad_value_of_a_plugin_option_is_one_line(tmp_path):
    message = _start_error(tmp_path, {"compute_driver": "bad-option"},
                           "[broken_plugins]\nslots = 0\n")
    assert "plugin 'bad-option' of group compute_core.virt_drivers" in message
    assert "bad value of its option [broken_plugins] slots" in message, message
    # The same through an override: applied once the plugin registered it.
    message = _start_error(tmp_path, {"compute_driver": "bad-option",
                                      "broken_plugins.slots": -3})
    assert "invalid value for broken_plugins.slots" in message, message


def test_inner_an_option_defined_twice_differently_is_one_line(tmp_path):
    message = _start_error(tmp_path, {
        "filter_scheduler.enabled_filters": ["LabelAsText", "LabelAsNumber"]})
    assert "plugin 'LabelAsNumber' of group compute_core.scheduler.filters" in message
    assert "registers option 'label' differently from the one already registered in " \
           "[labels]" in message, message


def test_inner_plugin_options_as_overrides(tmp_path):
    from compute_core import Cloud

    # The plugin's group is unknown until the plugin loads: the override
    # waits for it instead of being refused.
    with Cloud(hosts=2, overrides={
            "compute_driver": "example", "example_plugins.preferred_hosts": ["host1"],
            "filter_scheduler.enabled_filters": ["ComputeFilter"],
            "filter_scheduler.weighers": ["PreferredHostWeigher"]}) as cloud:
        server = wait_for_server(cloud, _boot(cloud, "preferred"))
        assert server["OS-EXT-SRV-ATTR:host"] == "host1"
    # An override no loaded plugin claims says why it is unknown.
    message = _start_error(tmp_path, {"example_plugins.preferred_hosts": ["host1"]})
    assert "no option group [example_plugins] is registered" in message
    assert "is the plugin named in the configuration?" in message


def test_inner_all_weighers_are_the_in_tree_ones():
    from compute_core import conf as conf_mod
    from compute_core.scheduler import manager

    names = [type(w).__name__ for w in manager.load_weighers(conf_mod.load())]
    assert "PreferredHostWeigher" not in names and "RAMWeigher" in names


@pytest.mark.compute_cloud_hosts(2, vcpus=3, memory_mb=4096)
@pytest.mark.compute_cloud_config(compute_driver="example", overrides={
    "filter_scheduler.enabled_filters": ["ComputeFilter"],
    "filter_scheduler.weighers": ["PreferredHostWeigher"],
    "example_plugins.preferred_hosts": ["host2"]})
def test_inner_the_pytest_plugin_serves_a_plugin_author(fresh_compute_cloud):
    cloud = fresh_compute_cloud
    hypervisors = api_request(cloud, "GET", "/os-hypervisors/detail").json()["hypervisors"]
    assert {(h["hypervisor_type"], h["vcpus"], h["memory_mb"]) for h in hypervisors} == \
        {("example", 3, 4096)}
    server = wait_for_server(cloud, _boot(cloud, "authored"))
    assert server["status"] == "ACTIVE" and server["OS-EXT-SRV-ATTR:host"] == "host2"


def test_inner_a_driver_that_takes_no_sizes_says_so(tmp_path):
    from compute_core import Cloud, exception

    cloud = Cloud(hosts=1, host_resources={"vcpus": 2},
                  overrides={"compute_driver": "bad-option"})
    try:
        with pytest.raises(exception.Invalid, match="virt driver OptionDriver does not take "
                                                    "host sizes"):
            cloud.start()
    finally:
        cloud.stop()


def test_inner_the_readmes_python_examples_are_true():
    import ast
    from importlib import metadata

    from compute_core_example_plugins.driver import ExampleDriver

    blocks = _readme_blocks("python")
    (entry_points,) = [b for b in blocks if b.startswith("entry_points={")]
    declared = ast.literal_eval(entry_points.split("=", 1)[1].strip())
    installed = {}
    for ep in metadata.distribution(DIST).entry_points:
        installed.setdefault(ep.group, []).append(f"{ep.name} = {ep.value}")
    assert {g: sorted(v) for g, v in declared.items()} == \
        {g: sorted(v) for g, v in installed.items()}

    (capabilities,) = [b for b in blocks if b.startswith("class ExampleDriver")]
    shown = ast.literal_eval(capabilities.split("capabilities =", 1)[1].strip())
    assert shown.items() <= ExampleDriver.capabilities.items()


def test_inner_the_readmes_pytest_marker_example_runs(tmp_path):
    (example,) = [b for b in _readme_blocks("python", "## Use it in your tests")
                  if "compute_cloud_config(" in b]
    checks = [
        "from compute_core.testing import api_request",
        'hvs = api_request(fresh_compute_cloud, "GET", "/os-hypervisors/detail").json()',
        'assert {(h["hypervisor_type"], h["vcpus"]) for h in hvs["hypervisors"]} == '
        '{("example", 3)}']
    body = example.replace("    ...\n", "".join(f"    {line}\n" for line in checks))
    (tmp_path / "test_marker_example.py").write_text("import pytest\n\n\n" + body)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-3000:]
