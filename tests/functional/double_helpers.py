"""Helpers of the test-double tests (faults on RPC methods, timers on the
virtual clock): a module's seeded cloud restored per test, booting, acting
and waiting in wall time."""
import time

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server


def seeded_cloud(**kwargs):
    """For a module fixture: yields (cloud, its snapshot as started)."""
    with Cloud(**kwargs) as cloud:
        with cloud.snapshot() as snap:
            yield cloud, snap


def boot_active(cloud, name, **extra):
    """Boot a flavor-1 server; (its id, its host) once ACTIVE."""
    body = {"server": {"name": name, "imageRef": first_image_id(cloud), "flavorRef": "1",
                       **extra}}
    resp = api_request(cloud, "POST", "/servers", body=body)
    assert resp.status_code == 202, resp.text
    server = wait_for_server(cloud, resp.json()["server"]["id"])
    assert server["status"] == "ACTIVE", server
    return server["id"], server["OS-EXT-SRV-ATTR:host"]


def act(cloud, sid, action):
    resp = api_request(cloud, "POST", f"/servers/{sid}/action", body=action)
    assert resp.status_code in (200, 202, 204), resp.text


def until(look, timeout=10.0):
    """Poll *look* (wall time) until it returns something true; that."""
    end = time.monotonic() + timeout
    while not (found := look()) and time.monotonic() < end:
        time.sleep(0.01)
    assert found, "condition not met in time"
    return found
