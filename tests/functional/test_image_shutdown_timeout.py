"""The image property os_shutdown_timeout (as Nova honours it): a clean
shutdown of a server booted from such an image (a stop, shelve, rescue,
resize or cold migration) waits that many seconds for the guest instead of
[DEFAULT] shutdown_timeout (60); a bad value is ignored. Through the image
and compute APIs, on the fake driver and the virtual clock."""
import time

import pytest
import requests

from compute_core import Cloud
from compute_core.testing import api_request, wait_for_server
from tests.functional.double_helpers import act, until


@pytest.fixture(scope="module")
def cloud():
    with Cloud(hosts=2, clock="virtual", overrides={
            "quota.instances": -1, "quota.cores": -1, "quota.ram": -1}) as c:
        yield c


def _image(cloud, name, **properties):
    """An active image with *properties*, made through the image API."""
    headers = {"X-Auth-Token": "admin:admin"}
    resp = requests.post(f"{cloud.image_url}/v2/images", headers=headers, timeout=30,
                         json={"name": name, "disk_format": "raw", "container_format": "bare",
                               "visibility": "public", **properties})
    assert resp.status_code == 201, resp.text
    image = resp.json()
    resp = requests.put(f"{cloud.image_url}/v2/images/{image['id']}/file", data=b"r" * 64,
                        timeout=30, headers={**headers,
                                             "Content-Type": "application/octet-stream"})
    assert resp.status_code == 204, resp.text
    return image["id"]


def _boot(cloud, name, image_id, **extra):
    resp = api_request(cloud, "POST", "/servers", body={"server": {
        "name": name, "imageRef": image_id, "flavorRef": "1", **extra}})
    assert resp.status_code == 202, resp.text
    server = wait_for_server(cloud, resp.json()["server"]["id"])
    assert server["status"] == "ACTIVE", server
    return server["id"], server["OS-EXT-SRV-ATTR:host"]


def _server(cloud, sid):
    return api_request(cloud, "GET", f"/servers/{sid}").json()["server"]


def _settle(cloud, sid, status):
    return until(lambda: (s := _server(cloud, sid))["status"] == status
                 and s["OS-EXT-STS:task_state"] is None and s)


def _console(cloud, host, sid):
    return "".join(cloud.driver(host).instances[sid].get("console", []))


def test_a_clean_stop_waits_the_image_s_timeout(cloud):
    quick = _image(cloud, "quick-shutdown", os_shutdown_timeout="5")
    deaf = {"metadata": {"fake_acpi": "ignore"}}        # the guest ignores ACPI
    fast, fast_host = _boot(cloud, "fast", quick, **deaf)
    plain, plain_host = _boot(cloud, "plain", _image(cloud, "plain"), **deaf)
    for sid in (fast, plain):
        act(cloud, sid, {"os-stop": None})
    until(lambda: "ACPI shutdown request ignored" in _console(cloud, fast_host, fast)
          and "ACPI shutdown request ignored" in _console(cloud, plain_host, plain))
    cloud.clock.advance(5)
    assert _settle(cloud, fast, "SHUTOFF")["OS-EXT-STS:power_state"] == 4
    time.sleep(0.3)
    assert _server(cloud, plain)["OS-EXT-STS:task_state"] == "powering-off"  # 5 s of 60
    cloud.clock.advance(55)
    _settle(cloud, plain, "SHUTOFF")


@pytest.mark.parametrize("value, timeout", [("12", 12), ("0", 0), ("soon", 60), ("-3", 60),
                                            (None, 60)])
def test_the_driver_is_given_the_image_s_timeout(cloud, value, timeout):
    # A paused guest cannot be asked (no ACPI): shelving it hands the
    # timeout to the driver's power_off, which the fake driver records.
    props = {} if value is None else {"os_shutdown_timeout": value}
    sid, host = _boot(cloud, f"paused-{value}", _image(cloud, f"img-{value}", **props))
    act(cloud, sid, {"pause": None})
    _settle(cloud, sid, "PAUSED")
    act(cloud, sid, {"shelve": None})
    until(lambda: _server(cloud, sid)["status"] in ("SHELVED", "SHELVED_OFFLOADED"))
    assert cloud.driver(host).power_off_timeouts[sid] == timeout


DEAF = {"metadata": {"fake_acpi": "ignore"}}            # the guest ignores ACPI


def _asked(cloud, host, sid):
    until(lambda: "ACPI shutdown request ignored" in _console(cloud, host, sid))


def test_a_rescue_waits_the_image_s_timeout(cloud):
    fast, fast_host = _boot(cloud, "rescue-fast",
                            _image(cloud, "rescue-quick", os_shutdown_timeout="5"), **DEAF)
    plain, plain_host = _boot(cloud, "rescue-plain", _image(cloud, "rescue-plain"), **DEAF)
    for sid in (fast, plain):
        act(cloud, sid, {"rescue": {}})
    _asked(cloud, fast_host, fast)
    _asked(cloud, plain_host, plain)
    cloud.clock.advance(5)
    _settle(cloud, fast, "RESCUE")
    log = _console(cloud, fast_host, fast)
    assert log.index("powered off") < log.index("rescue boot")  # off first, then rescued
    time.sleep(0.3)
    assert _server(cloud, plain)["OS-EXT-STS:task_state"] == "rescuing"     # 5 s of 60
    cloud.clock.advance(55)
    _settle(cloud, plain, "RESCUE")
    # unrescue, as Nova's, forces the rescue system off: no wait
    for sid in (fast, plain):
        act(cloud, sid, {"unrescue": None})
        assert _settle(cloud, sid, "ACTIVE")["OS-EXT-STS:power_state"] == 1


@pytest.fixture
def short_rpc_timeout(cloud):
    """rpc_response_timeout of 3 s (wall time) for the test: the move's
    other calls take milliseconds."""
    cloud.conf.set_override("rpc_response_timeout", 3)
    yield 3
    cloud.conf.clear_override("rpc_response_timeout")


def test_a_resize_waits_the_image_s_timeout_beyond_the_rpc_timeout(cloud,
                                                                   short_rpc_timeout):
    # The source's power-off runs inside the conductor's call: the call
    # waits the shutdown timeout beyond rpc_response_timeout.
    sid, host = _boot(cloud, "resize-slow",
                      _image(cloud, "resize-slow", os_shutdown_timeout="600"), **DEAF)
    act(cloud, sid, {"resize": {"flavorRef": "2"}})
    _asked(cloud, host, sid)
    time.sleep(short_rpc_timeout + 1)
    server = _server(cloud, sid)
    assert (server["status"], server["OS-EXT-STS:task_state"]) == ("RESIZE",
                                                                   "resize_migrating")
    cloud.clock.advance(580)    # (the virtual clock also runs at wall speed)
    time.sleep(0.3)
    assert _server(cloud, sid)["OS-EXT-STS:task_state"] == "resize_migrating"
    cloud.clock.advance(20)
    server = _settle(cloud, sid, "VERIFY_RESIZE")
    assert (server["OS-EXT-SRV-ATTR:host"], server["flavor"]["id"]) != (host, "1")
    act(cloud, sid, {"confirmResize": None})
    _settle(cloud, sid, "ACTIVE")


def test_a_cold_migration_waits_the_image_s_timeout_and_reverts(cloud):
    sid, host = _boot(cloud, "migrate-slow",
                      _image(cloud, "migrate-slow", os_shutdown_timeout="30"), **DEAF)
    act(cloud, sid, {"migrate": None})
    _asked(cloud, host, sid)
    cloud.clock.advance(25)
    time.sleep(0.3)
    assert _server(cloud, sid)["OS-EXT-STS:task_state"] == "resize_migrating"
    cloud.clock.advance(5)
    assert _settle(cloud, sid, "VERIFY_RESIZE")["OS-EXT-SRV-ATTR:host"] != host
    act(cloud, sid, {"revertResize": None})
    server = _settle(cloud, sid, "ACTIVE")
    assert (server["OS-EXT-SRV-ATTR:host"], server["OS-EXT-STS:power_state"]) == (host, 1)


def test_a_zero_timeout_powers_off_at_once_for_a_resize(cloud):
    sid, host = _boot(cloud, "resize-now",
                      _image(cloud, "resize-now", os_shutdown_timeout="0"), **DEAF)
    act(cloud, sid, {"resize": {"flavorRef": "2"}})
    _settle(cloud, sid, "VERIFY_RESIZE")     # no clock advanced
    source = cloud.driver(host)
    assert source.power_off_timeouts[sid] == 0
    assert "ACPI" not in "".join(source.moving_out[sid]["console"])
    act(cloud, sid, {"revertResize": None})
    _settle(cloud, sid, "ACTIVE")
