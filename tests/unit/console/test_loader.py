"""load_console_proxy: found by name through entry points, one clear error
otherwise.

Each test puts a tiny distribution (a module plus its ``.dist-info`` with
entry points) on ``sys.path``, which is all importlib.metadata and stevedore
need to see installed plugins.
"""
from __future__ import annotations

import sys
import textwrap

import pytest

from compute_core import conf as conf_mod
from compute_core import console, exception, plugins

MODULE = "cc_console_loader_probe"


@pytest.fixture
def installed_proxies(tmp_path, monkeypatch):
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent("""
        import socket

        from compute_core.console import ConsoleProxy


        class EchoProxy(ConsoleProxy):
            protocol = "echo"
            console_types = ("echo", "echo-html5")

            def connect(self, connect_info):
                return socket.create_connection(
                    (connect_info["host"], connect_info["port"]))


        class NotAProxy:
            pass
        """))
    dist = tmp_path / "cc_console_loader_probe-1.2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: cc-console-loader-probe\nVersion: 1.2\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(f"""
        [{plugins.CONSOLE_PROXIES}]
        echo = {MODULE}:EchoProxy
        not-a-proxy = {MODULE}:NotAProxy
        broken = {MODULE}_missing:Nothing
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop(MODULE, None)


@pytest.fixture
def conf():
    return conf_mod.load()


def test_loads_by_name_and_constructs_with_conf(installed_proxies, conf):
    proxy = console.load_console_proxy(conf, "echo")
    assert isinstance(proxy, console.ConsoleProxy)
    assert proxy.conf is conf
    assert proxy.protocol == "echo"
    assert proxy.serves("echo-html5") and not proxy.serves("novnc")


def test_connect_returns_a_socket_to_the_guest_port(installed_proxies, conf):
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    try:
        port = listener.getsockname()[1]
        proxy = console.load_console_proxy(conf, "echo")
        sock = proxy.connect({"host": "127.0.0.1", "port": port,
                              "internal_access_path": None})
        guest, _ = listener.accept()
        sock.sendall(b"RFB")
        assert guest.recv(3) == b"RFB"
        proxy.handshake(sock, {})  # the default hook does nothing
        sock.close()
        guest.close()
    finally:
        listener.close()


def test_missing_name_is_one_line_naming_group_and_installed(installed_proxies, conf):
    with pytest.raises(exception.PluginLoadError) as err:
        console.load_console_proxy(conf, "no-such-proxy")
    message = str(err.value)
    assert "\n" not in message
    assert "'no-such-proxy'" in message
    assert plugins.CONSOLE_PROXIES in message
    for name in ("echo", "not-a-proxy", "broken"):
        assert name in message


def test_plugin_that_fails_to_import_names_the_error(installed_proxies, conf):
    with pytest.raises(exception.PluginLoadError) as err:
        console.load_console_proxy(conf, "broken")
    message = str(err.value)
    assert "\n" not in message
    assert "'broken'" in message and plugins.CONSOLE_PROXIES in message
    assert "ModuleNotFoundError" in message and "echo" in message


def test_plugin_that_is_not_a_console_proxy_is_refused(installed_proxies, conf):
    with pytest.raises(exception.PluginLoadError) as err:
        console.load_console_proxy(conf, "not-a-proxy")
    message = str(err.value)
    assert "not a ConsoleProxy" in message and plugins.CONSOLE_PROXIES in message
    assert "echo" in message


def test_contract_requires_connect():
    class Incomplete(console.ConsoleProxy):
        protocol = "vnc"

    with pytest.raises(TypeError):
        Incomplete(None)
