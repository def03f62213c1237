"""Where the CPU of GET /v2.1/servers/detail?limit=1000 goes, by phase, in
the embedded cloud with --servers (default 1,000) ACTIVE servers: the
reads (ServerService.list: the cells' and the build requests' SQL, rows
decoded), the views (the handler less those reads), the JSON encoding of
the body, and the rest of the WSGI stack (middleware, routing, policy,
webob, waitress's writing of the response), each as the serving thread's
CPU (time.thread_time) around one call per request, so other processes'
load barely moves it. The cloud runs in this process (these are its own
functions, wrapped): bench/list_cpu.py compares two checkouts as a whole.

    python bench/list_phases.py [--servers 1000] [--requests 50]
"""
from __future__ import annotations

import argparse
import collections
import functools
import json
import logging
import statistics
import time

import requests
import waitress.task

from compute_core import Cloud
from compute_core.api import app as api_app
from compute_core.api import server_service
from compute_core.api.resources import server_listing, servers
from compute_core.cmd.aio import settle_after_start

SPENT: collections.Counter = collections.Counter()


def timed(name, fn):
    """*fn*, its callers' thread CPU added up under *name*."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name] += time.thread_time() - t0

    return wrapper


def boot(s, url, servers_wanted):
    image = s.get(url + "/images", headers={"OpenStack-API-Version": "compute 2.1"}
                  ).json()["images"][0]["id"]
    for start in range(0, servers_wanted, 100):
        count = min(100, servers_wanted - start)
        s.post(url + "/servers", json={"server": {
            "name": f"l{start}", "imageRef": image, "flavorRef": "1", "networks": "none",
            "min_count": count, "max_count": count}}).raise_for_status()
        deadline = time.monotonic() + 300
        while sum(x["status"] == "ACTIVE" for x in s.get(
                url + "/servers/detail", params={"limit": "1000"}).json()["servers"]
                  ) < start + count:
            if time.monotonic() > deadline:
                raise RuntimeError("servers not ACTIVE after 300 s")
            time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=50)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    big = {"vcpus": 100000, "memory_mb": 10 ** 9, "disk_gb": 10 ** 7}
    with Cloud(hosts=4, host_resources=big, overrides={
            "quota.instances": -1, "quota.cores": -1, "quota.ram": -1}) as cloud:
        settle_after_start()
        url = cloud.compute_url
        s = requests.Session()
        s.headers.update({"X-Auth-Token": "admin:admin", "Content-Type": "application/json",
                          "OpenStack-API-Version": "compute 2.37"})
        boot(s, url, args.servers)
        waitress.task.WSGITask.execute = timed("task", waitress.task.WSGITask.execute)
        server_service.ServerService.list = timed("reads", server_service.ServerService.list)
        server_listing._hosts_up = timed("hosts", server_listing._hosts_up)
        servers.list_servers = timed("handler", servers.list_servers)
        api_app.ComputeApp._render = staticmethod(timed("json", api_app.ComputeApp._render))
        for _ in range(5):  # warm-up
            s.get(url + "/servers/detail", params={"limit": "1000"}).raise_for_status()
        SPENT.clear()
        walls = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            resp = s.get(url + "/servers/detail", params={"limit": "1000"})
            walls.append(1000 * (time.perf_counter() - t0))
            resp.raise_for_status()
        n = len(json.loads(resp.content)["servers"])
    ms = {k: 1000 * v / args.requests for k, v in SPENT.items()}
    if not ms.get("handler"):
        raise SystemExit("the listing's handler was not reached: the code moved?")
    print(f"GET /servers/detail?limit=1000, {n} servers, {len(resp.content)} bytes; "
          f"{args.requests} requests, wall median {statistics.median(walls):.1f} ms")
    print("serving thread's CPU ms per request")
    rows = [("reads (ServerService.list: SQL, rows)", ms["reads"]),
            ("hosts up (services read)", ms.get("hosts", 0.0)),
            ("views (server_detail)", ms["handler"] - ms["reads"] - ms.get("hosts", 0.0)),
            ("JSON encoding (+ webob response)", ms["json"]),
            ("rest of WSGI (middleware, routing, write)", ms["task"] - ms["handler"] - ms["json"]),
            ("total (waitress task)", ms["task"])]
    for name, value in rows:
        print(f"  {name:42} {value:6.1f}  {100 * value / ms['task']:3.0f}%")


if __name__ == "__main__":
    main()
