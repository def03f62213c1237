"""Start-up cost of the embedded cloud, in one process.

Prints the median over N runs (default 20) of the time from Cloud(...) to a
serving API and to the first server ACTIVE, and the cost per test of a fresh
function-scoped cloud over 50 pytest tests (run in a subprocess).

    python bench/startup.py [--runs 20] [--tests 50]
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import requests

from compute_core import Cloud
from compute_core.testing import api_request


def one_run():
    t0 = time.perf_counter()
    cloud = Cloud()
    cloud.start()
    requests.get(cloud.compute_url + "/flavors",
                 headers={"X-Auth-Token": cloud.admin_token}).raise_for_status()
    ready = time.perf_counter() - t0
    image = api_request(cloud, "GET", "/images").json()["images"][0]["id"]
    sid = api_request(cloud, "POST", "/servers", body={"server": {
        "name": "first", "imageRef": image, "flavorRef": "1"}}).json()["server"]["id"]
    while api_request(cloud, "GET", f"/servers/{sid}").json()["server"]["status"] == "BUILD":
        time.sleep(0.005)
    active = time.perf_counter() - t0
    t1 = time.perf_counter()
    cloud.stop()
    return ready, active, time.perf_counter() - t1


def per_test_cost(n):
    code = textwrap.dedent(f"""
        import pytest

        @pytest.mark.parametrize("i", range({n}))
        def test_fresh(fresh_compute_cloud, i):
            assert fresh_compute_cloud.compute_url
    """)
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "test_many.py"), "w") as f:
            f.write(code)
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              tmp], capture_output=True, text=True, cwd=tmp)
        elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(out.stdout + out.stderr)
    return elapsed / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--tests", type=int, default=50)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    one_run()  # imports and first-time library set-up are not start-up
    runs = [one_run() for _ in range(args.runs)]
    ready = statistics.median(r[0] for r in runs)
    active = statistics.median(r[1] for r in runs)
    stop = statistics.median(r[2] for r in runs)
    print(f"startup, median of {args.runs} in one process")
    print(f"  Cloud() -> API serving     {ready * 1000:8.1f} ms")
    print(f"  Cloud() -> first ACTIVE    {active * 1000:8.1f} ms")
    print(f"  stop()                     {stop * 1000:8.1f} ms")
    cost = per_test_cost(args.tests)
    print(f"fresh_compute_cloud fixture over {args.tests} tests (whole pytest run / tests)")
    print(f"  per test                   {cost * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
