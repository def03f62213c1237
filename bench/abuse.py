"""What one abusive client costs everybody else.

For each abuse below, a fresh embedded cloud runs in a child process (as
compute-aio would; a stalled or stuck cloud is killed afterwards, so no abuse
leaks into the next). In each child, another user (project ``victim``) times
ordinary ``GET /v2.1/flavors`` requests, one after the other, each on a new
connection, for --window seconds while the service is idle, then for
--window seconds while user ``mallory`` (quota: 10 instances) does:

* ``regex``: ``GET /servers?name=(a%2B)%2B$`` in a loop, one at a time, with
  a server named 'a' * 26 + '!' in mallory's project (a name filter whose
  regular expression backtracks exponentially on a backtracking engine);
* ``idle``: --connections TCP connections to the compute port that send
  nothing and as many that send half a request header, opened before the
  window and held through it;
* ``max_count``: one ``POST /servers`` with ``"max_count": 2147483647``;
* ``body``: ``POST /servers`` with a --body-mb MB ``adminPass``, in a loop
  from two threads.

Prints, per abuse, the victim's p50 / p95 / max on the idle service and under
the abuse, with the number of requests and of failures (errors or no answer
within --timeout seconds, counted at --timeout), and what mallory's requests
got. No figure is asserted: the point is the comparison.

    python bench/abuse.py [--window 10] [--connections 40] [--body-mb 5]
                          [--timeout 70] [--only regex,idle,...]
"""
from __future__ import annotations

import argparse
import collections
import json
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

import requests

ABUSES = ("regex", "idle", "max_count", "body")

CHILD = """
import json, logging, sys
logging.basicConfig(level=logging.CRITICAL)
from compute_core import Cloud
with Cloud(hosts=1, compute_port=0, placement_port=0) as cloud:
    print(json.dumps({"compute": cloud.compute_url}), flush=True)
    sys.stdin.read()
"""

VICTIM = {"X-Auth-Token": "victim:victim"}
MALLORY = {"X-Auth-Token": "mallory:mallory"}
REGEX_NAME = "a" * 26 + "!"


class Child:
    """A cloud in its own process; killed when done with."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.url = json.loads(self.proc.stdout.readline())["compute"]

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # A cloud still busy with an unbounded request may not stop by
            # itself (issue 22 saw one ignore SIGINT).
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


def victim_latencies(url, window, timeout):
    """Sequential GET /flavors on new connections for *window* seconds."""
    times, failures = [], 0
    end = time.monotonic() + window
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            with requests.Session() as s:
                r = s.get(url + "/flavors", headers={**VICTIM, "Connection": "close"},
                          timeout=timeout)
            ok = r.status_code == 200
        except requests.RequestException:
            ok = False
        elapsed = time.monotonic() - t0
        if not ok:
            failures += 1
            elapsed = max(elapsed, timeout)
        times.append(elapsed)
    return times, failures


def summary(times, failures):
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return (f"p50 {statistics.median(ordered) * 1000:8.1f} ms  p95 {p95 * 1000:8.1f} ms  "
            f"max {ordered[-1] * 1000:8.1f} ms  n={len(ordered)} failed={failures}")


class Abuser:
    """Runs one abuse in background threads until stop(); tallies what its
    requests got (status code, or the exception's name)."""

    def __init__(self, url, kind, args):
        self.url, self.kind, self.args = url, kind, args
        self.outcomes = collections.Counter()
        self.stopping = threading.Event()
        self.threads = []
        self.sockets = []
        self.lock = threading.Lock()

    def _tally(self, what):
        with self.lock:
            self.outcomes[what] += 1

    def _request(self, method, path, headers=None, **kw):
        try:
            r = requests.request(method, self.url + path, headers={**MALLORY, **(headers or {})},
                                 timeout=self.args.timeout, **kw)
            self._tally(r.status_code)
            return r
        except requests.RequestException as exc:
            self._tally(type(exc).__name__)
            return None

    def _loop(self, method, path, **kw):
        while not self.stopping.is_set():
            self._request(method, path, **kw)

    def prepare(self, image):
        if self.kind == "regex":
            r = requests.post(self.url + "/servers", headers=MALLORY, timeout=30, json={
                "server": {"name": REGEX_NAME, "imageRef": image, "flavorRef": "1"}})
            r.raise_for_status()
            sid = r.json()["server"]["id"]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                status = requests.get(f"{self.url}/servers/{sid}", headers=MALLORY,
                                      timeout=30).json()["server"]["status"]
                if status != "BUILD":
                    break
                time.sleep(0.05)
        elif self.kind == "idle":
            parts = urllib.parse.urlsplit(self.url)
            for i in range(2 * self.args.connections):
                sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
                if i % 2:
                    sock.sendall(b"GET /v2.1/flavors HTTP/1.1\r\nHost: bench\r\nX-Auth-To")
                self.sockets.append(sock)
        self.image = image

    def start(self):
        server = {"name": "m", "imageRef": self.image, "flavorRef": "1"}
        if self.kind == "regex":
            targets = [(self._loop, ("GET", "/servers"),
                        {"params": {"name": "(a+)+$"}})]
        elif self.kind == "max_count":
            targets = [(self._request, ("POST", "/servers"),
                        {"json": {"server": {**server, "min_count": 1,
                                             "max_count": 2147483647}}})]
        elif self.kind == "body":
            big = {"server": {**server, "adminPass": "x" * (self.args.body_mb << 20)}}
            # Serialized once: the client's own work stays small.
            targets = [(self._loop, ("POST", "/servers"),
                        {"data": json.dumps(big).encode(),
                         "headers": {"Content-Type": "application/json"}})] * 2
        else:
            targets = []
        for fn, a, kw in targets:
            th = threading.Thread(target=fn, args=a, kwargs=kw, daemon=True)
            th.start()
            self.threads.append(th)

    def stop(self):
        self.stopping.set()
        for sock in self.sockets:
            # Still open at the end of the window, or closed by the server?
            try:
                sock.setblocking(False)
                closed = sock.recv(1) == b""
            except BlockingIOError:
                closed = False
            except OSError:
                closed = True
            self._tally("closed by the server" if closed else "still open")
            sock.close()

    def report(self):
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.outcomes.items(), key=str))


def run_one(kind, args):
    child = Child()
    abuser = None
    try:
        image = requests.get(child.url + "/images", headers=VICTIM,
                             timeout=30).json()["images"][0]["id"]
        # Warm up the victim's path, then time it on the idle service.
        victim_latencies(child.url, 1, args.timeout)
        idle = victim_latencies(child.url, args.window, args.timeout)
        abuser = Abuser(child.url, kind, args)
        abuser.prepare(image)
        abuser.start()
        time.sleep(0.2)  # let the abuse take hold
        loaded = victim_latencies(child.url, args.window, args.timeout)
        abuser.stop()
        return idle, loaded, abuser.report()
    finally:
        if abuser is not None:
            abuser.stopping.set()
        child.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=float, default=10.0,
                        help="seconds of victim requests, idle and under abuse")
    parser.add_argument("--connections", type=int, default=40,
                        help="idle connections, and as many half-header ones")
    parser.add_argument("--body-mb", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=70.0,
                        help="seconds a client request waits for its answer")
    parser.add_argument("--only", default=",".join(ABUSES),
                        help=f"comma-separated subset of {', '.join(ABUSES)}")
    args = parser.parse_args()
    for kind in args.only.split(","):
        if kind not in ABUSES:
            parser.error(f"unknown abuse {kind!r}")
        idle, loaded, mallory = run_one(kind, args)
        print(f"{kind:9s} idle service: {summary(*idle)}")
        print(f"{'':9s} under abuse:  {summary(*loaded)}")
        print(f"{'':9s} mallory's requests: {mallory or 'none finished'}", flush=True)


if __name__ == "__main__":
    main()
