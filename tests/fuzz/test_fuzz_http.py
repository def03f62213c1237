"""Hypothesis fuzzing of what the OpenAPI documents do not describe: any
bytes in paths and queries, nested JSON bodies, and abused headers (huge,
a bad Content-Type, bad microversions, bad tokens), on both ports.

Every answer must be below 500 and, when the API answered, in the fault
format of its port: ``{"<name>": {"code": N, "message": ...}}`` on compute,
``{"errors": [{"status": N, "title": ..., "detail": ...}]}`` on placement.
Bounded: MAX_EXAMPLES per test (a few seconds each).
"""
import json
import os
import string

import hypothesis
import pytest
import requests
from hypothesis import strategies as st

from compute_core.api import faults

MAX_EXAMPLES = 10 * int(os.environ.get("COMPUTE_CORE_FUZZ_EXAMPLES", "4"))
SETTINGS = hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                               derandomize=True, print_blob=False,
                               phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                               suppress_health_check=list(hypothesis.HealthCheck))
COMPUTE_PATHS = ["/servers/{}", "/servers/{}/action", "/flavors/{}", "/os-hypervisors/{}",
                 "/images/{}", "/{}", "/servers/detail/{}"]
PLACEMENT_PATHS = ["/resource_providers/{}", "/resource_providers/{}/inventories",
                   "/resource_providers/{}/inventories/{}", "/resource_providers/{}/traits",
                   "/resource_classes/{}", "/traits/{}", "/allocations/{}", "/{}"]
COMPUTE_LISTS = ["/servers", "/servers/detail", "/flavors", "/flavors/detail", "/images",
                 "/os-hypervisors", "/os-services", "/limits", "/os-migrations",
                 "/os-instance_usage_audit_log", "/os-simple-tenant-usage", "/os-keypairs",
                 "/os-server-groups", "/os-availability-zone"]
PLACEMENT_LISTS = ["/resource_providers", "/allocation_candidates", "/traits", "/usages",
                   "/resource_classes"]
COMPUTE_BODIES = [("POST", "/servers"), ("POST", "/flavors"),
                  ("POST", "/servers/00000000-0000-0000-0000-000000000001/action")]
PLACEMENT_BODIES = [("POST", "/resource_providers"), ("POST", "/allocations"),
                    ("PUT", "/allocations/00000000-0000-0000-0000-000000000001"),
                    ("POST", "/reshaper"), ("POST", "/resource_classes")]
FAULT_NAMES = set(faults.FAULT_NAMES.values()) | {"computeFault"}


def _quoted(raw: bytes) -> str:
    safe = set(string.ascii_letters + string.digits + "-._~")
    return "".join(chr(b) if chr(b) in safe else f"%{b:02X}" for b in raw)


def _check(resp, port, method="GET"):
    """No 5xx; a 4xx the API made is in its port's fault format."""
    status = resp.status_code
    assert status < 500, f"{method} {resp.url} -> {status}: {resp.text[:500]}"
    if status < 400 or method == "HEAD":
        return
    body = resp.json()
    if port == "compute":
        assert len(body) == 1 and next(iter(body)) in FAULT_NAMES, body
        fault = next(iter(body.values()))
        assert fault["code"] == status and isinstance(fault["message"], str), body
    else:
        assert set(body) == {"errors"}, body
        error = body["errors"][0]
        assert error["status"] == status and error["title"] and "detail" in error, body


def _base(cloud, port):
    return cloud.compute_url if port == "compute" else cloud.placement_url


def _send(cloud, port, method, path, token=None, **kwargs):
    headers = {"X-Auth-Token": token or cloud.admin_token, "Accept": "application/json"}
    headers.update(kwargs.pop("headers", {}))
    return requests.request(method, _base(cloud, port) + path, headers=headers, timeout=30,
                            allow_redirects=False, **kwargs)


_PORTS = st.sampled_from(["compute", "placement"])
_SEGMENT = st.binary(min_size=1, max_size=24)  # UTF-8 or not, after percent-decoding


@SETTINGS
@hypothesis.given(port=_PORTS, data=st.data(), segments=st.lists(_SEGMENT, min_size=2,
                                                                  max_size=2),
                  method=st.sampled_from(["GET", "DELETE", "PUT", "POST", "HEAD"]))
def test_any_bytes_in_paths(fuzz_cloud, port, data, segments, method):
    template = data.draw(st.sampled_from(COMPUTE_PATHS if port == "compute"
                                         else PLACEMENT_PATHS))
    path = template.format(*(_quoted(s) for s in segments[:template.count("{}")]))
    resp = _send(fuzz_cloud, port, method, path,
                 **({"json": {}} if method in ("PUT", "POST") else {}))
    _check(resp, port, method)


@SETTINGS
@hypothesis.given(port=_PORTS, data=st.data(),
                  query=st.lists(st.tuples(_SEGMENT, st.binary(max_size=24)), min_size=1,
                                 max_size=4),
                  version=st.sampled_from([None, "latest", "2.1", "2.66", "2.75", "2.101",
                                           "2.102", "1.39", "1.0"]))
def test_any_bytes_in_queries(fuzz_cloud, port, data, query, version):
    path = data.draw(st.sampled_from(COMPUTE_LISTS if port == "compute" else PLACEMENT_LISTS))
    known = ["name", "limit", "marker", "status", "resources", "required", "member_of",
             "sort_key", "project_id", "minRam", "in_tree", "associated", "changes-since",
             "changes-before", "pinned_availability_zone", "start", "end", "is_public"]
    pairs = [(data.draw(st.sampled_from(known)) if i % 2 else _quoted(key), _quoted(value))
             for i, (key, value) in enumerate(query)]
    headers = {}
    if version and (version == "latest" or version.startswith("2.") == (port == "compute")):
        headers["OpenStack-API-Version"] = f"{port} {version}"
    qs = "&".join(f"{k}={v}" for k, v in pairs)
    _check(_send(fuzz_cloud, port, "GET", f"{path}?{qs}", headers=headers), port)


# leaves include what JSON cannot carry safely: NaN and Infinity tokens, huge
# integers, lone surrogates (escaped as \ud800 by json.dumps)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2 ** 63) | st.floats()
    | st.text(max_size=20) | st.sampled_from(["\ud800", "a\udfffb", "\udc80" * 3]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=30)


@SETTINGS
@hypothesis.given(port=_PORTS, data=st.data(), body=_JSON,
                  wrap=st.sampled_from([None, "server", "flavor", "resize", "allocations"]))
def test_nested_bodies(fuzz_cloud, port, data, body, wrap):
    method, path = data.draw(st.sampled_from(COMPUTE_BODIES if port == "compute"
                                             else PLACEMENT_BODIES))
    if wrap:
        body = {wrap: body}
    resp = _send(fuzz_cloud, port, method, path, data=json.dumps(body),
                 headers={"Content-Type": "application/json"})
    _check(resp, port, method)


# past the interpreter's recursion limit (the API refuses nesting past 32)
MAX_DEPTH = 5000


@SETTINGS
@hypothesis.given(port=_PORTS, data=st.data(), depth=st.integers(1, MAX_DEPTH),
                  opener=st.sampled_from(['[', '{"a":', '{"server":', '{"flavor":']))
def test_deeply_nested_bodies(fuzz_cloud, port, data, depth, opener):
    method, path = data.draw(st.sampled_from(COMPUTE_BODIES if port == "compute"
                                             else PLACEMENT_BODIES))
    closer = "]" if opener == "[" else "}"
    raw = opener * depth + "1" + closer * depth
    resp = _send(fuzz_cloud, port, method, path, data=raw,
                 headers={"Content-Type": "application/json"})
    _check(resp, port, method)


# what a header value may carry (HTTP clients refuse edge whitespace)
_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                     exclude_characters="\x7f"), max_size=40).map(str.strip)


@SETTINGS
@hypothesis.given(port=_PORTS, data=st.data(),
                  version=st.one_of(_HEADER_TEXT, st.builds(
                      "{} {}".format, st.sampled_from(["compute", "placement", "COMPUTE", ""]),
                      st.one_of(_HEADER_TEXT, st.from_regex(r"\A-?[0-9]{1,25}\.-?[0-9]{1,25}\Z"),
                                st.sampled_from(["latest", "2.1", "1.39", "2.0", "1.0",
                                                 "3.0", "2.101", "1.40"]))).map(str.strip)),
                  legacy=st.none() | _HEADER_TEXT,
                  token=_HEADER_TEXT, ctype=st.none() | _HEADER_TEXT,
                  method=st.sampled_from(["GET", "POST"]))
def test_header_abuse(fuzz_cloud, port, data, version, legacy, token, ctype, method):
    headers = {"OpenStack-API-Version": version.encode("latin-1")}
    if legacy is not None:
        headers["X-OpenStack-Nova-API-Version"] = legacy.encode("latin-1")
    if ctype is not None:
        headers["Content-Type"] = ctype.encode("latin-1")
    if method == "GET":
        path = data.draw(st.sampled_from(COMPUTE_LISTS if port == "compute"
                                         else PLACEMENT_LISTS))
        body = None
    else:
        path = data.draw(st.sampled_from([p for m, p in (COMPUTE_BODIES if port == "compute"
                                                         else PLACEMENT_BODIES)]))
        body = b'{"x": 1}'
    resp = _send(fuzz_cloud, port, method, path, token=token.strip().encode("latin-1") or
                 b"nobody", headers=headers, data=body)
    _check(resp, port, method)


@pytest.mark.parametrize("port", ["compute", "placement"])
@pytest.mark.parametrize("case", ["huge token", "huge version", "many headers",
                                  "huge content type"])
def test_huge_headers(fuzz_cloud, port, case):
    headers = {}
    token = None
    if case == "huge token":
        token = "admin:" + "p" * 60000
    elif case == "huge version":
        headers["OpenStack-API-Version"] = f"{port} " + "9" * 60000
    elif case == "many headers":
        headers.update({f"X-Junk-{i}": "j" * 500 for i in range(150)})
    else:
        headers["Content-Type"] = "application/" + "j" * 60000
    try:
        resp = _send(fuzz_cloud, port, "GET", "/servers" if port == "compute"
                     else "/resource_providers", token=token, headers=headers)
    except requests.ConnectionError:
        pytest.fail(f"{case}: the server dropped the connection instead of answering")
    assert resp.status_code < 500, resp.text[:300]
    if resp.status_code >= 400 and resp.headers.get("Content-Type", "").startswith(
            "application/json"):
        _check(resp, port)
    # the service still answers others
    assert _send(fuzz_cloud, port, "GET", "/").status_code == 200


# ISO 8601 times near the ends of what datetime holds, with any UTC offset:
# an offset may carry them past year 9999 or before year 1
_EDGE_TIME = st.builds(
    "{}T{}{}".format,
    st.sampled_from(["0001-01-01", "0001-01-31", "0001-02-01", "9999-12-31", "9999-01-01"])
    | st.dates().map(str),
    st.sampled_from(["00:00:00", "23:59:59", "23:59:59.999999", "00:30"])
    | st.times().map(str),
    st.sampled_from(["", "Z", "+00:00", "+23:59", "-23:59", "+01:00", "-01:00"]))


@SETTINGS
@hypothesis.given(when=_EDGE_TIME, data=st.data(),
                  version=st.sampled_from(["2.1", "2.59", "2.66", "2.102", "latest"]))
def test_edge_times_in_queries_and_paths(fuzz_cloud, when, data, version):
    path = data.draw(st.sampled_from([
        "/servers?changes-since={}", "/servers/detail?changes-before={}",
        "/os-migrations?changes-since={}", "/os-migrations?changes-before={}",
        "/images?changes-since={}", "/os-simple-tenant-usage?start={}",
        "/os-instance_usage_audit_log/{}"]))
    headers = {"OpenStack-API-Version": f"compute {version}"}
    resp = _send(fuzz_cloud, "compute", "GET", path.format(_quoted(when.encode())),
                 headers=headers)
    _check(resp, "compute")
