"""What the noVNC proxy costs: framebuffer throughput and added latency.

Starts an embedded cloud (fake driver), boots one server and asks for its
noVNC console. Then, once straight to the guest's VNC port and once
through the noVNC proxy's websocket (token checked, bytes relayed), it
measures:

* throughput: full-screen Raw updates (640x400, 32 bpp, ~1 MB each) asked
  for and read back to back, in MB/s of update bytes received;
* latency: the round trip of a 1x1 update request (a 16-byte request, a
  20-byte answer), median and 95th percentile, and the difference the
  proxy adds.

    python bench/console.py [--updates 200] [--pings 2000]

Everything runs on 127.0.0.1, bounded in count and time.
"""
from __future__ import annotations

import argparse
import logging
import socket
import statistics
import time

from compute_core import Cloud, context
from compute_core.api.server_service import ServerService
from compute_core.console import access
from compute_core.testing import api_request, first_image_id, wait_for_server
from compute_core.testing.console import RFBClient, WebSocketStream

TIME_LIMIT = 60.0  # seconds per measurement at most


def _throughput(client, updates):
    size = client.width * client.height * client.bytes_per_pixel
    received, t0 = 0, time.perf_counter()
    for _ in range(updates):
        client.request()
        received += sum(len(r[4]) for r in client.read_update())
        if time.perf_counter() - t0 > TIME_LIMIT:
            break
    elapsed = time.perf_counter() - t0
    assert received % size == 0
    return received / elapsed / 1e6, received // size, elapsed


def _latency(client, pings):
    times = []
    deadline = time.perf_counter() + TIME_LIMIT
    for _ in range(pings):
        t0 = time.perf_counter()
        client.request(x=0, y=0, w=1, h=1)
        client.read_update()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    times.sort()
    return statistics.median(times) * 1e6, times[int(len(times) * 0.95) - 1] * 1e6, len(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--pings", type=int, default=2000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    with Cloud() as cloud:
        resp = api_request(cloud, "POST", "/servers", body={"server": {
            "name": "bench-console", "imageRef": first_image_id(cloud), "flavorRef": "1"}})
        sid = resp.json()["server"]["id"]
        server = wait_for_server(cloud, sid)
        info = cloud.driver(server["OS-EXT-SRV-ATTR:host"]).get_console_connection(
            None, {"uuid": sid}, "novnc")
        url = access.get_console(cloud._api, ServerService(cloud._api),
                                 context.get_admin_context(), sid, "vnc", "novnc")["url"]
        token = url.split("%3Ftoken%3D", 1)[1]
        ws_url = cloud.console_urls["novnc"].replace("http", "ws", 1) + f"/?token={token}"

        def direct():
            sock = socket.create_connection((info["host"], info["port"]))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock

        def proxied():
            stream = WebSocketStream(ws_url)
            stream.ws.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return stream

        results = {}
        for name, opener in (("direct", direct), ("via noVNC proxy", proxied)):
            stream = opener()
            try:
                client = RFBClient(stream)
                client.handshake()
                client.screen()  # warm up: the pixel format's rows are encoded once
                mbps, count, elapsed = _throughput(client, args.updates)
                median, p95, n = _latency(client, args.pings)
            finally:
                stream.close()
            results[name] = (mbps, median, p95)
            print(f"{name:16s} {mbps:8.1f} MB/s ({count} full screens in {elapsed:.2f} s)   "
                  f"1x1 round trip median {median:7.0f} us, p95 {p95:7.0f} us ({n})")
        d, p = results["direct"], results["via noVNC proxy"]
        print(f"proxy relays {p[0] / d[0] * 100:.0f}% of the direct throughput; adds "
              f"{p[1] - d[1]:.0f} us per message at the median, {p[2] - d[2]:.0f} us at p95")
        api_request(cloud, "DELETE", f"/servers/{sid}")


if __name__ == "__main__":
    main()
