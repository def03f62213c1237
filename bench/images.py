"""Image data through the embedded image service against a plain file copy.

An embedded cloud (noauth2, one fake host) runs in this process with its
state directory under --dir, so the store, the client's files and the copy
share one disk. For an image of --size MiB (a random 1 MiB block repeated):

* copy: ``shutil.copyfile`` of the source file (the floor);
* upload: ``PUT /v2/images/{id}/file`` streamed from the file by requests
  (the server buffers the body, then the app writes it to the store while
  computing md5 and sha512);
* download: ``GET /v2/images/{id}/file`` streamed to a file;
* cold fetch: the glance backend's ``path()`` for an image not yet cached on
  the host (download into ``[glance] cache_path`` checked against the
  checksum), what a boot on a host without the image adds for a driver that
  needs the file; and the same call once cached.

Prints seconds and MiB/s of each, and each one's ratio to the copy. Each is
the best of --runs runs (the page cache is left warm: the figures compare
the service's overhead, not the disk).

    python bench/images.py [--size 1024] [--runs 3] [--dir /var/tmp]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

MIB = 1 << 20


def _source(path: str, size_mib: int) -> None:
    block = os.urandom(MIB)
    with open(path, "wb") as f:
        for _ in range(size_mib):
            f.write(block)


def _best(fn, runs):
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=1024, help="image size in MiB")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--dir", default=tempfile.gettempdir(),
                   help="where the cloud's state and the files go (one disk)")
    args = p.parse_args(argv)

    from compute_core.cloud import Cloud

    work = tempfile.mkdtemp(prefix="bench-images-", dir=args.dir)
    source = os.path.join(work, "source.raw")
    _source(source, args.size)
    size = args.size * MIB
    cap = max(size + MIB, 1 << 30)
    results = {}
    try:
        with Cloud(state_dir=os.path.join(work, "state"), overrides={
                "image_backend": "glance", "image.image_size_cap": cap,
                "oslo_middleware.max_request_body_size": 1 << 20}) as cloud:
            url = cloud.image_url
            headers = {"X-Auth-Token": "admin:admin"}
            http = requests.Session()

            results["copy"] = _best(lambda: shutil.copyfile(source, os.path.join(work, "copy")),
                                    args.runs)
            os.unlink(os.path.join(work, "copy"))

            made = []

            def upload():
                image = http.post(f"{url}/v2/images", headers=headers, timeout=60, json={
                    "name": "bench", "disk_format": "raw", "container_format": "bare"}).json()
                with open(source, "rb") as f:
                    resp = http.put(f"{url}/v2/images/{image['id']}/file", data=f,
                                    timeout=3600, headers={
                                        **headers, "Content-Type": "application/octet-stream",
                                        "Content-Length": str(size)})
                assert resp.status_code == 204, resp.text
                made.append(image["id"])

            results["upload"] = _best(upload, args.runs)
            image_id = made[-1]
            for old in made[:-1]:
                http.delete(f"{url}/v2/images/{old}", headers=headers, timeout=60)
            target = os.path.join(work, "downloaded")

            def download():
                with http.get(f"{url}/v2/images/{image_id}/file", headers=headers,
                              stream=True, timeout=3600) as resp, open(target, "wb") as out:
                    for chunk in resp.iter_content(MIB):
                        out.write(chunk)

            results["download"] = _best(download, args.runs)
            assert os.path.getsize(target) == size
            os.unlink(target)

            backend = cloud._api.images  # the glance backend, on this image API
            cache_file = os.path.join(cloud.conf.glance.cache_path, image_id)

            def cold():
                if os.path.exists(cache_file):
                    os.unlink(cache_file)
                backend.path(image_id)

            results["cold fetch"] = _best(cold, args.runs)
            results["cached path"] = _best(lambda: backend.path(image_id), args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = results["copy"]
    print(f"image of {args.size} MiB, best of {args.runs} runs")
    print(f"{'':12} {'seconds':>9} {'MiB/s':>9} {'x copy':>8}")
    for name, seconds in results.items():
        rate = args.size / seconds if seconds else float("inf")
        print(f"{name:12} {seconds:9.3f} {rate:9.0f} {seconds / base:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
