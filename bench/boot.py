"""Boot throughput of the embedded cloud through the HTTP API.

The cloud runs in a child process (as compute-aio would), this process is
the client: N servers (default 200) are created with C requests in flight
(default 20); one poller follows them with GET /servers/detail?changes-since
every --poll-interval seconds (default 0.1; as a dashboard would, only much
more often) and wakes each creator when its server is ACTIVE. The poller's
requests load the same cloud, so a shorter interval lowers the figure (0.02
was the default before; README gives both). Prints servers per second and
p50/p95 create-to-ACTIVE latency; then, with 1,000 servers present, the
latency of GET /v2.1/servers/detail.

    python bench/boot.py [--servers 200] [--concurrency 20] [--list-servers 1000]
                         [--poll-interval 0.1]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import statistics
import subprocess
import sys
import threading
import time

import requests

CHILD = """
import json, logging, sys
logging.basicConfig(level=logging.ERROR)
from compute_core import Cloud
from compute_core.cmd.aio import settle_after_start
big = {"vcpus": 100000, "memory_mb": 10 ** 9, "disk_gb": 10 ** 7}
overrides = {"quota.instances": -1, "quota.cores": -1, "quota.ram": -1, **json.loads(sys.argv[2])}
with Cloud(hosts=int(sys.argv[1]), host_resources=big, overrides=overrides) as cloud:
    settle_after_start()  # as compute-aio does once started
    print(json.dumps({"compute": cloud.compute_url}), flush=True)
    sys.stdin.read()
"""


class Tracker:
    """Polls the server list for changes and wakes waiters on ACTIVE/ERROR."""

    def __init__(self, url, interval):
        self.url = url
        self.interval = interval
        self.session = requests.Session()
        self.session.headers["X-Auth-Token"] = "admin:admin"
        self.events: dict[str, threading.Event] = {}
        self.status: dict[str, str] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def watch(self, sid):
        with self.lock:
            ev = self.events.setdefault(sid, threading.Event())
            if self.status.get(sid) in ("ACTIVE", "ERROR"):
                ev.set()
        return ev

    def run(self):
        since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
        while not self.stop.is_set():
            t = datetime.datetime.now(datetime.timezone.utc)
            resp = self.session.get(self.url + "/servers/detail", params={
                "changes-since": since.replace(tzinfo=None).isoformat(), "all_tenants": "1"})
            # A change stamped before this poll may commit after it: look
            # back a little each time.
            since = t - datetime.timedelta(seconds=2)
            with self.lock:
                for s in resp.json()["servers"]:
                    self.status[s["id"]] = s["status"]
                    if s["status"] in ("ACTIVE", "ERROR") and s["id"] in self.events:
                        self.events[s["id"]].set()
                    elif s["status"] in ("ACTIVE", "ERROR"):
                        self.events[s["id"]] = threading.Event()
                        self.events[s["id"]].set()
            time.sleep(self.interval)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--list-servers", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--poll-interval", type=float, default=0.1,
                    help="seconds between the poller's GET /servers/detail?changes-since")
    ap.add_argument("--override", action="append", default=[],
                    help="group.option=value for the cloud (repeatable)")
    args = ap.parse_args()
    child = subprocess.Popen([sys.executable, "-W", "ignore", "-c", CHILD, str(args.hosts),
                              json.dumps(dict(o.split("=", 1) for o in args.override))],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = json.loads(child.stdout.readline())["compute"]
        run(url, args)
    finally:
        child.stdin.close()
        child.wait(timeout=60)


def run(url, args):
    local = threading.local()

    def session():
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.headers.update({"X-Auth-Token": "admin:admin",
                                    "Content-Type": "application/json",
                                    "OpenStack-API-Version": "compute 2.37"})
        return local.s

    image = session().get(url + "/images", headers={"OpenStack-API-Version": "compute 2.1"}
                          ).json()["images"][0]["id"]
    tracker = Tracker(url, args.poll_interval)
    tracker.thread.start()

    def boot(name):
        t0 = time.perf_counter()
        resp = session().post(url + "/servers", json={"server": {
            "name": name, "imageRef": image, "flavorRef": "1", "networks": "none"}})
        resp.raise_for_status()
        sid = resp.json()["server"]["id"]
        if not tracker.watch(sid).wait(120):
            raise RuntimeError(f"{name} not ACTIVE after 120 s")
        if tracker.status.get(sid) != "ACTIVE":
            raise RuntimeError(f"{name} ended {tracker.status.get(sid)}")
        return time.perf_counter() - t0

    boot("warmup")
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        t0 = time.perf_counter()
        latencies = list(pool.map(lambda i: boot(f"b{i}"), range(args.servers)))
        elapsed = time.perf_counter() - t0
    print(f"boot: {args.servers} servers, {args.concurrency} in flight, {args.hosts} fake hosts, "
          f"poll every {args.poll_interval:g} s")
    print(f"  throughput         {args.servers / elapsed:8.1f} servers/s")
    print(f"  create->ACTIVE p50 {pct(latencies, 50) * 1000:8.1f} ms")
    print(f"  create->ACTIVE p95 {pct(latencies, 95) * 1000:8.1f} ms")
    have = args.servers + 1
    if args.list_servers > have:
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(lambda i: boot(f"l{i}"), range(args.list_servers - have)))
    tracker.stop.set()
    tracker.thread.join()
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        resp = session().get(url + "/servers/detail", params={"limit": "1000"})
        times.append(time.perf_counter() - t0)
        resp.raise_for_status()
    n = len(resp.json()["servers"])
    print(f"list: GET /servers/detail with {n} servers present")
    print(f"  median             {statistics.median(times) * 1000:8.1f} ms")
    print(f"  p95                {pct(times, 95) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
