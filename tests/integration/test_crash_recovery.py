"""compute-aio killed with SIGKILL in the middle of a burst of boots, then
started again on the same state: every server ends ACTIVE or ERROR within
the build timeout, each listed server answers GET and DELETE, and placement
holds exactly what the listed servers hold."""
from __future__ import annotations

import collections
import concurrent.futures
import random
import signal
import subprocess
import time

import pytest
import requests

from tests.aio_process import start_compute_aio

pytestmark = pytest.mark.integration

BUILD_TIMEOUT = 20
BOOTS = 50
ADMIN = {"X-Auth-Token": "admin:admin"}


def _start_aio(state, config, log):
    """compute-aio with one host on *state*; (process, compute URL, placement URL)."""
    proc, _, url, placement = start_compute_aio(state, "--config-file", str(config),
                                                "--hosts", "1", stderr=log, timeout=60)
    return proc, url, placement


def _stop(proc, sig=signal.SIGINT):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _boot(url, image, i):
    try:
        return requests.post(url + "/servers", headers=ADMIN, timeout=10, json={"server": {
            "name": f"burst-{i}", "imageRef": image, "flavorRef": "1"}}).status_code
    except requests.RequestException:
        return "no answer"  # killed before it answered


def _servers(url):
    resp = requests.get(url + "/servers/detail?all_tenants=1", headers=ADMIN, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["servers"]


def _placement(url, path):
    resp = requests.get(url + path, timeout=30,
                        headers=dict(ADMIN, **{"OpenStack-API-Version": "placement 1.20"}))
    assert resp.status_code == 200, resp.text
    return resp.json()


def _usage(placement):
    total = collections.Counter()
    for rp in _placement(placement, "/resource_providers")["resource_providers"]:
        total.update(_placement(placement, f"/resource_providers/{rp['uuid']}/usages")["usages"])
    return +total


def test_sigkill_during_a_burst_of_boots_then_restart(tmp_path):
    state, log_path = tmp_path / "state", tmp_path / "aio.log"
    config = tmp_path / "compute.conf"
    config.write_text(f"[DEFAULT]\ninstance_build_timeout = {BUILD_TIMEOUT}\n"
                      "[quota]\ninstances = -1\ncores = -1\nram = -1\n"
                      "[fake_driver]\nspawn_delay = 1.5\n")
    with open(log_path, "w") as log:
        proc, url, placement = _start_aio(state, config, log)
        try:
            image = requests.get(url + "/images", headers=ADMIN,
                                 timeout=10).json()["images"][0]["id"]
            pool = concurrent.futures.ThreadPoolExecutor(8)
            answers = [pool.submit(_boot, url, image, i) for i in range(BOOTS)]
            time.sleep(random.uniform(0.5, 1.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            answers = collections.Counter(a.result() for a in answers)
            pool.shutdown()
            print("answers before the kill:", dict(answers))

            proc, url, placement = _start_aio(state, config, log)
            restarted = time.monotonic()
            deadline = restarted + BUILD_TIMEOUT
            while True:
                servers = _servers(url)
                building = [s for s in servers if s["status"] not in ("ACTIVE", "ERROR")]
                if not building or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            statuses = collections.Counter(s["status"] for s in servers)
            print(f"after the restart ({time.monotonic() - restarted:.1f} s):",
                  dict(statuses))
            assert not building, [(s["id"], s["status"]) for s in building]
            assert len(servers) >= answers[202]  # every accepted boot is a server

            # Placement holds what the listed servers hold, and no more.
            held = collections.Counter()
            for server in servers:
                allocations = _placement(placement,
                                         f"/allocations/{server['id']}")["allocations"]
                for alloc in allocations.values():
                    held.update(alloc["resources"])
                if server["status"] == "ACTIVE":
                    assert allocations, server["id"]
                assert requests.get(f"{url}/servers/{server['id']}", headers=ADMIN,
                                    timeout=10).status_code == 200
            assert _usage(placement) == +held

            # Every listed server can be deleted, and then nothing is left.
            for server in servers:
                resp = requests.delete(f"{url}/servers/{server['id']}", headers=ADMIN,
                                       timeout=10)
                assert resp.status_code == 204, resp.text
            deadline = time.monotonic() + 30
            while _servers(url) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _servers(url) == []
            assert _usage(placement) == {}
        except BaseException:
            print(log_path.read_text()[-8000:])  # what the cloud logged, for the failure
            raise
        finally:
            _stop(proc)
