"""compute-aio: the embedded all-in-one cloud, a thin command over Cloud.

    compute-aio [--state-dir DIR] [--config-file FILE] [--hosts N] [--driver NAME] [--port 0]
                [--ready-file F] [--quiet]

Serves the compute API on 127.0.0.1:8774, placement on :8778, the image
API on :9292, the identity endpoint on :5000 (``[aio]`` options) and the noVNC
and serial console proxies on :6080 and :6083 (``[aio] console_proxies``), runs the conductor,
scheduler and fake compute hosts in this process on SQLite files under the
state directory, until Ctrl-C or SIGTERM. It writes ``clouds.yaml`` (clouds
``compute-core``, project demo, and ``compute-core-admin``) and ``openrc`` /
``admin-openrc`` into the state directory; ``--ready-file`` gets its URLs
as JSON once it serves.
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import sys
import threading
import warnings

from compute_core import exception
from compute_core.cmd.common import package_version


def parse_args(argv):
    p = argparse.ArgumentParser(prog="compute-aio", description=__doc__.split("\n\n")[0])
    p.add_argument("--state-dir", default=os.path.expanduser("~/.local/share/compute-core"),
                   help="directory of the databases and images (default: %(default)s)")
    p.add_argument("--config-file", help="an oslo.config file with more settings")
    p.add_argument("--hosts", type=int, default=None, help="compute hosts to run")
    p.add_argument("--driver", default=None, metavar="NAME",
                   help="virt driver of the compute hosts ([DEFAULT] compute_driver: fake, "
                        "or libvirt for real QEMU/KVM guests, which also imports the image "
                        "tiny-busybox)")
    p.add_argument("--listen", default=None, help="address the APIs listen on")
    p.add_argument("--compute-port", type=int, default=None)
    p.add_argument("--placement-port", type=int, default=None)
    p.add_argument("--identity-port", type=int, default=None)
    p.add_argument("--image-port", type=int, default=None)
    p.add_argument("--port", type=int, choices=[0], default=None,
                   help="0: every API and console proxy on a free port the OS picks")
    p.add_argument("--auth", choices=["keystone", "noauth2"], default=None,
                   help="keystone: the embedded identity endpoint issues the tokens "
                        "(default, [aio] auth); noauth2: X-Auth-Token user:project")
    p.add_argument("--ready-file", metavar="FILE",
                   help="write the URLs and the clouds.yaml path here (JSON) once serving")
    p.add_argument("--control-api", action="store_true", default=None,
                   help="serve the test control API under /cloud-control on the compute "
                        "port (admin tokens only): fault rules, the call log, the clock "
                        "([aio] control_api)")
    p.add_argument("--clock", choices=["real", "virtual"], default=None,
                   help="virtual: time moves only when told (POST /cloud-control/clock); "
                        "[aio] clock")
    p.add_argument("--quiet", action="store_true",
                   help="no request log and no server state lines")
    p.add_argument("--debug", action="store_true", help="log at DEBUG level")
    p.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    return p.parse_args(argv)


CLOUD = "compute-core"
RUNNING_FILE = "compute-aio.json"
ADMIN_CLOUD = "compute-core-admin"


def write_client_files(cloud) -> dict:
    """clouds.yaml (demo and admin clouds) and, with the identity endpoint,
    openrc files for clients that read OS_* variables (novaclient), in the
    state directory, readable by the owner only. Returns their paths."""
    import yaml

    paths = {"clouds_yaml": os.path.join(cloud.state_dir, "clouds.yaml")}
    doc = {"clouds": {**cloud.clouds_yaml(CLOUD, project="demo")["clouds"],
                      **cloud.clouds_yaml(ADMIN_CLOUD, user="admin")["clouds"]}}
    files = {paths["clouds_yaml"]: yaml.safe_dump(doc, default_flow_style=False)}
    if cloud.auth == "keystone":
        for name, cloud_name in (("openrc", CLOUD), ("admin-openrc", ADMIN_CLOUD)):
            auth = doc["clouds"][cloud_name]["auth"]
            paths[name.replace("-", "_")] = path = os.path.join(cloud.state_dir, name)
            files[path] = "".join(f"export {k}={v}\n" for k, v in (
                ("OS_AUTH_URL", auth["auth_url"]), ("OS_USERNAME", auth["username"]),
                ("OS_PASSWORD", auth["password"]), ("OS_PROJECT_NAME", auth["project_name"]),
                ("OS_USER_DOMAIN_NAME", "Default"), ("OS_PROJECT_DOMAIN_NAME", "Default"),
                ("OS_REGION_NAME", "RegionOne"), ("OS_IDENTITY_API_VERSION", "3")))
    for path, text in files.items():
        _write_private(path, text)
    return paths


def _write_private(path, text) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


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
    for noisy in ("stevedore", "oslo_messaging", "oslo_service", "waitress", "urllib3", "alembic",
                  "keystonemiddleware", "keystoneauth"):
        logging.getLogger(noisy).setLevel(logging.ERROR if noisy == "keystonemiddleware"
                                          else logging.WARNING)
    if args.quiet:
        for name in ("compute_core.requests", "compute_core.servers"):
            logging.getLogger(name).setLevel(logging.WARNING)
    from compute_core.cloud import Cloud

    overrides = {}
    if args.driver:
        overrides["compute_driver"] = args.driver
        if args.driver == "libvirt":
            overrides["libvirt.import_tiny_guest_image"] = True
    if args.listen:
        overrides["aio.listen"] = args.listen
    ports = [args.compute_port, args.placement_port, args.identity_port, args.image_port]
    if args.port == 0:
        ports = [0 if p is None else p for p in ports]
    cloud = Cloud(state_dir=args.state_dir, hosts=args.hosts, config_file=args.config_file,
                  overrides=overrides, compute_port=ports[0], placement_port=ports[1],
                  identity_port=ports[2], image_port=ports[3], listen=None,
                  auth=args.auth, clock=args.clock, control_api=args.control_api,
                  console_port=0 if args.port == 0 else None)
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
    files = write_client_files(cloud)
    if cloud.auth == "keystone":
        print(f"compute API   {cloud.compute_url}")
        print(f"placement API {cloud.placement_url}")
        print(f"image API     {cloud.image_url}")
        print(f"identity API  {cloud.identity_url}/v3  (users admin/admin, demo/demo)")
    else:
        print(f"compute API   {cloud.compute_url}  (X-Auth-Token: admin:admin or user:project)")
        print(f"placement API {cloud.placement_url}")
        print(f"image API     {cloud.image_url}")
    if cloud.control_url:
        print(f"control API   {cloud.control_url}  (admin only; clock: "
              f"{'virtual' if cloud.clock.virtual else 'real'})")
    for name, url in cloud.console_urls.items():
        print(f"console proxy {url}  ({name})")
    print(f"state         {cloud.state_dir}")
    print(f"hosts         {', '.join(cloud.host_names) or 'none'} "
          f"(virt driver {cloud.conf.compute_driver})")
    tiny = [i for i in cloud.images.list() if i["name"] == "tiny-busybox"]
    if tiny:
        print(f"image         tiny-busybox {tiny[0]['id']} (a real guest in seconds)")
    print("OpenStack clients (project demo; OS_CLOUD=" + ADMIN_CLOUD + " for the admin):")
    print(f"  export OS_CLIENT_CONFIG_FILE={files['clouds_yaml']} OS_CLOUD={CLOUD}")
    if "openrc" in files:
        print(f"  or: . {files['openrc']}   (novaclient; admin: . {files['admin_openrc']})")
    ready = {"compute_url": cloud.compute_url, "placement_url": cloud.placement_url,
             "image_url": cloud.image_url,
             "identity_url": cloud.identity_url,
             "auth_url": cloud.identity_url and cloud.identity_url + "/v3",
             "auth": cloud.auth, "state_dir": cloud.state_dir, "cloud": CLOUD,
             "admin_cloud": ADMIN_CLOUD, "pid": os.getpid(), "control_url": cloud.control_url,
             "console_urls": cloud.console_urls, **files}
    # Where compute-manage and compute-status --state-dir find the running
    # cloud's placement API.
    running = os.path.join(cloud.state_dir, RUNNING_FILE)
    _write_private(running, json.dumps(ready, indent=2) + "\n")
    if args.ready_file:
        _write_private(args.ready_file, json.dumps(ready, indent=2) + "\n")
    print("Ctrl-C stops it.", flush=True)
    # Wait in short steps: the kernel may hand SIGINT to any of the cloud's
    # threads, and then nothing interrupts a wait without a timeout in this
    # one, which alone runs Python's signal handlers (1 Ctrl-C in 3 was lost).
    while not stop.wait(0.5):
        pass
    print("stopping...", flush=True)
    cloud.stop()
    for path in (running, args.ready_file):
        if path and os.path.exists(path):
            os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
