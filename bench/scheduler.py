"""How long the scheduler takes to filter and weigh hosts for one instance.

Builds 1,000 and 10,000 host states (varied sizes, some instances, some
host aggregates) handed over as the host manager hands them (with its index
of where each instance runs), runs FilterScheduler.filter_and_weigh with the
default filters and all installed weighers for a one-instance request of an
anti-affinity group many times, and prints the median time per request,
hosts per second, and how the time grows from 1,000 to 10,000 hosts (10.0
would be linear).

Two orders are timed. Alternating (the headline figure): requests go to
1,000 and 10,000 hosts in turn, so both sizes see the same moments of a
noisy machine and neither finds its working set left in the CPU caches by
an identical request just before (a real scheduler rebuilds its host states
between requests and serves other work). One size after the other: every
request over 1,000 hosts follows another over the same hosts, whose data
then fits in the caches; at 10,000 it does not, which shows as growth
above 10.

With --sweep it also times 500 to 40,000 hosts both ways and prints the
time per host at each size: flat per host means linear growth.

    python bench/scheduler.py [--runs N] [--seed S] [--sweep]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid

from compute_core import conf as conf_mod
from compute_core.scheduler.filters import HostState, HostStates
from compute_core.scheduler.manager import FilterScheduler
from compute_core.scheduler.request_spec import RequestSpec

SIZES = (1000, 10000)
SWEEP = (500, 1000, 2000, 5000, 10000, 20000, 40000)
CPU_INFO = json.dumps({"arch": "x86_64", "model": "Cascadelake-Server", "vendor": "Intel",
                       "features": ["avx2", "avx512f", "vmx"],
                       "maxphysaddr": {"mode": "passthrough", "bits": 46}})


def make_aggregates(rng, count=20):
    aggs = []
    for i in range(count):
        meta = {"availability_zone": f"az{i % 3}"}
        if i % 4 == 0:
            meta["ram_weight_multiplier"] = "2.0"
        if i % 5 == 0:
            meta["filter_tenant_id"] = "tenant-a"
        aggs.append({"id": i, "name": f"agg{i}", "hosts": [], "metadata": meta})
    return aggs


def make_hosts(count, rng, aggregates, group_members):
    hosts = []
    for i in range(count):
        vcpus = rng.choice((16, 32, 64, 96))
        ram = vcpus * rng.choice((2048, 4096, 8192))
        disk_gb = rng.choice((500, 1000, 2000))
        n_inst = rng.randint(0, 30)
        instances = {}
        for _ in range(n_inst):
            u = str(uuid.UUID(int=rng.getrandbits(128)))
            instances[u] = {"uuid": u, "project_id": "tenant-b", "vm_state": "active",
                            "task_state": None}
        if i % 997 == 0 and group_members:
            # A few hosts already run a member of the request's group.
            m = group_members[(i // 997) % len(group_members)]
            instances[m] = {"uuid": m, "project_id": "tenant-a", "vm_state": "active"}
        used_vcpus = min(vcpus * 4, n_inst * 2)
        used_ram = min(ram, n_inst * 2048)
        state = HostState(
            host=f"compute{i:05d}", nodename=f"compute{i:05d}.example",
            uuid=str(uuid.UUID(int=rng.getrandbits(128))), cell_uuid="cell1",
            host_ip=f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
            hypervisor_type="QEMU", hypervisor_version=rng.choice((6002000, 7002000, 8000000)),
            cpu_info=CPU_INFO, vcpus_total=vcpus, vcpus_used=used_vcpus,
            total_usable_ram_mb=ram, free_ram_mb=ram - used_ram,
            total_usable_disk_gb=disk_gb, free_disk_mb=(disk_gb - n_inst * 20) * 1024,
            cpu_allocation_ratio=4.0, num_instances=len(instances),
            num_io_ops=rng.randint(0, 3), instances=instances,
            aggregates=[aggregates[i % len(aggregates)]] if i % 3 == 0 else [],
            stats={"num_proj_tenant-b": n_inst},
            service={"up": i % 50 != 0, "disabled": i % 101 == 0},
            failed_builds=1 if i % 250 == 0 else 0)
        hosts.append(state)
    # The host manager's index of where each instance runs (its trackers'
    # view), which the group filters consult instead of every host.
    where = {uuid: h.host for h in hosts for uuid in h.instances}
    return HostStates(hosts, locate=where.get)


def make_request(group_members):
    return RequestSpec(
        instance_uuid=str(uuid.uuid4()), project_id="tenant-a", user_id="user",
        flavor={"name": "m1.medium", "vcpus": 2, "memory_mb": 4096, "root_gb": 40,
                "ephemeral_gb": 0, "swap": 0, "extra_specs": {}},
        image={"id": str(uuid.uuid4()), "properties": {"hw_architecture": "x86_64",
                                                       "os_distro": "ubuntu"}},
        instance_group={"policy": "anti-affinity", "members": list(group_members),
                        "hosts": [], "rules": {}},
        num_instances=1)


def timed(scheduler, hosts, spec):
    start = time.perf_counter()
    result = scheduler.filter_and_weigh(hosts, spec, 0)
    return time.perf_counter() - start, result[0] if result else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="requests timed per size")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sweep", action="store_true",
                        help="also time 500 to 40,000 hosts and print the time per host")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    conf = conf_mod.load()
    scheduler = FilterScheduler(conf, host_manager=None, placement=None)
    print("filters:", ", ".join(type(f).__name__ for f in scheduler.filters))
    print("weighers:", ", ".join(type(w).__name__ for w in scheduler.weighers))
    members = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(5)]
    spec = make_request(members)
    aggregates = make_aggregates(rng)
    states = {size: make_hosts(size, rng, aggregates, members) for size in SIZES}
    for size in SIZES:
        scheduler.filter_and_weigh(states[size], spec, 0)  # warm up
    alternating = {size: [] for size in SIZES}
    chosen = {}
    for _ in range(args.runs):
        for size in SIZES:
            took, chosen[size] = timed(scheduler, states[size], spec)
            alternating[size].append(took)
    one_after = {size: [timed(scheduler, states[size], spec)[0] for _ in range(args.runs)]
                 for size in SIZES}
    small, large = SIZES
    for title, times in (("alternating sizes", alternating),
                         ("one size after the other", one_after)):
        medians = {size: statistics.median(v) for size, v in times.items()}
        print(f"{title}:")
        for size in SIZES:
            print(f"  {size:>6} hosts: median {medians[size] * 1000:7.2f} ms per request, "
                  f"{size / medians[size]:>12,.0f} hosts/s "
                  f"(best host {chosen[size].host if chosen[size] else None})")
        print(f"  growth {small:,} -> {large:,} hosts: x{medians[large] / medians[small]:.2f} "
              f"(x{large / small:.0f} would be linear)")
    if args.sweep:
        sweep(scheduler, spec, {size: make_hosts(size, rng, aggregates, members)
                                for size in SWEEP})


def sweep(scheduler, spec, states):
    """Time per host at each size, one size after the other and in turn."""
    one_after = {}
    for size, hosts in states.items():
        scheduler.filter_and_weigh(hosts, spec, 0)
        one_after[size] = statistics.median(
            timed(scheduler, hosts, spec)[0] for _ in range(max(10, 30000 // size)))
    in_turn = {size: [] for size in states}
    for _ in range(10):
        for size, hosts in states.items():
            in_turn[size].append(timed(scheduler, hosts, spec)[0])
    print("sweep (median per request, time per host):")
    print(f"  {'hosts':>6}  {'one after the other':>24}  {'in turn':>24}")
    for size in states:
        a, b = one_after[size], statistics.median(in_turn[size])
        print(f"  {size:>6}  {a * 1000:9.2f} ms {a / size * 1e9:7.0f} ns/host  "
              f"{b * 1000:9.2f} ms {b / size * 1e9:7.0f} ns/host")


if __name__ == "__main__":
    main()
