"""compute-aio as a separate process, for the tests that start (and stop or
kill) the command itself."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time


def start_compute_aio(state_dir, *args, stderr=subprocess.STDOUT, timeout=120):
    """Run ``compute-aio --state-dir STATE_DIR --compute-port 0
    --placement-port 0 ARGS`` until it prints that it serves; returns
    (process, its banner, compute URL, placement URL). The process is killed
    if it does not get there."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "compute_core.cmd.aio", "--state-dir", str(state_dir),
         "--compute-port", "0", "--placement-port", "0", *args],
        stdout=subprocess.PIPE, stderr=stderr, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    banner = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner.append(line)
        if "Ctrl-C stops it." in line:
            text = "".join(banner)
            return (proc, text, re.search(r"compute API\s+(\S+)", text).group(1),
                    re.search(r"placement API\s+(\S+)", text).group(1))
    proc.kill()
    proc.wait()
    raise AssertionError("compute-aio did not start:\n" + "".join(banner))
