"""Boot throughput of the embedded cloud through the HTTP API.

The cloud runs in a child process (as compute-aio would), this process is
the client: N servers (default 200) are created with C requests in flight
(default 20); one poller follows them with GET /servers/detail?changes-since
every --poll-interval seconds (default 0.1; as a dashboard would, only much
more often) and wakes each creator when its server is ACTIVE. The poller's
requests load the same cloud, so a shorter interval lowers the figure (0.02
was the default before; README gives both). Prints servers per second and
p50/p95 create-to-ACTIVE latency; then, with 1,000 servers present, the
latency of GET /v2.1/servers/detail and the cloud process's CPU per listing
(from /proc/PID/stat: what other load on the machine barely moves;
bench/list_cpu.py compares two checkouts on it).

    python bench/boot.py [--servers 200] [--concurrency 20] [--list-servers 1000]
                         [--poll-interval 0.1]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import requests

TICK = os.sysconf("SC_CLK_TCK")

CHILD = """
import json, logging, sys
logging.basicConfig(level=logging.ERROR)
from compute_core import Cloud
from compute_core.cmd.aio import settle_after_start
big = {"vcpus": 100000, "memory_mb": 10 ** 9, "disk_gb": 10 ** 7}
if len(sys.argv) > 3:
    big = json.loads(sys.argv[3])
overrides = {"quota.instances": -1, "quota.cores": -1, "quota.ram": -1, **json.loads(sys.argv[2])}
with Cloud(hosts=int(sys.argv[1]), host_resources=big, overrides=overrides) as cloud:
    settle_after_start()  # as compute-aio does once started
    print(json.dumps({"compute": cloud.compute_url}), flush=True)
    sys.stdin.read()
"""


class Tracker:
    """Polls the server list for changes and wakes waiters once their
    server reaches a status they wait for (ACTIVE or ERROR after a create,
    DELETED after a delete: changes-since lists deleted servers too)."""

    def __init__(self, url, interval):
        self.url = url
        self.interval = interval
        self.session = requests.Session()
        self.session.headers["X-Auth-Token"] = "admin:admin"
        self.waiting: dict[str, tuple[tuple, threading.Event]] = {}
        self.status: dict[str, str] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def watch(self, sid, wanted=("ACTIVE", "ERROR")):
        ev = threading.Event()
        with self.lock:
            self.waiting[sid] = (wanted, ev)
            if self.status.get(sid) in wanted:
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
                    wanted, ev = self.waiting.get(s["id"], ((), None))
                    if s["status"] in wanted:
                        ev.set()
            time.sleep(self.interval)


class Servers:
    """Creates and deletes servers through the API (a session per thread)
    and waits for them through one :class:`Tracker`."""

    def __init__(self, url, poll_interval, flavor="1"):
        self.url = url
        self.flavor = flavor
        self.local = threading.local()
        self.image = self.session().get(
            url + "/images", headers={"OpenStack-API-Version": "compute 2.1"}
        ).json()["images"][0]["id"]
        self.tracker = Tracker(url, poll_interval)
        self.tracker.thread.start()

    def session(self) -> requests.Session:
        """This thread's HTTP session of the admin (2.37: networks "none")."""
        if not hasattr(self.local, "s"):
            self.local.s = requests.Session()
            self.local.s.headers.update({"X-Auth-Token": "admin:admin",
                                         "Content-Type": "application/json",
                                         "OpenStack-API-Version": "compute 2.37"})
        return self.local.s

    def boot(self, name):
        """(server id, final status, seconds from create to ACTIVE/ERROR)."""
        t0 = time.perf_counter()
        resp = self.session().post(self.url + "/servers", json={"server": {
            "name": name, "imageRef": self.image, "flavorRef": self.flavor,
            "networks": "none"}})
        resp.raise_for_status()
        sid = resp.json()["server"]["id"]
        done = self.tracker.watch(sid)
        # Past 10 s, ask for the server too: one that ended in ERROR in
        # cell0 has no updated_at, and changes-since does not list it.
        if not done.wait(10):
            while time.perf_counter() - t0 < 120 and not done.wait(1):
                status = self.session().get(f"{self.url}/servers/{sid}").json()[
                    "server"]["status"]
                if status in ("ACTIVE", "ERROR"):
                    return sid, status, time.perf_counter() - t0
            if not done.is_set():
                raise RuntimeError(f"{name} not ACTIVE after 120 s")
        return sid, self.tracker.status.get(sid), time.perf_counter() - t0

    def delete(self, sid):
        """Seconds from the DELETE to the server listed as deleted (or, past
        2 s, answered 404: code that leaves updated_at alone at the delete
        is not listed by changes-since once the delete takes that long)."""
        t0 = time.perf_counter()
        done = self.tracker.watch(sid, ("DELETED",))
        resp = self.session().delete(f"{self.url}/servers/{sid}")
        if resp.status_code != 204:
            raise RuntimeError(f"DELETE {sid}: {resp.status_code} {resp.text}")
        if done.wait(2):
            return time.perf_counter() - t0
        while time.perf_counter() - t0 < 120:
            if done.wait(0.5) or self.session().get(
                    f"{self.url}/servers/{sid}").status_code == 404:
                return time.perf_counter() - t0
        raise RuntimeError(f"{sid} not gone after 120 s")

    def close(self):
        self.tracker.stop.set()
        self.tracker.thread.join()


def boot_and_delete(url, servers, concurrency, poll_interval, flavor="1", phase_hook=None):
    """The workload of the distributed bench: *servers* creates with
    *concurrency* in flight, each waited for until ACTIVE or ERROR, then
    every server deleted the same way. *phase_hook(name)* is called as each
    phase starts ("boot", "delete") and at the "end". Returns rates,
    latencies and how many servers ended in ERROR."""
    api = Servers(url, poll_interval, flavor)
    hook = phase_hook or (lambda name: None)
    try:
        api.delete(api.boot("warmup")[0])
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            hook("boot")
            t0 = time.perf_counter()
            booted = list(pool.map(lambda i: api.boot(f"b{i}"), range(servers)))
            boot_s = time.perf_counter() - t0
            hook("delete")
            t0 = time.perf_counter()
            deleted = list(pool.map(api.delete, [sid for sid, _, _ in booted]))
            delete_s = time.perf_counter() - t0
            hook("end")
    finally:
        api.close()
    latencies = [lat for _, _, lat in booted]
    return {"boot_rate": servers / boot_s, "delete_rate": servers / delete_s,
            "boot_p50": pct(latencies, 50), "boot_p95": pct(latencies, 95),
            "delete_p50": pct(deleted, 50),
            "errors": sum(status == "ERROR" for _, status, _ in booted)}


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
        run(url, args, child.pid)
    finally:
        child.stdin.close()
        child.wait(timeout=60)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run(url, args, pid=None):
    api = Servers(url, args.poll_interval)

    def boot(name):
        sid, status, latency = api.boot(name)
        if status != "ACTIVE":
            raise RuntimeError(f"{name} ended {status}")
        return latency

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
    api.close()
    times = []
    cpu = cpu_seconds(pid) if pid else 0.0
    for _ in range(20):
        t0 = time.perf_counter()
        resp = api.session().get(url + "/servers/detail", params={"limit": "1000"})
        times.append(time.perf_counter() - t0)
        resp.raise_for_status()
    cpu = cpu_seconds(pid) - cpu if pid else 0.0
    n = len(resp.json()["servers"])
    print(f"list: GET /servers/detail with {n} servers present")
    print(f"  median             {statistics.median(times) * 1000:8.1f} ms")
    print(f"  p95                {pct(times, 95) * 1000:8.1f} ms")
    if pid:
        print(f"  cloud CPU / list   {cpu / len(times) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
