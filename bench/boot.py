"""Boot throughput of the embedded cloud through the HTTP API.

Boots N servers (default 200) with C in flight (default 20), printing
servers per second and p50/p95 create-to-ACTIVE latency; then, with 1,000
servers present, the latency of GET /v2.1/servers/detail.

    python bench/boot.py [--servers 200] [--concurrency 20] [--list-servers 1000]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import logging
import statistics
import time

import requests

from compute_core import Cloud


def session(token="admin:admin"):
    s = requests.Session()
    s.headers.update({"X-Auth-Token": token, "Content-Type": "application/json"})
    return s


def boot_and_wait(cloud, image, flavor, name):
    s = session()
    t0 = time.perf_counter()
    resp = s.post(cloud.compute_url + "/servers", json={"server": {
        "name": name, "imageRef": image, "flavorRef": flavor, "networks": "none"}},
        headers={"OpenStack-API-Version": "compute 2.37"})
    resp.raise_for_status()
    sid = resp.json()["server"]["id"]
    while True:
        status = s.get(f"{cloud.compute_url}/servers/{sid}").json()["server"]["status"]
        if status != "BUILD":
            break
        time.sleep(0.025)
    if status != "ACTIVE":
        raise RuntimeError(f"{name} ended {status}")
    return time.perf_counter() - t0


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--list-servers", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=4)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    big = {"vcpus": 10000, "memory_mb": 10 ** 8, "disk_gb": 10 ** 6}
    overrides = {"quota.instances": -1, "quota.cores": -1, "quota.ram": -1}
    with Cloud(hosts=args.hosts, host_resources=big, overrides=overrides) as cloud:
        s = session()
        image = s.get(cloud.compute_url + "/images").json()["images"][0]["id"]
        boot_and_wait(cloud, image, "1", "warmup")
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            t0 = time.perf_counter()
            latencies = list(pool.map(lambda i: boot_and_wait(cloud, image, "1", f"b{i}"),
                                      range(args.servers)))
            elapsed = time.perf_counter() - t0
        print(f"boot: {args.servers} servers, {args.concurrency} in flight, "
              f"{args.hosts} fake hosts")
        print(f"  throughput         {args.servers / elapsed:8.1f} servers/s")
        print(f"  create->ACTIVE p50 {pct(latencies, 50) * 1000:8.1f} ms")
        print(f"  create->ACTIVE p95 {pct(latencies, 95) * 1000:8.1f} ms")
        have = args.servers + 1
        if args.list_servers > have:
            with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(lambda i: boot_and_wait(cloud, image, "1", f"l{i}"),
                              range(args.list_servers - have)))
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            resp = s.get(cloud.compute_url + "/servers/detail?limit=1000")
            times.append(time.perf_counter() - t0)
            assert resp.status_code == 200
        n = len(resp.json()["servers"])
        print(f"list: GET /servers/detail with {n} servers present")
        print(f"  median             {statistics.median(times) * 1000:8.1f} ms")
        print(f"  p95                {pct(times, 95) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
