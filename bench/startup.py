"""Start-up cost of the embedded cloud, in one process.

Prints the median over N runs (default 20) of the time from Cloud(...) to a
serving API and to the first server ACTIVE, and the cost per test of a fresh
function-scoped cloud over 50 pytest tests (run in a subprocess). Then the
test-double figures (issue 24):

* fork per test: ``cloud.restore(seed)`` of a cloud seeded with 2 hosts and
  10 servers, after a test that only read and after one that stopped a
  server (median and p95; goal < 5 ms);
* 1,000 pytest tests, each with a freshly forked cloud
  (``forked_compute_cloud``, each test one API request), whole run (goal
  < 30 s);
* a virtual-clock test of a one-hour build timeout (wall time);
* moto (if installed) for the same shape: each test a fresh mock_aws() EC2
  with 10 instances, then one describe call.

    python bench/startup.py [--runs 20] [--tests 50] [--forks 200]
                            [--forked-tests 1000] [--moto-tests 50] [--skip-startup]

(--forked-tests 0 or --moto-tests 0 leaves that figure out.)
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
from compute_core.testing import api_request, first_image_id, wait_for_server


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


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def fork_per_test(n, servers=10):
    """Restore times (s) of a seeded cloud after a read-only test and after
    a test that wrote (stopped a server)."""
    with Cloud(hosts=2) as cloud:
        image = first_image_id(cloud)
        ids = [api_request(cloud, "POST", "/servers", body={"server": {
            "name": f"seed-{i}", "imageRef": image, "flavorRef": "1"}}).json()["server"]["id"]
            for i in range(servers)]
        for sid in ids:
            wait_for_server(cloud, sid)
        with cloud.snapshot() as snap:
            read, wrote = [], []
            for i in range(n):
                api_request(cloud, "GET", "/servers/detail")
                t0 = time.perf_counter()
                cloud.restore(snap)
                read.append(time.perf_counter() - t0)
                api_request(cloud, "POST", f"/servers/{ids[i % servers]}/action",
                            body={"os-stop": None})
                cloud.wait_idle()
                t0 = time.perf_counter()
                cloud.restore(snap)
                wrote.append(time.perf_counter() - t0)
    return read, wrote


def forked_tests(n):
    code = textwrap.dedent(f"""
        import pytest
        from compute_core.testing import api_request

        @pytest.mark.parametrize("i", range({n}))
        def test_forked(forked_compute_cloud, i):
            resp = api_request(forked_compute_cloud, "GET", "/servers",
                               token=forked_compute_cloud.member_token)
            assert len(resp.json()["servers"]) == 10
    """)
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "test_forked.py"), "w") as f:
            f.write(code)
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "--compute-cloud-hosts=2", "--compute-cloud-seed-servers=10",
                              tmp], capture_output=True, text=True, cwd=tmp)
        elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(out.stdout[-3000:] + out.stderr[-3000:])
    return elapsed


def virtual_build_timeout():
    """Wall times of a test in which a build stuck for an hour goes ERROR:
    the whole test (start to stop) and its hour (advance() to ERROR)."""
    t0 = time.perf_counter()
    with Cloud(clock="virtual") as cloud:
        cloud.set_spawn_delay("host1", 7200)
        sid = api_request(cloud, "POST", "/servers", body={"server": {
            "name": "stuck", "imageRef": first_image_id(cloud),
            "flavorRef": "1"}}).json()["server"]["id"]
        while api_request(cloud, "GET", f"/servers/{sid}").json()["server"][
                "OS-EXT-STS:task_state"] != "spawning":
            time.sleep(0.005)
        t1 = time.perf_counter()
        cloud.clock.advance(3600)
        status = wait_for_server(cloud, sid, ("ERROR",), timeout=10)["status"]
        hour = time.perf_counter() - t1
    assert status == "ERROR"
    return time.perf_counter() - t0, hour


def moto_per_test(n, servers=10):
    """Per test: a fresh moto EC2 with *servers* instances, one describe."""
    try:
        import boto3
        from moto import mock_aws
    except ImportError:
        return None
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    # One client for the session (moto intercepts it once a mock starts):
    # creating it, about a second, is not counted.
    ec2 = boto3.client("ec2", region_name="us-east-1")
    times = []
    for _ in range(n + 1):
        t0 = time.perf_counter()
        with mock_aws():
            ec2.run_instances(ImageId="ami-12c6146b", MinCount=servers, MaxCount=servers,
                              InstanceType="t2.micro")
            reservations = ec2.describe_instances()["Reservations"]
            assert sum(len(r["Instances"]) for r in reservations) == servers
        times.append(time.perf_counter() - t0)
    return times[1:]  # the first pays for imports and the backends' set-up


def double_figures(args):
    read, wrote = fork_per_test(args.forks)
    print(f"fork per test: restore of a seeded cloud (2 hosts, 10 servers), {args.forks} runs")
    print(f"  after a read-only test     median {statistics.median(read) * 1000:6.2f} ms"
          f"   p95 {_percentile(read, 0.95) * 1000:6.2f} ms")
    print(f"  after a test that wrote    median {statistics.median(wrote) * 1000:6.2f} ms"
          f"   p95 {_percentile(wrote, 0.95) * 1000:6.2f} ms")
    if args.forked_tests:
        total = forked_tests(args.forked_tests)
        print(f"{args.forked_tests} pytest tests, each with a forked seeded cloud")
        print(f"  whole pytest run           {total:8.1f} s")
    whole, hour = virtual_build_timeout()
    print("virtual clock: a build stuck for an hour goes ERROR")
    print(f"  the whole test (start-stop) {whole * 1000:7.1f} ms")
    print(f"  its hour (advance -> ERROR) {hour * 1000:7.1f} ms")
    if not args.moto_tests:
        return
    moto = moto_per_test(args.moto_tests)
    if moto is None:
        print("moto: not installed")
    else:
        print("moto, same shape: fresh mock_aws() EC2 with 10 instances + one describe")
        print(f"  per test                   median {statistics.median(moto) * 1000:6.2f} ms"
              f"   p95 {_percentile(moto, 0.95) * 1000:6.2f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--tests", type=int, default=50)
    ap.add_argument("--forks", type=int, default=200)
    ap.add_argument("--forked-tests", type=int, default=1000)
    ap.add_argument("--moto-tests", type=int, default=50)
    ap.add_argument("--skip-startup", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.skip_startup:
        double_figures(args)
        return
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
    double_figures(args)


if __name__ == "__main__":
    main()
