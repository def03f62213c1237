"""CPU and wall time of GET /v2.1/servers/detail?limit=1000 in the embedded
mode, with --servers (default 1,000) ACTIVE servers present.

The cloud runs in a child process as in bench/boot.py; the servers are
booted once (POST /servers with max_count, --chunk at a time; with
--single as bench/boot.py boots them: a request each, a poller), then the
listing is sent one request at a time, in batches of --batch. Per batch:
the child's CPU (user + system, from /proc/PID/stat) divided by the
requests, which the load of other processes on a shared machine barely
moves, and each request's wall time. The child's idle CPU (its periodic
tasks and heartbeats, measured before the batches) is printed, not
subtracted. With --baseline DIR a second child runs that checkout's code
(through PYTHONPATH) with its own servers, and the batches alternate
(A B A B ...); the medians and the ratio new/base of each pair are printed.

    python bench/list_cpu.py [--servers 1000] [--single] [--batches 10]
                             [--batch 10] [--baseline DIR]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE]

import boot  # noqa: E402  (bench/boot.py)

HOST_RESOURCES = {"vcpus": 100000, "memory_mb": 10 ** 9, "disk_gb": 10 ** 7}


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Child:
    """An embedded cloud running the code of *checkout*, with *servers*
    ACTIVE servers booted in it."""

    def __init__(self, checkout: str, servers: int, chunk: int, single: bool):
        env = dict(os.environ, PYTHONPATH=f"{checkout}:{checkout}/plugins")
        # In the checkout's directory: ``python -c`` puts the working
        # directory before PYTHONPATH, so a child started from another
        # checkout would run that one's code.
        where = subprocess.run(
            [sys.executable, "-c", "import compute_core; print(compute_core.__file__)"],
            env=env, cwd=checkout, capture_output=True, text=True, check=True).stdout.strip()
        if not where.startswith(os.path.join(checkout, "")):
            raise SystemExit(f"{checkout}: its child would import {where}")
        self.proc = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", boot.CHILD, "4", "{}",
             json.dumps(HOST_RESOURCES)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=checkout)
        self.url = json.loads(self.proc.stdout.readline())["compute"]
        self.session = requests.Session()
        self.session.headers.update({"X-Auth-Token": "admin:admin",
                                     "Content-Type": "application/json",
                                     "OpenStack-API-Version": "compute 2.37"})
        if single:
            self.boot_single(servers)
        else:
            self.boot(servers, chunk)

    def boot_single(self, servers: int) -> None:
        """As bench/boot.py boots: a request per server, 20 in flight, a
        poller of changes-since every 0.1 s."""
        api = boot.Servers(self.url, 0.1)
        try:
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                for sid, status, _ in pool.map(lambda i: api.boot(f"b{i}"), range(servers)):
                    if status != "ACTIVE":
                        raise RuntimeError(f"{sid} ended {status}")
        finally:
            api.close()

    def boot(self, servers: int, chunk: int) -> None:
        s = self.session
        image = s.get(self.url + "/images", headers={"OpenStack-API-Version": "compute 2.1"}
                      ).json()["images"][0]["id"]
        for start in range(0, servers, chunk):
            count = min(chunk, servers - start)
            s.post(self.url + "/servers", json={"server": {
                "name": f"l{start}", "imageRef": image, "flavorRef": "1",
                "networks": "none", "min_count": count, "max_count": count}}
            ).raise_for_status()
            self.wait_active(start + count)

    def wait_active(self, n: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = [x["status"] for x in self.list()["servers"]]
            if "ERROR" in status:
                raise RuntimeError(f"{status.count('ERROR')} servers in ERROR")
            if status.count("ACTIVE") >= n:
                return
            time.sleep(0.5)
        raise RuntimeError(f"fewer than {n} servers ACTIVE after {timeout} s")

    def list(self) -> dict:
        resp = self.session.get(self.url + "/servers/detail", params={"limit": "1000"})
        resp.raise_for_status()
        return resp.json()

    def idle_cpu_ms_per_s(self, seconds: float = 3.0) -> float:
        cpu, t0 = boot.cpu_seconds(self.proc.pid), time.monotonic()
        time.sleep(seconds)
        return 1000 * (boot.cpu_seconds(self.proc.pid) - cpu) / (time.monotonic() - t0)

    def batch(self, n: int) -> tuple[float, list[float]]:
        """(CPU ms per request, each request's wall ms) of *n* listings."""
        walls = []
        cpu = boot.cpu_seconds(self.proc.pid)
        for _ in range(n):
            t0 = time.perf_counter()
            self.list()
            walls.append(1000 * (time.perf_counter() - t0))
        return 1000 * (boot.cpu_seconds(self.proc.pid) - cpu) / n, walls

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--chunk", type=int, default=100, help="max_count of each boot request")
    ap.add_argument("--single", action="store_true",
                    help="boot as bench/boot.py does (a request per server, a poller)")
    ap.add_argument("--batches", type=int, default=10, help="batches of each code")
    ap.add_argument("--batch", type=int, default=10, help="listings per batch")
    ap.add_argument("--baseline", metavar="DIR",
                    help="a checkout of other code, run alternately as the base")
    args = ap.parse_args()
    checkouts = {"new": os.path.dirname(HERE)}
    if args.baseline:
        checkouts["base"] = os.path.abspath(args.baseline)
    print(f"load average before boot {load_average()}", flush=True)
    children = {}
    try:
        for mode, checkout in checkouts.items():
            t0 = time.monotonic()
            children[mode] = Child(checkout, args.servers, args.chunk, args.single)
            n = len(children[mode].list()["servers"])
            print(f"{mode}: {checkout}, {n} servers listed, booted in "
                  f"{time.monotonic() - t0:.0f} s", flush=True)
        for mode, child in children.items():
            child.batch(3)  # warm-up: first-use statements, caches
            print(f"{mode}: idle CPU {child.idle_cpu_ms_per_s():.1f} ms/s", flush=True)
        cpu = {m: [] for m in children}
        wall = {m: [] for m in children}
        for i in range(args.batches):
            load = load_average()
            # A B, then B A: neither code always runs right after the other.
            order = list(children) if i % 2 == 0 else list(reversed(children))
            line = f"batch {i + 1:2}"
            for mode in order:
                ms, walls = children[mode].batch(args.batch)
                cpu[mode].append(ms)
                wall[mode].append(statistics.median(walls))
                line += f"  {mode} cpu {ms:6.1f} wall {statistics.median(walls):6.1f}"
            print(f"{line}  (load {load})", flush=True)
    finally:
        for child in children.values():
            child.close()
    print(f"\nGET /servers/detail?limit=1000, {args.servers} servers, medians of "
          f"{args.batches} batches of {args.batch} (ms per request); load {load_average()}")
    for mode in children:
        print(f"  {mode:5} cpu {statistics.median(cpu[mode]):6.1f} "
              f"({min(cpu[mode]):.1f}-{max(cpu[mode]):.1f})  "
              f"wall {statistics.median(wall[mode]):6.1f} "
              f"({min(wall[mode]):.1f}-{max(wall[mode]):.1f})")
    if "base" in children:
        for key, figures in (("cpu", cpu), ("wall", wall)):
            ratios = [a / b for a, b in zip(figures["new"], figures["base"])]
            print(f"  new/base {key:4} median {statistics.median(ratios):.3f} "
                  f"({min(ratios):.3f}-{max(ratios):.3f})")


if __name__ == "__main__":
    main()
