"""compute-aio: the embedded all-in-one cloud, a thin command over Cloud.

    compute-aio [--state-dir DIR] [--config-file FILE] [--hosts N]

Serves the compute API on 127.0.0.1:8774 and placement on :8778 (``[aio]``
options), runs the conductor, scheduler and fake compute hosts in this
process on SQLite files under the state directory, until Ctrl-C.
"""
from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
import warnings

from compute_core import exception


def parse_args(argv):
    p = argparse.ArgumentParser(prog="compute-aio", description=__doc__.split("\n\n")[0])
    p.add_argument("--state-dir", default=os.path.expanduser("~/.local/share/compute-core"),
                   help="directory of the databases and images (default: %(default)s)")
    p.add_argument("--config-file", help="an oslo.config file with more settings")
    p.add_argument("--hosts", type=int, default=None, help="fake compute hosts to run")
    p.add_argument("--listen", default=None, help="address the APIs listen on")
    p.add_argument("--compute-port", type=int, default=None)
    p.add_argument("--placement-port", type=int, default=None)
    p.add_argument("--debug", action="store_true", help="log at DEBUG level")
    return p.parse_args(argv)


def settle_after_start() -> None:
    """What start-up built (modules, configuration, engines, compiled
    statements, apps) lives as long as the process: keep it out of the
    collector's full passes (about 90 ms each with a started cloud, several
    a minute under load, every thread stopped meanwhile), as the separate
    services do. Done by the command, which owns the process, not by Cloud,
    which may be one library object among others."""
    gc.collect()
    gc.freeze()


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Libraries under oslo.messaging import eventlet (unused here: threads are
    # our concurrency model), which warns about its own deprecation.
    warnings.filterwarnings("ignore", message="\nEventlet is deprecated")
    warnings.filterwarnings("ignore", message="Eventlet is deprecated")
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("stevedore", "oslo_messaging", "oslo_service", "waitress", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from compute_core.cloud import Cloud

    overrides = {}
    if args.listen:
        overrides["aio.listen"] = args.listen
    cloud = Cloud(state_dir=args.state_dir, hosts=args.hosts, config_file=args.config_file,
                  overrides=overrides, compute_port=args.compute_port,
                  placement_port=args.placement_port, listen=None)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        cloud.start()
    except exception.ComputeCoreError as exc:
        print(f"compute-aio: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"compute-aio: cannot listen: {exc}", file=sys.stderr)
        cloud.stop()
        return 1
    settle_after_start()
    print(f"compute API   {cloud.compute_url}  (X-Auth-Token: admin:admin or user:project)")
    print(f"placement API {cloud.placement_url}")
    print(f"state         {cloud.state_dir}")
    print(f"hosts         {', '.join(cloud.host_names) or 'none'}")
    print("Ctrl-C stops it.", flush=True)
    # Wait in short steps: the kernel may hand SIGINT to any of the cloud's
    # threads, and then nothing interrupts a wait without a timeout in this
    # one, which alone runs Python's signal handlers (1 Ctrl-C in 3 was lost).
    while not stop.wait(0.5):
        pass
    print("stopping...", flush=True)
    cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
