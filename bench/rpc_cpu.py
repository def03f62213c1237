"""CPU per RPC message over RabbitMQ: compute_core's oslo.messaging use alone.

An RPC server process and a client process (compute_core.rpc's transport,
server and client, with compute_core's configuration defaults) over a fresh
RabbitMQ virtual host, deleted at the end. The client sends --messages
casts, then --messages calls, from --threads threads at once; each message
carries an instance dict of about 60 keys (a build cast also carries a
request spec and an image, as the boot's does), and a call's reply is the
instance again (as the conductor's instance_update answers). Printed per
phase: CPU milliseconds per message of the client, the server and RabbitMQ
(beam.smp, from /proc: it counts every other client of a shared broker).

With --baseline DIR the processes of every other run import DIR's
compute_core instead (A B A B ... for --rounds), so a drift of the
machine's load hits both alike.

    python bench/rpc_cpu.py [--messages 2000] [--threads 10] [--rounds 2]
                            [--baseline DIR] [--profile DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TOPIC = "rpccpu"


# ------------------------------------------------------------- the payloads
def instance(i: int) -> dict:
    """An instance as the conductor sends it: ~60 keys, datetimes, a flavor
    and metadata."""
    now = datetime.datetime(2026, 12, 4, 22, 0, 0, 123456)
    inst = {
        "id": i, "uuid": str(uuid.UUID(int=i)), "user_id": "u" * 32, "project_id": "p" * 32,
        "image_ref": str(uuid.UUID(int=7)), "kernel_id": "", "ramdisk_id": "",
        "hostname": f"server-{i}", "display_name": f"server-{i}",
        "display_description": "a bench server", "host": "dhost1", "node": "dhost1",
        "launched_on": "dhost1", "instance_type_id": 1, "memory_mb": 256, "vcpus": 1,
        "root_gb": 1, "ephemeral_gb": 0, "swap": 0, "vm_state": "building",
        "task_state": "spawning", "power_state": 0, "created_at": now,
        "updated_at": now, "launched_at": None, "terminated_at": None,
        "deleted_at": None, "deleted": 0, "availability_zone": "nova",
        "key_name": None, "key_data": None, "user_data": None, "config_drive": "",
        "locked": False, "locked_by": None, "reservation_id": f"r-{i:08x}",
        "launch_index": 0, "progress": 0, "access_ip_v4": None,
        "access_ip_v6": None, "os_type": None, "architecture": None,
        "vm_mode": None, "root_device_name": "/dev/vda", "default_ephemeral_device": None,
        "default_swap_device": None, "auto_disk_config": False, "cell_name": None,
        "shutdown_terminate": False, "disable_terminate": False, "cleaned": 0,
        "ephemeral_key_uuid": None, "hidden": False, "compute_id": 1,
        "tags": [], "security_groups": [{"name": "default"}],
        "metadata": {"purpose": "bench"},
        "system_metadata": {"image_min_disk": "1", "image_min_ram": "0",
                            "image_disk_format": "raw", "image_container_format": "bare",
                            "owner_user_name": "admin", "owner_project_name": "admin"},
        "flavor": {"id": 1, "flavorid": "bench1", "name": "bench.tiny", "memory_mb": 256,
                   "vcpus": 1, "root_gb": 1, "ephemeral_gb": 0, "swap": 0,
                   "rxtx_factor": 1.0, "is_public": True, "extra_specs": {}},
        "info_cache": {"network_info": []},
        "fault": None, "pci_requests": [], "numa_topology": None,
    }
    return inst


def request_spec(i: int) -> dict:
    return {"instance_uuid": str(uuid.UUID(int=i)), "num_instances": 1,
            "project_id": "p" * 32, "user_id": "u" * 32, "availability_zone": None,
            "flavor": instance(i)["flavor"], "image": image(),
            "scheduler_hints": {}, "ignore_hosts": [], "force_hosts": [],
            "force_nodes": [], "requested_destination": None, "retry": None}


def image() -> dict:
    return {"id": str(uuid.UUID(int=7)), "name": "cirros", "status": "active",
            "disk_format": "raw", "container_format": "bare", "size": 1048576,
            "min_disk": 1, "min_ram": 0, "checksum": "0" * 32, "owner": "p" * 32,
            "visibility": "public", "protected": False, "properties": {},
            "created_at": "2026-12-04T00:00:00Z", "updated_at": "2026-12-04T00:00:00Z"}


# ----------------------------------------------------------- child processes
def _transport(url, options):
    from compute_core import conf as conf_mod
    from compute_core import rpc

    conf = conf_mod.load(overrides={"transport_url": url, **json.loads(options)})
    return rpc, rpc.get_transport(conf)


class Endpoint:
    """What the server answers: casts counted, calls echoed."""

    def __init__(self):
        import oslo_messaging

        self.target = oslo_messaging.Target(version="1.0")
        self.casts = 0
        self.cond = threading.Condition()

    def build_and_run_instance(self, ctxt, instance, request_spec, image, alternates):
        with self.cond:
            self.casts += 1
            self.cond.notify_all()

    def casts_seen(self, ctxt, count):
        """Returns once *count* casts were handled (the end of a phase)."""
        with self.cond:
            self.cond.wait_for(lambda: self.casts >= count, timeout=600)
            return self.casts

    def instance_update(self, ctxt, instance_uuid, updates, instance):
        return instance


def run_server(url, options):
    import signal

    rpc, transport = _transport(url, options)
    server = rpc.get_server(transport, TOPIC, "bench", [Endpoint()])
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    server.stop()
    server.wait()
    transport.cleanup()


def run_client(url, options, threads):
    """Phases on the parent's word (a line on stdin: "cast N" or "call N"),
    "done" on stdout after each."""
    rpc, transport = _transport(url, options)
    client = rpc.get_client(transport, TOPIC, "1.0", timeout=120)
    ctxt = {"user_id": "u" * 32, "project_id": "p" * 32, "request_id": "req-" + "0" * 36,
            "roles": ["admin"], "is_admin": True}
    casts = 0

    def cast(i):
        client.cast(ctxt, "build_and_run_instance", instance=instance(i),
                    request_spec=request_spec(i), image=image(), alternates=[])

    def call(i):
        inst = instance(i)
        out = client.call(ctxt, "instance_update", instance_uuid=inst["uuid"],
                          updates={"vm_state": "active", "task_state": None},
                          instance=inst)
        assert out["uuid"] == inst["uuid"]

    def spread(fn, count):
        errors = []

        def worker(k):
            try:
                for i in range(k, count, threads):
                    fn(i)
            except Exception as exc:  # reported, not hidden
                errors.append(exc)
        pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        if errors:
            raise errors[0]

    print("ready", flush=True)
    for line in sys.stdin:
        kind, count = line.split()
        count = int(count)
        if kind == "cast":
            spread(cast, count)
            casts += count
            client.call(ctxt, "casts_seen", count=casts)
        else:
            spread(call, count)
        print("done", flush=True)
    transport.cleanup()


# ------------------------------------------------------------------- parent
def _bench_helpers():
    sys.path[:0] = [HERE, os.path.dirname(HERE)]
    from boot_distributed import Profiler, cpu_seconds, daemon_pids, load_average
    from tests.integration.conftest import RabbitVirtualHost, unique_token

    return Profiler, cpu_seconds, daemon_pids, load_average, RabbitVirtualHost, unique_token


def run_pair(code, options, url, args, helpers, profile_name):
    """One server and one client running *code*'s compute_core; CPU ms per
    message by process and phase."""
    Profiler, cpu_seconds, daemon_pids, _, _, _ = helpers
    env = dict(os.environ, PYTHONPATH=f"{code}:{code}/plugins")
    me = [sys.executable, "-W", "ignore", os.path.abspath(__file__)]
    me += ["--url", url, "--options", json.dumps(options)]
    server = subprocess.Popen([*me, "--role", "server"], env=env,
                              stdout=subprocess.PIPE, text=True)
    client = None
    try:
        assert server.stdout.readline().strip() == "ready"
        client = subprocess.Popen([*me, "--role", "client", "--threads", str(args.threads)], env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert client.stdout.readline().strip() == "ready"

        def phase(kind, count):
            client.stdin.write(f"{kind} {count}\n")
            client.stdin.flush()
            assert client.stdout.readline().strip() == "done"

        # Warm up: queues and exchanges declared, pools filled, code loaded.
        phase("call", 50)
        phase("cast", 50)
        pids = {"client": client.pid, "server": server.pid,
                "rabbitmq": daemon_pids().get("rabbitmq", 0)}
        profiler = (Profiler(args.profile, profile_name, pids) if args.profile else None)
        out = {}
        for kind in ("cast", "call"):
            if profiler:
                profiler.mark(kind)
            before = {n: cpu_seconds(p) for n, p in pids.items()}
            start = time.monotonic()
            phase(kind, args.messages)
            wall = time.monotonic() - start
            out[kind] = {n: 1000 * (cpu_seconds(p) - before[n]) / args.messages
                         for n, p in pids.items()}
            out[kind]["per s"] = args.messages / wall
        if profiler:
            profiler.mark("end")
        return out
    finally:
        for proc in (client, server):
            if proc is None:
                continue
            if proc is client:
                proc.stdin.close()
            else:
                proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000, help="casts, then calls, per run")
    ap.add_argument("--threads", type=int, default=10, help="client threads sending at once")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline", metavar="DIR",
                    help="another checkout: every other run imports its compute_core")
    ap.add_argument("--profile", metavar="DIR",
                    help="py-spy the client and server of each run per phase into DIR")
    ap.add_argument("--set", metavar="GROUP.OPTION=VALUE", action="append", default=[],
                    help="a configuration override for this checkout's runs only (weigh "
                         "an option against the defaults with --baseline naming this "
                         "checkout too); repeatable")
    ap.add_argument("--role", choices=["server", "client"], help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "server":
        return run_server(args.url, args.options)
    if args.role == "client":
        return run_client(args.url, args.options, args.threads)

    helpers = _bench_helpers()
    load_average, RabbitVirtualHost, unique_token = helpers[3:]
    options = dict(item.split("=", 1) for item in args.set)
    codes = [("new", os.path.dirname(HERE), options)]
    if args.baseline:
        codes.append(("base", os.path.abspath(args.baseline), {}))
    vhost = RabbitVirtualHost(f"rpccpu_{unique_token()}")
    if not vhost.create():
        sys.exit("could not create a RabbitMQ virtual host (rabbitmqctl)")
    url = f"rabbit://guest:guest@127.0.0.1:5672/{vhost.name}"
    print(f"{args.messages} casts then {args.messages} calls per run, {args.threads} client "
          f"threads; {os.cpu_count()} cores; load average {load_average()}", flush=True)
    results = []
    try:
        for round_ in range(1, args.rounds + 1):
            for name, code, opts in codes:
                load = load_average()
                out = run_pair(code, opts, url, args, helpers, f"{name}{round_}")
                results.append((round_, name, out, load))
                print(f"round {round_} {name}: load before {load}; " + json.dumps(
                    {k: {n: round(v, 3) for n, v in d.items()} for k, d in out.items()}),
                    flush=True)
    finally:
        vhost.delete()
    print("\nCPU ms per message (client / server / RabbitMQ), messages per s")
    for round_, name, out, load in results:
        cells = "  ".join(
            f"{kind} {d['client']:.3f} / {d['server']:.3f} / {d['rabbitmq']:.3f}, "
            f"{d['per s']:.0f}/s" for kind, d in out.items())
        print(f"  round {round_} {name:5} {cells}  (load {load})")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
