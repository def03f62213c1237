"""The Cloud object: restarts keep state, two clouds side by side, no leaks."""
import subprocess
import sys

import requests

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server


def _boot(cloud, name):
    image = first_image_id(cloud)
    body = {"server": {"name": name, "imageRef": image, "flavorRef": "1"}}
    return api_request(cloud, "POST", "/servers", body=body).json()["server"]["id"]


def test_restart_keeps_servers_flavors_images(tmp_path):
    state = str(tmp_path / "state")
    with Cloud(state_dir=state) as cloud:
        sid = _boot(cloud, "persistent")
        wait_for_server(cloud, sid)
        api_request(cloud, "POST", "/flavors",
                    body={"flavor": {"name": "kept", "ram": 64, "vcpus": 1, "disk": 1,
                                     "id": "kept"}})
        images = [i["id"] for i in api_request(cloud, "GET", "/images").json()["images"]]
    with Cloud(state_dir=state) as cloud:
        server = api_request(cloud, "GET", f"/servers/{sid}").json()["server"]
        assert server["status"] == "ACTIVE"
        assert api_request(cloud, "GET", "/flavors/kept").status_code == 200
        assert [i["id"] for i in api_request(cloud, "GET", "/images").json()["images"]] == images
        assert len(api_request(cloud, "GET", "/flavors").json()["flavors"]) == 6
        assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 204


def test_two_clouds_are_isolated():
    with Cloud() as a, Cloud() as b:
        assert a.compute_url != b.compute_url
        sid = _boot(a, "only-in-a")
        wait_for_server(a, sid)
        assert api_request(b, "GET", f"/servers/{sid}").status_code == 404
        assert api_request(b, "GET", "/servers").json()["servers"] == []
        a.stop()
        assert api_request(b, "GET", "/servers").status_code == 200
        sid_b = _boot(b, "in-b")
        assert wait_for_server(b, sid_b)["status"] == "ACTIVE"
        b.conf.set_override("instances", 1, group="quota")
        assert a.conf is not b.conf


def test_stop_is_idempotent_and_frees_the_port():
    cloud = Cloud().start()
    url = cloud.compute_url
    cloud.stop()
    cloud.stop()
    try:
        requests.get(url, timeout=2)
        raise AssertionError("the API still answers after stop()")
    except requests.ConnectionError:
        pass


LEAK_CHECK = """
import os, threading, sys
from compute_core import Cloud
from compute_core.testing import api_request

def fds():
    return len(os.listdir("/proc/self/fd"))

with Cloud():  # warm imports and lazy library state first
    pass
threads, files = threading.active_count(), fds()
for _ in range(20):
    with Cloud() as cloud:
        assert api_request(cloud, "GET", "/flavors").status_code == 200
print(threads, threading.active_count(), files, fds())
"""


def test_twenty_start_stop_cycles_leak_nothing():
    # In a process of its own: the session cloud's worker threads come and
    # go and would blur the count.
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", LEAK_CHECK],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    threads_before, threads_after, fds_before, fds_after = map(
        int, out.stdout.split()[-4:])
    assert threads_after <= threads_before
    assert fds_after <= fds_before


def test_add_host_and_sizes():
    with Cloud(hosts=0) as cloud:
        cloud.add_host("small", vcpus=2, memory_mb=2048, disk_gb=20)
        hvs = api_request(cloud, "GET", "/os-hypervisors/detail").json()["hypervisors"]
        (hv,) = hvs
        assert (hv["vcpus"], hv["memory_mb"], hv["local_gb"]) == (2, 2048, 20)
        sid = _boot(cloud, "fits")
        assert wait_for_server(cloud, sid)["OS-EXT-SRV-ATTR:host"] == "small"


def test_stop_lets_a_compute_host_finish_a_delete_it_is_running(tmp_path):
    """stop() right after a DELETE: the compute host's destroy is still
    running and then calls the conductor, which must still be there (it
    used to stop at the same time, leaving the call to wait out the RPC
    timeout and the server half deleted)."""
    import threading

    state = str(tmp_path / "state")
    with Cloud(state_dir=state, hosts=1) as cloud:
        sid = _boot(cloud, "slow-delete")
        wait_for_server(cloud, sid)
        driver = cloud.driver("host1")
        entered = threading.Event()
        plain = driver.destroy

        def slow_destroy(*args, **kwargs):
            entered.set()
            threading.Event().wait(0.5)
            return plain(*args, **kwargs)
        driver.destroy = slow_destroy
        assert api_request(cloud, "DELETE", f"/servers/{sid}").status_code == 204
        assert entered.wait(30)
        cloud.conf.set_override("rpc_response_timeout", 5)
    with Cloud(state_dir=state, hosts=1) as cloud:
        assert api_request(cloud, "GET", f"/servers/{sid}").status_code == 404
