"""CPU of compute-placement-api per boot and per delete, as a process of its own.

Starts ``compute-placement-api`` (noauth2, its threaded WSGI server) on a
fresh MariaDB database (unique name, dropped at the end; ``--server`` gives
another server, ``sqlite://`` a file), creates --providers compute-node
providers with large inventories, then drives it from --threads client
threads with each boot's placement requests, as the scheduler sends them
(microversion 1.39):

* GET /allocation_candidates?resources=DISK_GB:1,MEMORY_MB:256,VCPU:1&limit=1000
* PUT /allocations/{new consumer} with the first candidate (the claim)

then the deletes (DELETE /allocations/{consumer}) of all those consumers. It
prints the server process's CPU milliseconds (utime + stime from
/proc/PID/stat) per boot sequence and per delete. With ``--baseline DIR``
the same run alternates the two checkouts' code (A B A B, --rounds each) on
databases of their own, the server started with DIR first on PYTHONPATH.

    python -W ignore bench/placement_distributed_cpu.py [--boots 600] [--rounds 2]
        [--baseline /path/to/other/checkout]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import signal
import statistics
import subprocess
import threading
import urllib.parse
import uuid

from compute_core.testing import placement_services as services

HEADERS = {"X-Auth-Token": "admin:admin", "OpenStack-API-Version": "placement 1.39",
           "Accept": "application/json", "Content-Type": "application/json"}
QUERY = "/allocation_candidates?resources=DISK_GB:1,MEMORY_MB:256,VCPU:1&limit=1000"
TICKS = os.sysconf("SC_CLK_TCK")


class Client:
    """One kept-alive HTTP connection per thread (as the placement client)."""

    def __init__(self, base):
        self.netloc = urllib.parse.urlsplit(base).netloc
        self.local = threading.local()

    def call(self, method, path, body=None, expect=(200, 204)):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.netloc, timeout=120)
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=HEADERS)
        resp = conn.getresponse()
        text = resp.read()
        if resp.status not in expect:
            raise SystemExit(f"{method} {path}: {resp.status}\n{text[:2000]!r}")
        return resp.status, (json.loads(text) if text else None)


def server_pid(port: int) -> int:
    """The pid of our child serving *port* (its command line names it)."""
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/children", encoding="ascii") as f:
            for pid in f.read().split():
                with open(f"/proc/{pid}/cmdline", "rb") as c:
                    if f"\0{port}\0".encode() in c.read() + b"\0":
                        return int(pid)
    raise RuntimeError(f"no child process serves port {port}")


def cpu_ms(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICKS  # utime, stime


def setup(client, n):
    for i in range(n):
        rp = str(uuid.uuid4())
        client.call("POST", "/resource_providers", {"uuid": rp, "name": f"cn{i}"})
        client.call("PUT", f"/resource_providers/{rp}/inventories", {
            "resource_provider_generation": 0, "inventories": {
                "VCPU": {"total": 100000, "allocation_ratio": 16.0},
                "MEMORY_MB": {"total": 100000000, "reserved": 512},
                "DISK_GB": {"total": 10000000}}})


def profiled(pid, path):
    """py-spy recording *pid* (raw folded stacks into *path*) until stopped."""
    if not path:
        return None
    return subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--format", "raw",
                             "--rate", "200", "--gil", "--output", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc):
    if proc is not None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def run_one(url, root, args, profile=None):
    """Boots then deletes against a server running *root*'s code; returns
    (CPU ms per boot sequence, CPU ms per delete)."""
    with services.serve_ours(url, threads=16, root=root) as base:
        pid = server_pid(urllib.parse.urlsplit(base).port)
        client = Client(base)
        setup(client, args.providers)
        project, user = str(uuid.uuid4()), str(uuid.uuid4())
        retries = []

        def boot(_):
            # A claim that lost a provider race gets fresh candidates, as the
            # scheduler does (4 rounds at most).
            consumer = str(uuid.uuid4())
            for _ in range(4):
                body = client.call("GET", QUERY)[1]
                status = client.call("PUT", f"/allocations/{consumer}", {
                    "allocations": body["allocation_requests"][0]["allocations"],
                    "project_id": project, "user_id": user, "consumer_generation": None,
                    "consumer_type": "INSTANCE"}, expect=(204, 409))[0]
                if status == 204:
                    return consumer
                retries.append(consumer)
            raise SystemExit(f"claim for {consumer} lost 4 races")

        def delete(consumer):
            client.call("DELETE", f"/allocations/{consumer}", expect=(204,))

        with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
            for consumer in list(pool.map(boot, range(args.warmup))):
                delete(consumer)
            spy = profiled(pid, profile and profile + "-boot.folded")
            c0 = cpu_ms(pid)
            consumers = list(pool.map(boot, range(args.boots)))
            c1 = cpu_ms(pid)
            stop(spy)
            spy = profiled(pid, profile and profile + "-delete.folded")
            c2 = cpu_ms(pid)
            list(pool.map(delete, consumers))
            c3 = cpu_ms(pid)
            stop(spy)
    return (c1 - c0) / args.boots, (c3 - c2) / args.boots, len(retries)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="mysql+pymysql://root@127.0.0.1/")
    parser.add_argument("--boots", type=int, default=600)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--providers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", help="another checkout, run alternately")
    parser.add_argument("--profile", metavar="DIR",
                        help="record the server with py-spy (CPU figures then include its "
                             "sampling): DIR/NAME-ROUND-boot.folded, -delete.folded")
    args = parser.parse_args()

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    codes = [("this", here)] + ([("baseline", os.path.abspath(args.baseline))]
                                if args.baseline else [])
    results = {name: [] for name, _ in codes}
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    for n in range(args.rounds):
        for name, root in codes:
            profile = args.profile and os.path.join(args.profile, f"{name}-{n}")
            with services.database(args.server, services.unique_name("placecpu")) as url:
                boot, delete, retries = run_one(url, root, args, profile)
            results[name].append((boot, delete))
            print(f"{name:9s} boot {boot:6.2f} ms  delete {delete:6.2f} ms  "
                  f"{retries} claims retried "
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    print(f"{args.boots} boots and deletes per run, {args.threads} client threads, "
          f"{args.providers} providers; server CPU ms (median of {args.rounds} runs)")
    for name, rows in results.items():
        print(f"{name:9s} boot {statistics.median(r[0] for r in rows):6.2f}  "
              f"delete {statistics.median(r[1] for r in rows):6.2f}")


if __name__ == "__main__":
    main()
