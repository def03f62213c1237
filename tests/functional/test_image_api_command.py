"""compute-image-api: the image service as its own process (and as the WSGI
entry point a web server is given), on a migrated API database."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import requests
import webob

from compute_core.db import migration
from compute_core.db.engines import Database
from tests.integration.conftest import free_port


def _config(tmp_path):
    db_url = f"sqlite:///{tmp_path}/api.sqlite"
    db = Database(db_url)
    try:
        migration.upgrade(db, "api")
    finally:
        db.dispose()
    path = tmp_path / "compute.conf"
    path.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n"
                    f"[api_database]\nconnection = {db_url}\n"
                    "[api]\nauth_strategy = noauth2\n"
                    f"[image]\nimages_path = {tmp_path}/store\nimage_size_cap = 1000\n")
    return str(path)


def test_compute_image_api_serves(tmp_path):
    config = _config(tmp_path)
    port = free_port()
    code = "import sys; from compute_core.cmd.api import image_main; sys.exit(image_main())"
    proc = subprocess.Popen([sys.executable, "-c", code, "--config-file", config,
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/", timeout=5).status_code == 300:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.2)
        headers = {"X-Auth-Token": "demo:demo"}
        image = requests.post(url + "/v2/images", headers=headers, timeout=30, json={
            "name": "standalone", "disk_format": "raw", "container_format": "bare"}).json()
        resp = requests.put(f"{url}/v2/images/{image['id']}/file", data=b"x" * 999,
                            headers={**headers, "Content-Type": "application/octet-stream"},
                            timeout=30)
        assert resp.status_code == 204, resp.text
        assert os.path.getsize(tmp_path / "store" / image["id"]) == 999
        # [image] image_size_cap bounds the HTTP server too
        other = requests.post(url + "/v2/images", headers=headers, timeout=30, json={
            "name": "big", "disk_format": "raw", "container_format": "bare"}).json()
        resp = requests.put(f"{url}/v2/images/{other['id']}/file", data=b"x" * 1001,
                            headers={**headers, "Content-Type": "application/octet-stream"},
                            timeout=30)
        assert resp.status_code == 413
        assert requests.get(url + "/healthcheck", timeout=30).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_wsgi_entry_point(tmp_path):
    from compute_core import wsgi_apps

    config = _config(tmp_path)
    app = wsgi_apps.DeferredApplication("image")
    try:
        req = webob.Request.blank("/v2/images", headers={"X-Auth-Token": "demo:demo"},
                                  environ={wsgi_apps.CONFIG_ENV: config})
        resp = req.get_response(app)
        assert resp.status_int == 200 and resp.json["images"] == []
    finally:
        app.close()
