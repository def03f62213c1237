"""The image property os_shutdown_timeout (as Nova honours it): a clean
shutdown of a server booted from such an image waits that many seconds for
the guest instead of [DEFAULT] shutdown_timeout (60); a bad value is
ignored. Through the image and compute APIs, on the fake driver and the
virtual clock."""
import time

import pytest
import requests

from compute_core import Cloud
from compute_core.testing import api_request, wait_for_server
from tests.functional.double_helpers import act, until


@pytest.fixture(scope="module")
def cloud():
    with Cloud(clock="virtual") as c:
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
