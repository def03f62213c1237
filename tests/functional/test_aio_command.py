"""compute-aio itself, as a user runs it: starts, serves, stops on Ctrl-C."""
import signal

import requests

from tests.aio_process import start_compute_aio


def test_compute_aio_serves_then_stops_cleanly_on_ctrl_c(tmp_path):
    proc, _, url, _ = start_compute_aio(tmp_path / "state", "--hosts", "1", "--quiet")
    try:
        headers = {"X-Auth-Token": "admin:admin"}
        flavors = requests.get(url + "/flavors", headers=headers, timeout=10).json()["flavors"]
        assert "m1.tiny" in {f["name"] for f in flavors}
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "stopping..." in out and "Traceback" not in out
        assert "compute_core.requests" not in out  # --quiet
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
