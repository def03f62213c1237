"""Placement benchmark: compute_core's placement against openstack-placement.

For each size (default 1,000 and 10,000 providers) the same workload is
bulk-loaded into two fresh MariaDB databases on the same server, one per
service: providers with VCPU / MEMORY_MB / DISK_GB inventories, a few traits,
eight aggregates, allocations on a quarter of them and a few with their disk
full. Then, over HTTP:

* the median latency of
  GET /allocation_candidates?resources=VCPU:1,MEMORY_MB:512,DISK_GB:10&limit=50
  and of the same query without limit;
* the rate of PUT /allocations/{new consumer} claims (8 client threads);
* a check that both services return the same candidate set.

compute_core's placement runs as ``compute-placement-api`` (its threaded
WSGI server) in a process of its own; openstack-placement (16.x, from PyPI)
runs behind gunicorn from a virtualenv
given by --reference-venv (by default the one .ci/setup makes with
``python -m compute_core.testing.placement_services``); it is never
imported here. Without that venv only our figures
are printed.

    python bench/placement.py [--sizes 1000,10000] [--server mysql+pymysql://root@127.0.0.1/]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import random
import statistics
import sys
import time
import uuid

import requests
import sqlalchemy as sa

from compute_core.testing import placement_services as services

QUERY = "resources=VCPU:1,MEMORY_MB:512,DISK_GB:10"
HEADERS = {"X-Auth-Token": "admin:admin", "OpenStack-API-Version": "placement 1.39",
           "Accept": "application/json"}
TRAITS = ("HW_CPU_X86_AVX2", "STORAGE_DISK_SSD", "HW_NIC_SRIOV")
VCPU, MEMORY_MB, DISK_GB = 0, 1, 2
# os-resource-classes ids, shared by both services


# ---------------------------------------------------------------- workload

def workload(n: int, seed: int = 42) -> dict:
    """The rows both databases get, with the same uuids."""
    rng = random.Random(seed)

    def new_uuid():
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    aggs = [new_uuid() for _ in range(8)]
    providers, inventories, traits, members, consumers, allocations = [], [], [], [], [], []
    for i in range(1, n + 1):
        providers.append({"id": i, "uuid": new_uuid(), "name": f"cn{i:05d}", "generation": 1,
                          "root_provider_id": i})
        inventories += [
            {"resource_provider_id": i, "resource_class_id": VCPU, "total": 32, "reserved": 0,
             "min_unit": 1, "max_unit": 32, "step_size": 1, "allocation_ratio": 4.0},
            {"resource_provider_id": i, "resource_class_id": MEMORY_MB, "total": 131072,
             "reserved": 512, "min_unit": 1, "max_unit": 131072, "step_size": 1,
             "allocation_ratio": 1.0},
            {"resource_provider_id": i, "resource_class_id": DISK_GB, "total": 1000,
             "reserved": 0, "min_unit": 1, "max_unit": 1000, "step_size": 1,
             "allocation_ratio": 1.0}]
        for k, name in enumerate(TRAITS):
            if i % (k + 2) == 0:
                traits.append((i, name))
        members.append((i, aggs[i % len(aggs)]))
        if i % 4 == 0 or i % 50 == 1:
            consumer = new_uuid()
            consumers.append({"uuid": consumer, "generation": 1})
            disk = 995 if i % 50 == 1 else 100  # a few providers with a full disk
            for rc, used in ((VCPU, 8), (MEMORY_MB, 16384), (DISK_GB, disk)):
                allocations.append({"resource_provider_id": i, "consumer_id": consumer,
                                    "resource_class_id": rc, "used": used})
    return {"providers": providers, "inventories": inventories, "traits": traits,
            "members": members, "aggregates": aggs, "consumers": consumers,
            "allocations": allocations}


def load(url: str, data: dict) -> None:
    """Bulk-insert *data* into a migrated placement schema (either service's:
    the tables and columns used here are common to both)."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine, only=["resource_providers", "inventories", "traits",
                               "resource_provider_traits", "placement_aggregates",
                               "resource_provider_aggregates", "projects", "users",
                               "consumers", "allocations"])
    t = meta.tables
    with engine.begin() as conn:
        conn.execute(t["resource_providers"].insert(), data["providers"])
        conn.execute(t["inventories"].insert(), data["inventories"])
        trait_ids = dict(conn.execute(sa.select(t["traits"].c.name, t["traits"].c.id)
                                      .where(t["traits"].c.name.in_(TRAITS))).all())
        conn.execute(t["resource_provider_traits"].insert(),
                     [{"resource_provider_id": rp, "trait_id": trait_ids[name]}
                      for rp, name in data["traits"]])
        conn.execute(t["placement_aggregates"].insert(),
                     [{"id": i + 1, "uuid": u} for i, u in enumerate(data["aggregates"])])
        agg_ids = {u: i + 1 for i, u in enumerate(data["aggregates"])}
        conn.execute(t["resource_provider_aggregates"].insert(),
                     [{"resource_provider_id": rp, "aggregate_id": agg_ids[u]}
                      for rp, u in data["members"]])
        project = conn.execute(t["projects"].insert().values(external_id="bench-project")
                               ).inserted_primary_key[0]
        user = conn.execute(t["users"].insert().values(external_id="bench-user")
                            ).inserted_primary_key[0]
        conn.execute(t["consumers"].insert(), [dict(c, project_id=project, user_id=user)
                                               for c in data["consumers"]])
        conn.execute(t["allocations"].insert(), data["allocations"])
    engine.dispose()


# ---------------------------------------------------------------- services
# Both services, their databases and the reference virtualenv come from
# compute_core.testing.placement_services (shared with the differential
# tests in tests/placement_diff).

def ours(url: str, root: str | None = None):
    return services.serve_ours(url, threads=16, root=root)


def reference(url: str, venv: str, workers: int):
    return services.serve_reference(url, venv, workers=workers)


# ---------------------------------------------------------------- measures

def median_latency(base: str, path: str, runs: int) -> float:
    with requests.Session() as s:
        s.get(base + path, headers=HEADERS, timeout=600).raise_for_status()  # warm-up
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            s.get(base + path, headers=HEADERS, timeout=600).raise_for_status()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def candidate_set(base: str, path: str):
    body = requests.get(base + path, headers=HEADERS, timeout=600).json()
    requests_set = {frozenset((rp, rc, n) for rp, a in ar["allocations"].items()
                              for rc, n in a["resources"].items())
                    for ar in body["allocation_requests"]}
    summaries = {rp: {rc: (v["capacity"], v["used"]) for rc, v in s["resources"].items()}
                 for rp, s in body["provider_summaries"].items()}
    return requests_set, summaries, len(body["allocation_requests"])


def claim_rate(base: str, providers: list[str], threads: int = 8) -> float:
    def claim(rp):
        with requests.Session() as s:
            r = s.put(f"{base}/allocations/{uuid.uuid4()}", headers=HEADERS, timeout=120, json={
                "allocations": {rp: {"resources": {"VCPU": 1, "MEMORY_MB": 512,
                                                   "DISK_GB": 10}}},
                "project_id": "bench-project", "user_id": "bench-user",
                "consumer_generation": None, "consumer_type": "INSTANCE"})
        return r.status_code if r.status_code == 204 else (r.status_code, r.text[:300])

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        codes = list(pool.map(claim, providers))
    elapsed = time.perf_counter() - t0
    if codes.count(204) != len(codes):
        raise RuntimeError(f"claims failed: {[c for c in codes if c != 204][:3]}")
    return len(codes) / elapsed


def run_one(name, base, n, data, args):
    limit_path = f"/allocation_candidates?{QUERY}&limit=50"
    all_path = f"/allocation_candidates?{QUERY}"
    out = {"limit": median_latency(base, limit_path, args.runs),
           "all": median_latency(base, all_path, max(3, args.runs // 4))}
    out["set"] = candidate_set(base, all_path)
    out["limited"] = candidate_set(base, limit_path)[2]
    # Claims on the last providers, the same ones for both services.
    targets = [p["uuid"] for p in data["providers"] if p["id"] % 50 != 1][-args.claims:]
    out["claims"] = claim_rate(base, targets)
    print(f"  {name:<22} limit=50 {out['limit'] * 1000:8.1f} ms   no limit "
          f"{out['all'] * 1000:8.1f} ms   claims {out['claims']:7.1f}/s   "
          f"({out['set'][2]} candidates)", flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000")
    p.add_argument("--server", default="mysql+pymysql://root@127.0.0.1/")
    p.add_argument("--reference-venv", default=services.DEFAULT_REFERENCE_VENV)
    p.add_argument("--reference-workers", type=int, default=4)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--claims", type=int, default=200)
    p.add_argument("--baseline", default=None,
                   help="a checkout of older code (a git worktree) measured the same way, "
                        "before this one, in the same run")
    args = p.parse_args(argv)
    have_ref = services.reference_venv_ready(args.reference_venv)
    if not have_ref:
        print(f"no openstack-placement venv at {args.reference_venv}: ours only")
    tag = uuid.uuid4().hex[:8]
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        print(f"{n} providers", flush=True)
        data = workload(n)
        base_line = None
        if args.baseline:
            with services.database(args.server, f"bench_base_{tag}_{n}") as url:
                with ours(url, args.baseline) as base:
                    load(url, data)
                    base_line = run_one("compute_core (baseline)", base, n, data, args)
        with services.database(args.server, f"bench_ours_{tag}_{n}") as url:
            with ours(url) as base:
                load(url, data)
                mine = run_one("compute_core", base, n, data, args)
        theirs = None
        if have_ref:
            with services.database(args.server, f"bench_ref_{tag}_{n}") as url:
                with reference(url, args.reference_venv, args.reference_workers) as base:
                    load(url, data)
                    theirs = run_one("openstack-placement", base, n, data, args)
            same = mine["set"][:2] == theirs["set"][:2]
            print(f"  identical candidate sets and summaries: {same}; limit=50 returned "
                  f"{mine['limited']} / {theirs['limited']}")
            if not same:
                print(f"  only ours: {len(mine['set'][0] - theirs['set'][0])}, only theirs: "
                      f"{len(theirs['set'][0] - mine['set'][0])}")
        rows.append((n, mine, theirs, base_line))
    print()
    print("| providers | query | baseline | compute_core | openstack-placement 16 | speed-up |")
    print("|---|---|---|---|---|---|")
    for n, mine, theirs, base_line in rows:
        for key, label in (("limit", "GET candidates limit=50"),
                           ("all", "GET candidates, no limit")):
            ref = f"{theirs[key] * 1000:.1f} ms" if theirs else "-"
            ratio = f"{theirs[key] / mine[key]:.1f}x" if theirs else "-"
            old = f"{base_line[key] * 1000:.1f} ms" if base_line else "-"
            print(f"| {n} | {label} | {old} | {mine[key] * 1000:.1f} ms | {ref} | {ratio} |")
        ref = f"{theirs['claims']:.0f}/s" if theirs else "-"
        ratio = f"{mine['claims'] / theirs['claims']:.1f}x" if theirs else "-"
        old = f"{base_line['claims']:.0f}/s" if base_line else "-"
        print(f"| {n} | PUT /allocations claims (8 threads) | {old} | {mine['claims']:.0f}/s "
              f"| {ref} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
