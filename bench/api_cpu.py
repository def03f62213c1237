"""compute-api CPU per request of the distributed mode: POST /servers,
GET /servers/detail?changes-since=T (as bench/boot.py's poller sends it)
and DELETE /servers/{id}, each sent one at a time, so that the process's
CPU (from /proc/PID/stat) divided by the requests is that request's cost,
whatever the machine's load does to the timing (bench/boot_distributed.py's
figures per server include the poller, whose calls per server grow with
the phase's length).

The services run as bench/boot_distributed.py starts them (fake hosts,
RabbitMQ vhost and MariaDB databases of their own, dropped at the end).
Per round: --servers creates, then (once all are ACTIVE) --servers
listings of what changed since just before the creates (--servers
servers listed each), then --servers deletes. With --baseline DIR the
other checkout's code runs alternately (A B A B) in the same run.

    python bench/api_cpu.py [--servers 50] [--rounds 2] [--baseline DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import shutil
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import boot_distributed as bd  # noqa: E402  (bench/boot_distributed.py)
from tests.integration import test_distributed as dist  # noqa: E402


def session() -> requests.Session:
    s = requests.Session()
    s.headers.update({"X-Auth-Token": "admin:admin", "Content-Type": "application/json",
                      "OpenStack-API-Version": "compute 2.37"})
    return s


def wait_status(s, url, ids, wanted, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        servers = s.get(url + "/servers/detail", params={"all_tenants": "1"}).json()["servers"]
        status = {x["id"]: x["status"] for x in servers}
        if all(status.get(i) in wanted for i in ids):
            return
        time.sleep(0.5)
    raise RuntimeError(f"servers not {wanted} after {timeout} s")


def measure(url, pid, n) -> dict[str, float]:
    """compute-api CPU ms per create, listing and delete."""
    s = session()
    image = s.get(url + "/images", headers={"OpenStack-API-Version": "compute 2.1"}
                  ).json()["images"][0]["id"]
    body = {"server": {"name": "c", "imageRef": image, "flavorRef": bd.FLAVOR["id"],
                       "networks": "none"}}
    # Warm up each path once (caches, pools, first-use statements).
    warm = s.post(url + "/servers", json=body).json()["server"]["id"]
    wait_status(s, url, [warm], ("ACTIVE", "ERROR"))
    s.delete(f"{url}/servers/{warm}")
    since = (datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
             - datetime.timedelta(seconds=1)).isoformat()
    out = {}
    cpu = bd.cpu_seconds(pid)
    ids = []
    for _ in range(n):
        resp = s.post(url + "/servers", json=body)
        resp.raise_for_status()
        ids.append(resp.json()["server"]["id"])
    out["POST /servers"] = bd.cpu_seconds(pid) - cpu
    wait_status(s, url, ids, ("ACTIVE", "ERROR"))
    cpu = bd.cpu_seconds(pid)
    for _ in range(n):
        s.get(url + "/servers/detail", params={"changes-since": since, "all_tenants": "1"}
              ).raise_for_status()
    out["GET /servers/detail?changes-since"] = bd.cpu_seconds(pid) - cpu
    cpu = bd.cpu_seconds(pid)
    for i in ids:
        if s.delete(f"{url}/servers/{i}").status_code != 204:
            raise RuntimeError(f"DELETE {i} refused")
    out["DELETE /servers/{id}"] = bd.cpu_seconds(pid) - cpu
    wait_status(s, url, ids, (None,))  # gone from the live listing
    return {k: 1000 * v / n for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline", metavar="DIR",
                    help="a checkout of other code, run alternately as the base")
    args = ap.parse_args()
    reason = dist.backends_unreachable_reason()
    if reason:
        sys.exit(f"needs MariaDB and RabbitMQ: {reason}")
    modes = ["new", "base"] if args.baseline else ["new"]
    print(f"{args.servers} requests of each kind, one at a time; load average "
          f"{bd.load_average()}", flush=True)
    results: dict[str, list[dict]] = {m: [] for m in modes}
    workdir = tempfile.mkdtemp(prefix="bench-apicpu-")
    try:
        with dist.distributed_backends("cc_apicpu") as backends:
            for round_ in range(args.rounds):
                for mode in modes:
                    with bd.code_of("distributed-base" if mode == "base" else mode,
                                    args.baseline):
                        cloud = bd.Distributed(os.path.join(workdir, "cloud"), backends)
                    try:
                        load = bd.load_average()
                        ms = measure(cloud.url, cloud.pids["compute-api"], args.servers)
                    finally:
                        cloud.close()
                    results[mode].append(ms)
                    print(f"round {round_ + 1} {mode:5} " + "  ".join(
                        f"{k} {v:5.2f}" for k, v in ms.items()) + f"  (load {load})",
                        flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\ncompute-api CPU ms per request, mean of the rounds (min-max)")
    for key in results[modes[0]][0]:
        line = f"  {key:36}"
        for mode in modes:
            vals = [r[key] for r in results[mode]]
            line += f"  {mode} {sum(vals) / len(vals):5.2f} ({min(vals):.2f}-{max(vals):.2f})"
        print(line)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
