"""Real guests on the libvirt driver: time from POST /servers to ACTIVE and
to the guest's boot marker on its serial console.

An embedded cloud (one compute host on ``qemu:///system``, the libvirt
driver) imports the tiny-busybox guest (this machine's kernel plus a
busybox-static initramfs, booted directly), then for each --concurrency N
posts N servers at once and times, per server, POST -> ACTIVE (the API
reports it: the domain runs) and POST -> COMPUTE-CORE-TINY-GUEST-UP on its
console log (the guest's userland is up). The servers are deleted between
rounds. Prints the virt type used (kvm, or qemu: TCG emulation) and the
median and max per round. No figure is asserted.

    python bench/libvirt_boot.py [--concurrency 1,5] [--rounds 2] [--ram 192]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plugins"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from compute_core.cloud import Cloud  # noqa: E402
from compute_core_plugins.virt.libvirt import tiny_guest  # noqa: E402


def boot_one(cloud, headers, image_id, flavor_id, name, results):
    t0 = time.monotonic()
    resp = requests.post(f"{cloud.compute_url}/servers", headers=headers, timeout=60, json={
        "server": {"name": name, "imageRef": image_id, "flavorRef": flavor_id,
                   "networks": "none"}})
    resp.raise_for_status()
    sid = resp.json()["server"]["id"]
    active = marker = None
    while time.monotonic() - t0 < 180:
        server = requests.get(f"{cloud.compute_url}/servers/{sid}", headers=headers,
                              timeout=60).json()["server"]
        if server["status"] == "ERROR":
            raise RuntimeError(f"{name}: {server.get('fault')}")
        if active is None and server["status"] == "ACTIVE":
            active = time.monotonic() - t0
        if active is not None:
            driver = cloud.driver(server["OS-EXT-SRV-ATTR:host"])
            if tiny_guest.MARKER in driver.get_console_output(None, {"uuid": sid}):
                marker = time.monotonic() - t0
                break
        time.sleep(0.05)
    results.append((sid, active, marker))


def delete_all(cloud, headers, sids):
    for sid in sids:
        requests.delete(f"{cloud.compute_url}/servers/{sid}", headers=headers, timeout=60)
    for sid in sids:
        while requests.get(f"{cloud.compute_url}/servers/{sid}", headers=headers,
                           timeout=60).status_code != 404:
            time.sleep(0.1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--concurrency", default="1,5")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--ram", type=int, default=192, help="MiB per guest")
    p.add_argument("--uri", default="qemu:///system")
    args = p.parse_args(argv)
    why = tiny_guest.missing()
    if why:
        print(f"cannot build the tiny guest: {why}")
        return 1
    state = tempfile.mkdtemp(prefix="compute-core-bench-libvirt-")
    os.chmod(state, 0o755)  # QEMU's user reaches the disks below
    cloud = Cloud(state_dir=state, hosts=1, overrides={
        "compute_driver": "libvirt", "libvirt.connection_uri": args.uri,
        "libvirt.import_tiny_guest_image": True})
    cloud.start()
    try:
        headers = {"X-Auth-Token": cloud.admin_token, "X-OpenStack-Nova-API-Version": "latest"}
        driver = cloud.driver("host1")
        image = tiny_guest.ensure_image(cloud.images)
        flavor = requests.post(f"{cloud.compute_url}/flavors", headers=headers, timeout=60,
                               json={"flavor": {"name": "bench", "ram": args.ram, "vcpus": 1,
                                                "disk": 1}}).json()["flavor"]
        print(f"virt type {driver.virt_type} on {args.uri} ({os.cpu_count()} CPUs), "
              f"guests of {args.ram} MiB, {args.rounds} rounds per concurrency, load average "
              f"{os.getloadavg()[0]:.1f} at start")
        print(f"{'concurrent':>10} {'->ACTIVE median':>16} {'max':>6} "
              f"{'->marker median':>16} {'max':>6}")
        for n in [int(x) for x in args.concurrency.split(",")]:
            actives, markers = [], []
            for r in range(args.rounds):
                results = []
                threads = [threading.Thread(target=boot_one, args=(
                    cloud, headers, image["id"], flavor["id"], f"b{n}-{r}-{i}", results))
                    for i in range(n)]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                delete_all(cloud, headers, [sid for sid, _, _ in results])
                actives += [a for _, a, _ in results if a is not None]
                markers += [m for _, _, m in results if m is not None]
            missing = n * args.rounds - len(markers)
            if not markers:
                print(f"{n:>10} no guest showed the marker")
                continue
            print(f"{n:>10} {statistics.median(actives):>15.2f}s {max(actives):>5.2f}s "
                  f"{statistics.median(markers):>15.2f}s {max(markers):>5.2f}s"
                  + (f"  ({missing} never showed the marker)" if missing else "")
                  + f"  (load average {os.getloadavg()[0]:.1f})")
    finally:
        for uuid in cloud.driver("host1").list_instances():
            cloud.driver("host1").destroy(None, {"uuid": uuid}, {})
        cloud.stop()
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
