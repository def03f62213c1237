"""CPU cost per request of the two placement calls of every boot.

Starts the placement app alone, in this process (the full paste pipeline,
noauth2, a SQLite file database as in the embedded cloud, or --db URL), with
--providers compute-node-like providers (VCPU, MEMORY_MB, DISK_GB and a few
traits), and drives it single-threaded through WSGI (no sockets):

* GET /allocation_candidates?resources=DISK_GB:1,MEMORY_MB:512,VCPU:1&limit=1000
* PUT /allocations/{new consumer} (consumer_generation null), then its DELETE

printing, per call, the median wall time and the median CPU time
(``time.process_time()``) over --requests requests, after --warmup unmeasured
ones. Run it on two checkouts to compare (``PYTHONPATH=/other/tree``).

    python -W ignore bench/placement_cpu.py [--requests 300] [--providers 4]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import uuid

import webob

from compute_core import assembly
from compute_core import conf as conf_mod
from compute_core.db import migration
from compute_core.placement import objects

HEADERS = {"X-Auth-Token": "admin:admin", "OpenStack-API-Version": "placement 1.39",
           "Accept": "application/json"}
QUERY = "resources=DISK_GB:1,MEMORY_MB:512,VCPU:1&limit=1000"
TRAITS = ["COMPUTE_NET_ATTACH_INTERFACE", "COMPUTE_VOLUME_ATTACH", "HW_CPU_X86_AVX2"]


def call(app, method, path, body=None, expect=(200, 204)):
    req = webob.Request.blank(path, method=method, headers=HEADERS)
    if body is not None:
        req.body = json.dumps(body).encode()
        req.content_type = "application/json"
    resp = req.get_response(app)
    if resp.status_code not in expect:
        raise SystemExit(f"{method} {path}: {resp.status}\n{resp.text}")
    return resp


def setup(app, n):
    providers = []
    for i in range(n):
        rp = str(uuid.uuid4())
        call(app, "POST", "/resource_providers", {"uuid": rp, "name": f"host{i}"})
        call(app, "PUT", f"/resource_providers/{rp}/inventories", {
            "resource_provider_generation": 0, "inventories": {
                "VCPU": {"total": 64, "allocation_ratio": 16.0},
                "MEMORY_MB": {"total": 1048576, "reserved": 512, "allocation_ratio": 1.5},
                "DISK_GB": {"total": 100000}}})
        call(app, "PUT", f"/resource_providers/{rp}/traits",
             {"resource_provider_generation": 1, "traits": TRAITS})
        providers.append(rp)
    return providers


def measure(fn, count, warmup):
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(count):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--providers", type=int, default=4)
    parser.add_argument("--db", help="database URL (default: a SQLite file)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="placement-cpu-")
    conf = conf_mod.load(args=[], overrides={
        "placement_database.connection": args.db or f"sqlite:///{tmp}/p.sqlite",
        "api.auth_strategy": "noauth2"})
    services = assembly.PlacementServices(conf)
    try:
        migration.upgrade(services.db, "placement")
        objects.ensure_standard_traits(services.db)
        app = assembly.load_wsgi_app(conf, "placement", services)
        setup(app, args.providers)
        project, user = str(uuid.uuid4()), str(uuid.uuid4())
        first = call(app, "GET", "/allocation_candidates?" + QUERY).json
        alloc = first["allocation_requests"][0]["allocations"]

        def candidates():
            call(app, "GET", "/allocation_candidates?" + QUERY)

        consumers = []

        def claim():
            consumer = str(uuid.uuid4())
            call(app, "PUT", f"/allocations/{consumer}", {
                "allocations": alloc, "project_id": project, "user_id": user,
                "consumer_generation": None, "consumer_type": "INSTANCE"}, expect=(204,))
            consumers.append(consumer)

        def delete():
            call(app, "DELETE", f"/allocations/{consumers.pop()}", expect=(204,))

        rows = [("GET /allocation_candidates", measure(candidates, args.requests, args.warmup))]
        rows.append(("PUT /allocations (new)", measure(claim, args.requests, args.warmup)))
        rows.append(("DELETE /allocations", measure(delete, args.requests, args.warmup)))
        print(f"{args.providers} providers, {args.requests} requests each "
              f"({services.db.backend})")
        print(f"{'call':30s} {'wall ms':>9s} {'cpu ms':>9s}")
        for name, (wall, cpu) in rows:
            print(f"{name:30s} {wall:9.3f} {cpu:9.3f}")
    finally:
        services.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
