"""compute-aio itself, as a user runs it: starts, serves, stops on Ctrl-C."""
import os
import re
import signal
import subprocess
import sys
import time

import requests


def test_compute_aio_serves_then_stops_cleanly_on_ctrl_c(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "compute_core.cmd.aio", "--state-dir", str(tmp_path / "state"),
         "--compute-port", "0", "--placement-port", "0", "--hosts", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        banner = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            banner.append(line)
            if "Ctrl-C stops it." in line:
                break
        text = "".join(banner)
        assert "Ctrl-C stops it." in text, text
        url = re.search(r"compute API\s+(\S+)", text).group(1)
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
