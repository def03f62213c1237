"""CPU the scheduler's code spends per select_destinations in the
distributed mode.

Starts the distributed cloud as bench/boot_distributed.py does (every
service a process, MariaDB through mysqlclient, RabbitMQ, two fake hosts of
1,000 vCPU, databases and a virtual host of its own, removed at the end),
then runs workers, each a process of its own: a SchedulerManager built as
the compute-scheduler service builds it (cell and API databases, placement
client over HTTP to the running compute-placement-api) answers
--selections requests for one bench.tiny server (allocation candidates,
host states refreshed from the databases, filters, weighers, the claim in
placement), each followed by the DELETE of its allocations. A worker prints
the CPU (``time.process_time``) of its select_destinations calls only,
after --warmup unmeasured ones. Not counted: the oslo.messaging handling of
the RPC call (the same for both codes).

With --baseline DIR the workers alternate between this tree's code and
DIR's (A B A B ...; --rounds of each), against the same running cloud, so
a drift of the shared machine's load hits both alike. SCHEDCPU_PROFILE=FILE
in the environment: each worker writes its cProfile stats there (the last
one's stay).

--cloud DIR runs the services (placement among them) on DIR's code.

    python bench/scheduler_rpc_cpu.py [--selections 300] [--rounds 3] [--baseline DIR]
                                      [--cloud DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TREE = os.path.dirname(HERE)

SPEC = {"project_id": "bench-project", "user_id": "bench-user", "num_instances": 1,
        "flavor": {"name": "bench.tiny", "flavorid": "bench1", "vcpus": 1, "memory_mb": 256,
                   "root_gb": 1, "ephemeral_gb": 0, "swap": 0, "extra_specs": {}},
        "image": {"id": str(uuid.uuid4()), "properties": {}}}


def worker(args) -> None:
    """One run of --selections measured selections (this process's code)."""
    from compute_core import assembly
    from compute_core import conf as conf_mod
    from compute_core.placement_client.client import PlacementClient
    from compute_core.scheduler.manager import SchedulerManager

    conf = conf_mod.load(args=["--config-file", args.worker])
    api = assembly.api_database(conf)
    local = assembly.cell_database(conf)
    cells = assembly.cell_databases(conf, api, local)
    placement = PlacementClient(conf)
    manager = SchedulerManager(conf, cells, placement)
    hosts = {}
    cpu = []
    profile = None
    if os.environ.get("SCHEDCPU_PROFILE"):
        import cProfile
        profile = cProfile.Profile(time.process_time)
    try:
        for i in range(args.warmup + args.selections):
            server = str(uuid.uuid4())
            spec = dict(SPEC, instance_uuid=server, instance_uuids=[server])
            if profile is not None and i == args.warmup:
                profile.enable()
            started = time.process_time()
            result = manager.select_destinations(None, spec, [server])
            took = time.process_time() - started
            if isinstance(result, dict):
                raise SystemExit(f"selection {i}: {result}")
            placement.delete_allocations(server)
            if i >= args.warmup:
                cpu.append(took)
                host = result[0][0]["service_host"]
                hosts[host] = hosts.get(host, 0) + 1
    finally:
        if profile is not None:
            profile.disable()
            profile.dump_stats(os.environ["SCHEDCPU_PROFILE"])
        placement.close()
        cells.close()
        local.dispose()
        api.dispose()
    print(json.dumps({"cpu": cpu, "hosts": hosts}))


def run_worker(code: str, config: str, args) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{code}:{code}/plugins")
    out = subprocess.run(
        [sys.executable, "-W", "ignore", os.path.abspath(__file__), "--worker", config,
         "--selections", str(args.selections), "--warmup", str(args.warmup)],
        env=env, cwd=code, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"worker on {code} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--selections", type=int, default=300, help="measured per worker run")
    ap.add_argument("--warmup", type=int, default=30, help="unmeasured first selections")
    ap.add_argument("--rounds", type=int, default=3, help="worker runs per code")
    ap.add_argument("--baseline", metavar="DIR", help="another checkout, run alternately")
    ap.add_argument("--cloud", metavar="DIR",
                    help="the checkout whose code the cloud's services run (default: this "
                         "one); the workers' code is chosen as above")
    ap.add_argument("--worker", metavar="CONFIG", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    sys.path[:0] = [HERE, TREE]
    import boot_distributed as bd  # bench/boot_distributed.py
    from tests.integration import test_distributed as dist

    reason = dist.backends_unreachable_reason()
    if reason:
        sys.exit(f"needs MariaDB and RabbitMQ: {reason}")
    codes = {"this": TREE}
    if args.baseline:
        codes["baseline"] = os.path.abspath(args.baseline)
    print(f"cloud's code: {args.cloud or TREE}")
    print(f"{args.selections} selections per run, {args.rounds} runs per code; "
          f"{os.cpu_count()} cores; load average {bd.load_average()}", flush=True)
    samples = {name: [] for name in codes}
    workdir = tempfile.mkdtemp(prefix="bench-schedcpu-")
    try:
        with contextlib.ExitStack() as stack:
            backends = stack.enter_context(dist.distributed_backends("cc_schedcpu", "mysqldb"))
            # (through PYTHONPATH, as the services would otherwise run the
            # installed compute_core)
            with bd.code_of("distributed-base", args.cloud or TREE):
                cloud = bd.Distributed(os.path.join(workdir, "cloud"), backends)
            stack.callback(cloud.close)
            config = os.path.join(workdir, "cloud", "compute.conf")
            for round_ in range(args.rounds):
                for name, code in codes.items():
                    result = run_worker(code, config, args)
                    samples[name].extend(result["cpu"])
                    print(f"  round {round_ + 1} {name:8} median "
                          f"{statistics.median(result['cpu']) * 1000:6.2f} ms, mean "
                          f"{statistics.fmean(result['cpu']) * 1000:6.2f} ms CPU per "
                          f"selection; hosts {result['hosts']}; load average "
                          f"{bd.load_average()}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("all runs:")
    for name, cpu in samples.items():
        print(f"  {name:8} median {statistics.median(cpu) * 1000:6.2f} ms, mean "
              f"{statistics.fmean(cpu) * 1000:6.2f} ms CPU per selection ({len(cpu)})")


if __name__ == "__main__":
    main()
