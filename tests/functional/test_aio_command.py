"""compute-aio itself, as a user runs it: starts, serves, stops on Ctrl-C."""
import signal

import requests

from tests.aio_process import start_compute_aio


def test_compute_aio_serves_then_stops_cleanly_on_ctrl_c(tmp_path):
    proc, _, url, _ = start_compute_aio(tmp_path / "state", "--hosts", "1")
    try:
        headers = {"X-Auth-Token": "admin:admin"}
        flavors = requests.get(url + "/flavors", headers=headers, timeout=10).json()["flavors"]
        assert "m1.tiny" in {f["name"] for f in flavors}
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "stopping..." in out and "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_every_ctrl_c_stops_it_even_after_a_huge_multi_create(tmp_path):
    """The kernel gives a signal to any thread of the process; compute-aio
    must notice it whichever thread got it (1 Ctrl-C in 3 was lost while
    the main thread waited without a timeout)."""
    for round_ in range(4):
        proc, _, url, _ = start_compute_aio(tmp_path / f"state{round_}", "--hosts", "1")
        try:
            headers = {"X-Auth-Token": "admin:admin", "Content-Type": "application/json"}
            image = requests.get(url + "/images", headers=headers, timeout=10) \
                .json()["images"][0]["id"]
            resp = requests.post(url + "/servers", headers=headers, timeout=30, json={
                "server": {"name": "many", "imageRef": image, "flavorRef": "1",
                           "max_count": 2147483647}})
            assert resp.status_code == 202, resp.text  # cut to the quota at once
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 0, out
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
