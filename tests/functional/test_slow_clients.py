"""Both API ports hold against idle and half-sent connections, and both APIs
refuse a body over [oslo_middleware] max_request_body_size with a 413 in
their own fault format (issue 22)."""
import concurrent.futures
import json
import socket
import time
import urllib.parse

import pytest
import requests

HELD = 40  # per port, of each kind: more than the 16 worker threads


def _open(url, half):
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    if half:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Auth-Tok")
    return sock


def test_idle_and_half_header_connections_change_nothing_for_others(compute_cloud):
    held = [_open(url, half)
            for url in (compute_cloud.compute_url, compute_cloud.placement_url)
            for half in (False, True) for _ in range(HELD)]
    try:
        def timed(call):
            t0 = time.monotonic()
            r = call()
            return r.status_code, time.monotonic() - t0

        calls = [lambda: requests.get(compute_cloud.compute_url + "/flavors", timeout=30,
                                      headers={"X-Auth-Token": "other:other",
                                               "Connection": "close"}),
                 lambda: requests.get(compute_cloud.placement_url + "/resource_providers",
                                      timeout=30,
                                      headers={"X-Auth-Token": compute_cloud.admin_token,
                                               "Connection": "close"})] * 20
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(timed, calls))
        assert {status for status, _ in results} == {200}
        # Generous: before, these waited for the server's 60 s socket timeout.
        slowest = max(took for _, took in results)
        assert slowest < 5, slowest
    finally:
        for sock in held:
            sock.close()


def _limit(cloud):
    return cloud.conf.oslo_middleware.max_request_body_size


def test_compute_refuses_a_body_over_the_limit(compute_cloud, api, image_id):
    limit = _limit(compute_cloud)
    assert limit == 114688
    server = {"name": "big", "imageRef": image_id, "flavorRef": "1"}
    body = json.dumps({"server": {**server, "metadata": {"k": "v" * 255},
                                  "adminPass": "x" * limit}})
    r = api("POST", "/servers", body=body)
    assert r.status_code == 413
    fault = r.json()["overLimit"]
    assert fault["code"] == 413 and str(limit) in fault["message"]
    assert r.headers["x-openstack-request-id"].startswith("req-")
    # Chunked (no Content-Length): the same answer.
    r = api("POST", "/servers", headers={"Content-Type": "application/json"},
            data=(c for c in (body[:1000].encode(), body[1000:].encode())))
    assert r.status_code == 413 and r.json()["overLimit"]["code"] == 413
    # Nothing was created.
    names = [s["name"] for s in api("GET", "/servers").json()["servers"]]
    assert "big" not in names


def test_a_body_within_the_limit_still_reaches_the_api(compute_cloud, api):
    # A JSON body just under the limit gets the API's own answer (here a
    # schema error about the name), not a 413.
    padding = _limit(compute_cloud) - 100
    r = api("POST", "/flavors", body={"flavor": {"name": "n" * padding, "ram": 1, "vcpus": 1,
                                                 "disk": 1}})
    assert r.status_code == 400, r.text
    assert "badRequest" in r.json()


def test_placement_refuses_a_body_over_the_limit(compute_cloud):
    limit = _limit(compute_cloud)
    r = requests.post(compute_cloud.placement_url + "/resource_providers", timeout=30,
                      headers={"X-Auth-Token": compute_cloud.admin_token,
                               "OpenStack-API-Version": "placement 1.39"},
                      json={"name": "x" * (limit + 1)})
    assert r.status_code == 413
    error = r.json()["errors"][0]
    assert error["status"] == 413 and error["title"] == "Request Entity Too Large"
    assert str(limit) in error["detail"]


@pytest.mark.parametrize("port", ["compute_url", "placement_url"])
def test_a_huge_body_is_refused_by_the_server_before_it_is_read(compute_cloud, port):
    # Ten times the limit and more: the HTTP server answers 413 itself.
    huge = b"x" * (10 * _limit(compute_cloud) + 1)
    r = requests.post(getattr(compute_cloud, port) + "/anything", data=huge, timeout=30,
                      headers={"X-Auth-Token": compute_cloud.admin_token})
    assert r.status_code == 413
