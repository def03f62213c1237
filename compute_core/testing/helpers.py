"""Helpers for test suites that use a compute_core cloud, with or without
the pytest plugin."""
from __future__ import annotations

import json
import os
import time

import requests


class ServerWaitTimeout(AssertionError):
    pass


def api_request(cloud, method, path, token=None, body=None, version=None, headers=None,
                **kwargs):
    """One request to the cloud's compute API, with the noauth2 token."""
    headers = {"X-Auth-Token": token or cloud.admin_token, "Accept": "application/json",
               **(headers or {})}
    if version:
        headers["OpenStack-API-Version"] = f"compute {version}"
    if body is not None:
        headers["Content-Type"] = "application/json"
        kwargs["data"] = json.dumps(body) if not isinstance(body, (bytes, str)) else body
    return requests.request(method, cloud.compute_url + path, headers=headers, timeout=30,
                            **kwargs)


def first_image_id(cloud, token=None) -> str:
    """The id of the first image the cloud lists (compute-aio imports one)."""
    return api_request(cloud, "GET", "/images", token=token).json()["images"][0]["id"]


def wait_for_server(cloud, server_id, statuses=("ACTIVE", "ERROR"), timeout=30.0,
                    token=None) -> dict:
    """Poll until the server's status is one of *statuses* (or it is gone,
    when "DELETED" is among them); returns the last server body."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        resp = api_request(cloud, "GET", f"/servers/{server_id}", token)
        if resp.status_code == 404 and "DELETED" in statuses:
            return {"id": server_id, "status": "DELETED"}
        if resp.status_code == 200:
            last = resp.json()["server"]
            if last["status"] in statuses:
                return last
        time.sleep(0.02)
    raise ServerWaitTimeout(f"server {server_id} not in {statuses} after {timeout}s: "
                            f"{last and last.get('status')}")


def write_clouds_yaml(cloud, directory, name="compute-core", project="demo", user=None) -> str:
    """Write the cloud's clouds.yaml into *directory*; returns its path."""
    import yaml

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "clouds.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cloud.clouds_yaml(name=name, project=project, user=user), f)
    return path
