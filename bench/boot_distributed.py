"""Boot and delete throughput of the distributed mode beside the embedded one.

The distributed cloud is compute-api, compute-placement-api,
compute-conductor, compute-scheduler and two compute-compute (fake hosts),
each its own process, over RabbitMQ (a virtual host of its own) and MariaDB
(databases of their own), all removed at the end; the embedded cloud is one
child process as in bench/boot.py, with the same two hosts. Both get the
same workload (bench/boot.py's boot_and_delete): --servers creates with
--concurrency in flight, each followed to ACTIVE by one poller of
GET /servers/detail?changes-since, then every server deleted the same way.

The modes alternate in one run (embedded, distributed, distributed with a
second conductor and scheduler process, then again for --rounds), so a
drift of the shared machine's load hits them alike: compare within a round.
Per run: servers/s for boot and delete, servers in ERROR, and the CPU
seconds each process spent (from /proc/PID/stat) in the boot and the delete
phase, MariaDB and RabbitMQ included (theirs counts every client of the
shared daemons). At the end, the database connections each service opened
(from its log).

    python bench/boot_distributed.py [--servers 200] [--concurrency 20] [--rounds 2]
                                     [--modes embedded,distributed,distributed2]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import boot  # noqa: E402  (bench/boot.py)
from tests.integration import test_distributed as dist  # noqa: E402
from tests.integration.conftest import ServiceProcesses, free_port  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
HOST_RESOURCES = {"vcpus": 1000, "memory_mb": 1000 * 1024, "disk_gb": 100000}
FLAVOR = {"name": "bench.tiny", "id": "bench1", "ram": 256, "vcpus": 1, "disk": 1}
DAEMONS = {"mariadbd": "mariadb", "mysqld": "mariadb", "beam.smp": "rabbitmq"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def daemon_pids() -> dict[str, int]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    name = DAEMONS.get(f.read().strip())
            except OSError:
                continue
            if name:
                found.setdefault(name, int(entry))
    return found


class CPUMeter:
    """CPU seconds of named processes per workload phase."""

    def __init__(self, pids: dict[str, int]):
        self.pids = {**pids, **daemon_pids(), "bench client": os.getpid()}
        self.marks: list[tuple[str, dict[str, float]]] = []

    def mark(self, phase: str) -> None:
        self.marks.append((phase, {n: cpu_seconds(p) for n, p in self.pids.items()}))

    def per_phase(self) -> dict[str, dict[str, float]]:
        out = {}
        for (phase, before), (_, after) in zip(self.marks, self.marks[1:]):
            out[phase] = {n: after[n] - before[n] for n in before}
        return out


STATEMENTS = ("Questions", "Com_select", "Com_insert", "Com_update", "Com_delete", "Com_commit",
              "Com_rollback", "Com_begin")


def mariadb_statements() -> dict[str, int] | None:
    """MariaDB's global statement counters (every client's: the figures of
    a quiet machine are the benchmark's), or None when it cannot be asked."""
    try:
        import pymysql
        conn = pymysql.connect(host="127.0.0.1", user="root", connect_timeout=5)
    except Exception:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS")
            status = dict(cur.fetchall())
    finally:
        conn.close()
    return {name: int(status.get(name, 0)) for name in STATEMENTS}


class StatementMeter:
    """The statements MariaDB ran per workload phase (the meter's own
    SHOW GLOBAL STATUS counts one question per mark)."""

    def __init__(self):
        self.marks: list[tuple[str, dict[str, int] | None]] = []

    def mark(self, phase: str) -> None:
        self.marks.append((phase, mariadb_statements()))

    def per_phase(self) -> dict[str, dict[str, int]]:
        out = {}
        for (phase, before), (_, after) in zip(self.marks, self.marks[1:]):
            if before is not None and after is not None:
                out[phase] = {n: after[n] - before[n] for n in before}
        return out


class Profiler:
    """py-spy on every service process of a distributed run, one recording
    per process and phase (folded stacks, DIR/MODE-PHASE-PROCESS.txt)."""

    def __init__(self, directory: str, mode: str, pids: dict[str, int]):
        self.directory, self.mode = directory, mode
        self.pids = {n: p for n, p in pids.items() if n != "bench client"}
        self.running: list[subprocess.Popen] = []
        os.makedirs(directory, exist_ok=True)

    def mark(self, phase: str) -> None:
        self.stop()
        if phase == "end":
            return
        for name, pid in self.pids.items():
            out = os.path.join(self.directory,
                               f"{self.mode}-{phase}-{name.replace(' ', '_')}.txt")
            self.running.append(subprocess.Popen(
                ["py-spy", "record", "--nonblocking", "--gil", "--rate", "100", "--format", "raw",
                 "--pid", str(pid), "--output", out],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # py-spy takes a while to attach (it prints nothing when it starts
        # sampling unless on a terminal): give it time before the phase.
        time.sleep(5)

    def stop(self) -> None:
        for proc in self.running:
            proc.send_signal(signal.SIGINT)
        for proc in self.running:
            proc.wait(timeout=60)
        self.running = []


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ------------------------------------------------------------------ embedded
class Embedded:
    def __init__(self, hosts: int):
        self.child = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", boot.CHILD, str(hosts), "{}",
             json.dumps(HOST_RESOURCES)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = json.loads(self.child.stdout.readline())["compute"]
        self.pids = {"aio (one process)": self.child.pid}
        create_flavor(self.url)

    def close(self):
        self.child.stdin.close()
        self.child.wait(timeout=60)


# --------------------------------------------------------------- distributed
class Distributed:
    """The services as processes on fresh backends; *extra*: how many more
    conductor and scheduler processes."""

    def __init__(self, workdir: str, backends: dict, extra: int = 0):
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        placement_port, compute_port = free_port(), free_port()
        config = dist.write_config(pathlib.Path(workdir), backends, placement_port, extra=f"""
            [fake_driver]
            vcpus = {HOST_RESOURCES["vcpus"]}
            memory_mb = {HOST_RESOURCES["memory_mb"]}
            disk_gb = {HOST_RESOURCES["disk_gb"]}

            [quota]
            instances = -1
            cores = -1
            ram = -1
            """)
        # The bench's own heartbeats: write_config's 2 s suits a test's
        # quick checks of service state, not a measurement.
        overrides = os.path.join(workdir, "bench.conf")
        with open(overrides, "w") as f:
            f.write("[DEFAULT]\nreport_interval = 10\nupdate_resources_interval = 60\n")
        if not os.path.exists(os.path.join(workdir, "bootstrapped")):
            dist.bootstrap(config, pathlib.Path(workdir) / "disk.raw")
            open(os.path.join(workdir, "bootstrapped"), "w").close()
        more = []
        for i in range(2, 2 + extra):
            path = os.path.join(workdir, f"controller{i}.conf")
            with open(path, "w") as f:
                f.write(f"[DEFAULT]\nhost = controller{i}\n")
            more.append(path)
        self.logs = tempfile.mkdtemp(prefix="logs-", dir=workdir)
        self.procs = ServiceProcesses(self.logs)
        try:
            dist.start_services(self.procs, config, placement_port, compute_port,
                                conductors=more, schedulers=more, overrides=[overrides])
            dist.run_command("compute-manage", "--config-file", config, "cell_v2",
                             "discover_hosts")
            self.url = f"http://127.0.0.1:{compute_port}/v2.1"
            create_flavor(self.url)
        except BaseException:
            self.close()
            raise
        self.pids = {p.label: p.pid for p in self.procs.procs}

    def close(self):
        self.procs.stop_all([["compute-api", *(f"compute-{h}" for h in dist.HOSTS)],
                             [p.label for p in self.procs.procs
                              if p.label.startswith(("scheduler", "conductor"))],
                             ["placement-api"]])

    def connections(self) -> dict[str, int]:
        """Database connections each process opened, from the counts its
        databases log when disposed."""
        out = {}
        pattern = re.compile(r"database \S+/(\w+)\S*: (\d+) connections opened")
        for proc in self.procs.procs:
            for name, count in pattern.findall(proc.output()):
                out[f"{proc.label} {name.split('_')[-1]}"] = int(count)
        return out


def create_flavor(url):
    resp = requests.post(url + "/flavors", json={"flavor": FLAVOR},
                         headers={"X-Auth-Token": "admin:admin"}, timeout=30)
    if resp.status_code not in (200, 409):
        raise RuntimeError(f"creating the bench flavor: {resp.status_code} {resp.text}")


# ----------------------------------------------------------------------- run
def measure(cloud, args) -> dict:
    meter, statements = CPUMeter(cloud.pids), StatementMeter()

    def hook(phase):
        meter.mark(phase)
        statements.mark(phase)
    if args.profile and isinstance(cloud, Distributed):
        profiler = Profiler(args.profile, cloud.name, cloud.pids)

        def hook(phase):  # noqa: F811  (the meters', then py-spy's)
            meter.mark(phase)
            statements.mark(phase)
            profiler.mark(phase)
    load = load_average()
    result = boot.boot_and_delete(cloud.url, args.servers, args.concurrency,
                                  args.poll_interval, flavor=FLAVOR["id"],
                                  phase_hook=hook)
    result.update(mode=cloud.name, cpu=meter.per_phase(), load=load, servers=args.servers,
                  statements=statements.per_phase())
    return result


def report(result):
    print(f"\n{result['mode']}: boot {result['boot_rate']:.1f} servers/s "
          f"(p50 {result['boot_p50'] * 1000:.0f} ms, p95 {result['boot_p95'] * 1000:.0f} ms), "
          f"delete {result['delete_rate']:.1f} servers/s, {result['errors']} in ERROR; "
          f"load average before: {result['load']}", flush=True)
    cpu = result["cpu"]
    print(f"  {'CPU seconds':24} {'boot':>7} {'delete':>7}")
    for name in cpu["boot"]:
        print(f"  {name:24} {cpu['boot'][name]:7.2f} {cpu['delete'][name]:7.2f}")
    n = result["servers"]
    print(f"  {'all, ms per server':24} {1000 * sum(cpu['boot'].values()) / n:7.1f} "
          f"{1000 * sum(cpu['delete'].values()) / n:7.1f}")
    stmts = result.get("statements") or {}
    if "boot" in stmts and "delete" in stmts:
        print(f"  {'MariaDB per server':24} {'boot':>7} {'delete':>7}")
        for name in STATEMENTS:
            print(f"  {name:24} {stmts['boot'][name] / n:7.1f} {stmts['delete'][name] / n:7.1f}")


def per_server(results, name, servers):
    """*name*'s CPU ms per server booted and deleted: each run, then the
    mean of each mode's runs (runs without such a process are skipped)."""
    print(f"\n{name}: CPU ms per server (boot, delete), load average before each run")
    by_mode: dict[str, list[tuple[float, float]]] = {}
    for r in results:
        cpu = r["cpu"]
        if name not in cpu["boot"]:
            continue
        ms = (1000 * cpu["boot"][name] / servers, 1000 * cpu["delete"][name] / servers)
        by_mode.setdefault(r["mode"], []).append(ms)
        print(f"  round {r['round']} {r['mode']:28} boot {ms[0]:6.2f}  delete {ms[1]:6.2f}"
              f"  (load {r['load']})")
    for mode, runs in by_mode.items():
        print(f"  mean {mode:29} boot {sum(b for b, _ in runs) / len(runs):6.2f}  "
              f"delete {sum(d for _, d in runs) / len(runs):6.2f}  ({len(runs)} runs)")


@contextlib.contextmanager
def code_of(mode: str, baseline: str | None):
    """Processes started inside run the baseline's code for a "-base" mode
    (through PYTHONPATH, which the services inherit)."""
    if "-base" not in mode:
        yield
        return
    if not baseline:
        sys.exit(f"mode {mode} needs --baseline DIR")
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = f"{baseline}:{baseline}/plugins"
    try:
        yield
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--poll-interval", type=float, default=0.1)
    ap.add_argument("--modes", default="embedded,distributed,distributed2",
                    help="comma-separated: embedded, distributed, distributed2 (with a "
                         "second conductor and scheduler process), embedded-base, "
                         "distributed-base (with --baseline); a distributed mode with "
                         "-mysqldb (distributed-mysqldb, distributed-base-mysqldb) speaks "
                         "to MariaDB through mysqlclient (C) instead of PyMySQL, on "
                         "databases of its own")
    ap.add_argument("--baseline", metavar="DIR",
                    help="a checkout of other code (say main before a change): its own "
                         "embedded-base and distributed-base modes run its compute_core")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--only", metavar="PROCESS",
                    help="also summarise one process's CPU milliseconds per server booted "
                         "and deleted, per run and per mode (say compute-api)")
    ap.add_argument("--profile", metavar="DIR",
                    help="record each distributed process with py-spy per phase into DIR "
                         "(folded stacks; py-spy must be installed)")
    args = ap.parse_args()
    reason = dist.backends_unreachable_reason()
    modes = args.modes.split(",")
    if reason and any(m.startswith("distributed") for m in modes):
        sys.exit(f"the distributed mode needs MariaDB and RabbitMQ: {reason}")
    print(f"{args.servers} servers, {args.concurrency} in flight, 2 fake hosts of "
          f"{HOST_RESOURCES['vcpus']} vCPU; {os.cpu_count()} cores; load average "
          f"{load_average()}", flush=True)
    results = []
    workdir = tempfile.mkdtemp(prefix="bench-dist-")
    with contextlib.ExitStack() as stack:
        # One set of databases and one state directory per MySQL driver and
        # code (the baseline's schema may be older than this code's),
        # made when a mode first needs it.
        clouds: dict[tuple[str, bool], tuple[str, dict]] = {}

        def databases(driver: str, base: bool) -> tuple[str, dict]:
            if (driver, base) not in clouds:
                found = stack.enter_context(dist.distributed_backends("cc_bench", driver))
                name = f"cloud-{driver}" + ("-base" if base else "")
                clouds[driver, base] = (os.path.join(workdir, name), found)
            return clouds[driver, base]
        for round_ in range(args.rounds):
            for mode in modes:
                with code_of(mode, args.baseline):
                    if mode.startswith("embedded"):
                        cloud = Embedded(hosts=len(dist.HOSTS))
                    else:
                        driver = "mysqldb" if "-mysqldb" in mode else "pymysql"
                        state, found = databases(driver, "-base" in mode)
                        cloud = Distributed(state, found,
                                            extra=1 if mode.startswith("distributed2") else 0)
                cloud.name = mode
                try:
                    result = measure(cloud, args)
                finally:
                    cloud.close()
                result["round"] = round_ + 1
                if isinstance(cloud, Distributed):
                    result["connections"] = cloud.connections()
                results.append(result)
                report(result)
    print("\nsummary (servers/s; ratio to the embedded run of the same round)")
    for r in results:
        base = next((e for e in results if e["round"] == r["round"]
                     and e["mode"] == "embedded"), r)
        print(f"  round {r['round']} {r['mode']:28} boot {r['boot_rate']:6.1f} "
              f"({r['boot_rate'] / base['boot_rate']:.2f})  delete {r['delete_rate']:6.1f} "
              f"({r['delete_rate'] / base['delete_rate']:.2f})  errors {r['errors']}")
    if args.only:
        per_server(results, args.only, args.servers)
    last = next((r for r in reversed(results) if "connections" in r), None)
    if last:
        print(f"\ndatabase connections opened in the last distributed run "
              f"({1 + args.servers} servers booted and deleted):")
        for name, count in sorted(last["connections"].items()):
            print(f"  {name:30} {count}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
