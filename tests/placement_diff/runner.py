"""Differential testing of compute_core's placement against openstack-placement 16.

Both services run on the same database engine (separate databases), each in
a process of its own (:mod:`compute_core.testing.placement_services`). Every
request of a sequence goes to both; the answers are compared:

* the status code;
* the headers that matter: Location, Content-Type, Vary, OpenStack-API-Version,
  Allow, Cache-Control, and whether Last-Modified is there (its value is a time);
* the body: JSON compared as data, with the request id of error bodies left
  out, UUIDs the client never sent (generated ones) read as ``<uuid>`` and
  every list compared as a set (Placement's lists are sets: providers,
  traits, aggregates, candidates...). A request with ``limit`` on
  /allocation_candidates compares the number of candidates only (which of
  them a limit keeps is not specified). The ``detail`` of an error is
  compared, and reported apart (``--strict-details`` counts it as a
  difference).

Sequences: :mod:`tests.placement_diff.scenarios` (hand-written, per resource)
and :mod:`tests.placement_diff.machine` (a hypothesis state machine).

    python -m tests.placement_diff.runner [--server sqlite://] [--examples 30]
        [--profile legacy] [--scenario NAME] [-v]

``--server mysql+pymysql://root@127.0.0.1/`` or
``postgresql+psycopg2://postgres@127.0.0.1/`` runs them on MariaDB or
PostgreSQL (databases with unique names, dropped after).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import json
import os
import re
import sys
import uuid as uuidlib

import requests

from compute_core.testing import placement_services as services

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{12}")
COMPARED_HEADERS = ("location", "content-type", "vary", "openstack-api-version", "allow",
                    "cache-control")
ADMIN_TOKEN = "admin:admin"
# Databases made on MariaDB / PostgreSQL: PREFIX_ref_*, PREFIX_ours_* (dropped after)
DB_PREFIX = os.environ.get("PLACEMENT_DIFF_DB_PREFIX", "pdiff_placement_diff")

# Differences we accept on purpose: (method, path regex, the reference's
# status) -> the reason, also in README.md ("Placement: differential tests").
# Keep it tiny.
ALLOWED: dict[tuple[str, str, int], str] = {
    ("GET", r"^/usages\?", 500):
        "openstack-placement 16 fails GET /usages from microversion 1.38 on PostgreSQL "
        "(its query groups by consumer type but selects the resource class: a "
        "GroupingError, a 500); compute_core answers the usages. No request may be a 500.",
    ("GET", r"^/resource_providers/[0-9A-F-]*[A-F][0-9A-F-]*(/|$)", 200):
        "MariaDB only: openstack-placement finds a provider by its uuid in upper case "
        "(the column's case-insensitive collation); compute_core compares uuids exactly, "
        "as openstack-placement does on SQLite and PostgreSQL (a 404).",
}


# ------------------------------------------------------------------ requests

@dataclasses.dataclass
class Request:
    """One request, sent the same to both services. *body* is JSON data
    (sent with Content-Type: application/json), or str/bytes sent as they
    are; values that are callables are resolved per service
    (``fn(side)``, e.g. the provider's current generation there)."""

    method: str
    path: str
    body: object = None
    version: str | None = None
    headers: dict = dataclasses.field(default_factory=dict)
    token: str | None = ADMIN_TOKEN
    note: str = ""

    def describe(self) -> str:
        v = f" [{self.version}]" if self.version else ""
        body = ""
        if self.body is not None:
            shown = self.body if isinstance(self.body, (str, bytes)) else json.dumps(
                _resolved_for_display(self.body))
            body = f" {shown if isinstance(shown, str) else shown.decode('latin-1')}"[:600]
        extra = "".join(f" {k}: {val}" for k, val in self.headers.items())
        return f"{self.method} {self.path}{v}{extra}{body}"


def _resolved_for_display(data):
    if callable(data):
        return "<per service>"
    if isinstance(data, dict):
        return {k: _resolved_for_display(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_resolved_for_display(v) for v in data]
    return data


def _resolve(data, side):
    if callable(data):
        return data(side)
    if isinstance(data, dict):
        return {k: _resolve(v, side) for k, v in data.items()}
    if isinstance(data, list):
        return [_resolve(v, side) for v in data]
    return data


class Side:
    """One service: its base URL and an HTTP session."""

    def __init__(self, name: str, base: str):
        self.name = name
        self.base = base
        self.http = requests.Session()

    def send(self, req: Request) -> requests.Response:
        headers = {}
        if req.token is not None:
            headers["X-Auth-Token"] = req.token
        if req.version is not None:
            headers["OpenStack-API-Version"] = f"placement {req.version}"
        data = None
        body = _resolve(req.body, self)
        if body is not None:
            if isinstance(body, (str, bytes)):
                data = body
            else:
                data = json.dumps(body)
                headers["Content-Type"] = "application/json"
        headers.update(req.headers)
        return self.http.request(req.method, self.base + req.path, data=data,
                                 headers=headers, timeout=120, allow_redirects=False)

    def call(self, method, path, body=None, version="1.39"):
        """A request of the runner's own (state, cleanup): not compared."""
        return self.send(Request(method, path, body, version))

    def generation(self, rp: str) -> int | None:
        r = self.call("GET", f"/resource_providers/{rp}")
        return r.json()["generation"] if r.status_code == 200 else None

    def consumer_generation(self, consumer: str) -> int | None:
        r = self.call("GET", f"/allocations/{consumer}")
        return r.json().get("consumer_generation") if r.status_code == 200 else None


def generation_of(rp: str, delta: int = 0):
    """A body value: *rp*'s generation on each service (plus *delta*)."""
    def value(side):
        gen = side.generation(rp)
        return None if gen is None else gen + delta
    return value


def consumer_generation_of(consumer: str):
    return lambda side: side.consumer_generation(consumer)


# ---------------------------------------------------------------- comparison

def normalise(resp: requests.Response, base: str, known: set[str]) -> dict:
    headers = {}
    for name in COMPARED_HEADERS:
        value = resp.headers.get(name)
        if value is None:
            continue
        if name == "location":
            value = value.replace(base, "")
            value = _mask_uuids(value, known)
        elif name == "allow":
            value = ",".join(sorted(v.strip() for v in value.split(",")))
        elif name in ("vary", "openstack-api-version", "content-type"):
            value = value.lower().replace(" ", "")
        headers[name] = value
    headers["last-modified"] = "last-modified" in resp.headers
    raw = resp.content
    body: object = None
    ctype = resp.headers.get("content-type", "")
    if raw:
        if "json" in ctype:
            try:
                body = _canonical(json.loads(raw), known)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        else:
            body = _mask_uuids(re.sub(r"req-[0-9a-f-]{36}", "<request-id>",
                                      raw.decode("utf-8", "replace")), known)
    return {"status": resp.status_code, "headers": headers, "body": body}


def _mask_uuids(text: str, known: set[str]) -> str:
    return UUID_RE.sub(lambda m: m.group(0) if m.group(0).lower() in known else "<uuid>", text)


def _canonical(data, known):
    if isinstance(data, dict):
        return {_mask_uuids(k, known): _canonical(v, known) for k, v in data.items()
                if k != "request_id"}
    if isinstance(data, list):
        items = [_canonical(v, known) for v in data]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(data, str):
        return _mask_uuids(data, known)
    return data


def _details_apart(body):
    """(body without error details, the details)."""
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        details = [e.get("detail") for e in body["errors"] if isinstance(e, dict)]
        errors = [{k: v for k, v in e.items() if k != "detail"} if isinstance(e, dict) else e
                  for e in body["errors"]]
        return dict(body, errors=errors), details
    return body, None


def _limited_candidates(req: Request, answer: dict):
    if (req.path.startswith("/allocation_candidates") and "limit=" in req.path
            and answer["status"] == 200 and isinstance(answer["body"], dict)):
        body = answer["body"]
        # Which candidates a limit keeps is the service's choice (and so
        # which summaries come with them): only their number is compared.
        return dict(answer, body={"allocation_requests": len(body.get("allocation_requests",
                                                                       []))})
    return answer


@dataclasses.dataclass
class Difference:
    request: Request
    expected: dict
    got: dict
    what: str  # "status", "headers", "body" or "detail"
    scenario: str = ""

    def render(self) -> str:
        return (f"--- {self.scenario}: {self.what} differs\n"
                f"request:  {self.request.describe()}\n"
                f"expected: {json.dumps(self.expected, sort_keys=True)[:1500]}\n"
                f"got:      {json.dumps(self.got, sort_keys=True)[:1500]}")


class Comparison:
    """Sends requests to the reference (expected) and ours (got), counts and
    records the differences."""

    def __init__(self, reference: Side, ours: Side, strict_details: bool = False):
        self.reference = reference
        self.ours = ours
        self.strict_details = strict_details
        self.known: set[str] = set()
        self.compared = 0
        self.differences: list[Difference] = []
        self.detail_differences: list[Difference] = []
        self.allowed: list[tuple[Difference, str]] = []
        self.scenario = ""
        # Each request goes to both services at once (each side keeps its
        # own order): a request costs the slower answer, not the sum.
        self._pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="pdiff")

    def on_both(self, fn, *args):
        """fn(side, *args) on the reference and on ours, concurrently."""
        theirs = self._pool.submit(fn, self.reference, *args)
        return theirs.result(), fn(self.ours, *args)

    def close(self):
        self._pool.shutdown()

    def send(self, req: Request) -> tuple[requests.Response, requests.Response]:
        self.known.update(u.lower() for u in UUID_RE.findall(
            req.path + json.dumps(_resolved_for_display(req.body), default=str)))
        theirs, mine = self.on_both(Side.send, req)
        self.compared += 1
        expected = _limited_candidates(req, normalise(theirs, self.reference.base, self.known))
        got = _limited_candidates(req, normalise(mine, self.ours.base, self.known))
        what = None
        if expected["status"] != got["status"]:
            what = "status"
        elif expected["headers"] != got["headers"]:
            what = "headers"
        else:
            body_e, details_e = _details_apart(expected["body"])
            body_g, details_g = _details_apart(got["body"])
            if body_e != body_g:
                what = "body"
            elif details_e != details_g:
                what = "detail"
        if what is not None:
            diff = Difference(req, expected, got, what, self.scenario)
            reason = _allowed(diff)
            if reason:
                self.allowed.append((diff, reason))
            elif what == "detail" and not self.strict_details:
                self.detail_differences.append(diff)
            else:
                self.differences.append(diff)
        return theirs, mine

    def report(self, out=sys.stdout, verbose=True) -> None:
        if verbose:
            for diff in self.differences:
                print(diff.render(), file=out)
        print(f"placement differential: {self.compared} requests compared, "
              f"{len(self.differences)} differed"
              f" ({len(self.detail_differences)} more differ in an error's wording only,"
              f" {len(self.allowed)} allowed)", file=out)


def _allowed(diff: Difference) -> str | None:
    for (method, pattern, status), reason in ALLOWED.items():
        if (diff.request.method == method and re.search(pattern, diff.request.path)
                and diff.expected["status"] == status):
            return reason
    return None


# ------------------------------------------------------------------- cleanup

def reset(side: Side) -> None:
    """Remove every provider, allocation, custom trait and custom class."""
    r = side.call("GET", "/resource_providers")
    providers = r.json()["resource_providers"]
    consumers = set()
    for p in providers:
        allocs = side.call("GET", f"/resource_providers/{p['uuid']}/allocations").json()
        consumers.update(allocs.get("allocations", {}))
    for c in consumers:
        side.call("DELETE", f"/allocations/{c}")
    # Children before parents: deepest first.
    by_uuid = {p["uuid"]: p for p in providers}

    def depth(p):
        d = 0
        while p.get("parent_provider_uuid"):
            p = by_uuid.get(p["parent_provider_uuid"], {})
            d += 1
        return d

    for p in sorted(providers, key=depth, reverse=True):
        r = side.call("DELETE", f"/resource_providers/{p['uuid']}")
        if r.status_code not in (204, 404):
            raise RuntimeError(f"{side.name}: cannot delete provider {p['uuid']}: {r.text}")
    for t in side.call("GET", "/traits?name=startswith:CUSTOM_").json()["traits"]:
        side.call("DELETE", f"/traits/{t}")
    for rc in side.call("GET", "/resource_classes").json()["resource_classes"]:
        if rc["name"].startswith("CUSTOM_"):
            side.call("DELETE", f"/resource_classes/{rc['name']}")


# ------------------------------------------------------------------- running

def run_scenario(cmp: Comparison, name: str, steps) -> None:
    cmp.scenario = name
    cmp.on_both(reset)
    for req in steps:
        cmp.send(req)


def decided_by_policy(steps) -> bool:
    """Whether a scenario has a request whose answer a policy profile can
    change: a caller other than the admin (another token, roles, a scope).
    The admin passes every rule of every profile."""
    return any(req.token != ADMIN_TOKEN or "X-Roles" in req.headers
               or "OpenStack-System-Scope" in req.headers for req in steps)


@contextlib.contextmanager
def services_pair(server: str = "sqlite://", profile: str = "new-defaults"):
    """Both services on fresh databases of *server*, as Sides."""
    from tests.placement_diff import profiles

    ref_conf, our_conf, files = profiles.configuration(profile)
    # The two start side by side (a database each, migrated, and a server).
    sides = [("openstack-placement", f"{DB_PREFIX}_ref",
              lambda url: services.serve_reference(url, extra_conf=ref_conf, files=files)),
             ("compute_core", f"{DB_PREFIX}_ours",
              lambda url: services.serve_ours(url, threads=4, extra_conf=our_conf,
                                              files=files))]
    with contextlib.ExitStack() as stack:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(_start_side, server, db_name, serve)
                       for _, db_name, serve in sides]
        bases, failure = [], None
        for future in futures:
            try:
                base, side_stack = future.result()
            except Exception as exc:  # noqa: BLE001 - the other side is stopped first
                failure = failure or exc
                continue
            stack.callback(side_stack.close)
            bases.append(base)
        if failure is not None:
            raise failure
        yield tuple(Side(name, base) for (name, _, _), base in zip(sides, bases))


def _start_side(server, db_name, serve):
    """(base URL, the stack that stops it) of one service on a new database."""
    stack = contextlib.ExitStack()
    try:
        url = stack.enter_context(services.database(server, services.unique_name(db_name)))
        return stack.enter_context(serve(url)), stack
    except BaseException:
        stack.close()
        raise


def run(server="sqlite://", profile="new-defaults", examples=30, steps=25, only=None,
        strict_details=False, seed=None, out=sys.stdout, verbose=True,
        policy_scenarios_only=False, pair=None, with_scenarios=True) -> Comparison:
    """Compare the scenarios (unless not *with_scenarios*: those *only*
    names; with *policy_scenarios_only*, those :func:`decided_by_policy`)
    and *examples* state-machine runs. *pair*: services already serving
    (reference, ours)."""
    with contextlib.ExitStack() as stack:
        if pair is None:
            pair = stack.enter_context(services_pair(server, profile))
        cmp = Comparison(*pair, strict_details=strict_details)
        stack.callback(cmp.close)
        compare(cmp, profile, examples, steps, only, seed, policy_scenarios_only,
                with_scenarios)
        cmp.report(out, verbose=verbose)
    return cmp


def compare(cmp, profile="new-defaults", examples=30, steps=25, only=None, seed=None,
            policy_scenarios_only=False, with_scenarios=True) -> None:
    from tests.placement_diff import machine, scenarios

    for name, build in scenarios.all_scenarios(profile) if with_scenarios else ():
        if only and only not in name:
            continue
        built = build()
        if policy_scenarios_only and not decided_by_policy(built):
            continue
        run_scenario(cmp, name, built)
    if examples:
        cmp.scenario = "state machine"
        machine.run(cmp, examples=examples, steps=steps, seed=seed)


def new_uuid(label: str, namespace: str = "compute_core-placement-diff") -> str:
    """A fixed uuid per label, the same on every run."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"{namespace}/{label}"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", default="sqlite://")
    p.add_argument("--profile", default="new-defaults",
                   help="policy profile: new-defaults, legacy, open (default new-defaults)")
    p.add_argument("--examples", type=int, default=30, help="state machine examples")
    p.add_argument("--steps", type=int, default=25, help="steps per example")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--scenario", default=None, help="only scenarios whose name has this")
    p.add_argument("--strict-details", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--dump", default=None, help="write the differences as JSON lines here")
    args = p.parse_args(argv)
    if not services.reference_venv_ready():
        services.ensure_reference_venv()
    cmp = run(args.server, args.profile, args.examples, args.steps, args.scenario,
              args.strict_details, args.seed, verbose=not args.quiet)
    if not args.quiet:
        for diff in cmp.detail_differences:
            print(diff.render())
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            for diff in cmp.differences + cmp.detail_differences:
                f.write(json.dumps({"scenario": diff.scenario, "what": diff.what,
                                    "request": diff.request.describe(),
                                    "expected": diff.expected, "got": diff.got}) + "\n")
    return 1 if cmp.differences else 0


if __name__ == "__main__":
    sys.exit(main())
