"""Hostile and malformed input through the real HTTP APIs (issue 22): each
gets a 4xx in the API's own error format naming what is wrong, and changes
nothing. Requests go out through http.client so that the bytes of a path or
a body reach the server exactly as written."""
import http.client
import json
from urllib.parse import urlsplit

import pytest

from compute_core.testing import api_request

PLACEMENT = {"OpenStack-API-Version": "placement latest"}


def send(base_url, method, path, body=None, token="admin:admin", headers=None):
    """(status, parsed JSON body) of one request, *path* sent as is."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest(method, url.path.rstrip("/") + path, skip_accept_encoding=True)
        all_headers = {"X-Auth-Token": token, **(headers or {})}
        if body is not None:
            body = body if isinstance(body, bytes) else json.dumps(body).encode()
            all_headers.update({"Content-Type": "application/json",
                                "Content-Length": str(len(body))})
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, strict_json(resp.read())
    finally:
        conn.close()


def strict_json(data: bytes):
    """JSON as RFC 8259 has it: NaN / Infinity are an error, not a number."""
    def refuse(token):
        raise AssertionError(f"response holds the non-JSON token {token}")
    return json.loads(data, parse_constant=refuse) if data else None


def compute_fault(status, body, code=400):
    """The message of a Compute fault {"badRequest": {"code", "message"}}."""
    assert status == code, body
    (name, fault), = body.items()
    assert fault["code"] == code and name in ("badRequest", "forbidden"), body
    return fault["message"]


def placement_error(status, body, code=400):
    """The detail of a placement error document {"errors": [...]}."""
    assert status == code, body
    assert set(body) == {"errors"}, body  # never the Compute format
    (error,) = body["errors"]
    # "code" exists from microversion 1.23; an error found before the
    # microversion is read (a URL that is not UTF-8) has none, as in
    # openstack-placement.
    assert error["status"] == code and error.get("code", "placement.").startswith(
        "placement."), body
    return error["detail"]


@pytest.fixture
def compute(compute_cloud):
    return lambda method, path, body=None, **kw: send(compute_cloud.compute_url, method,
                                                      path, body, **kw)


@pytest.fixture
def placement(compute_cloud):
    return lambda method, path, body=None, **kw: send(
        compute_cloud.placement_url, method, path, body, headers=PLACEMENT, **kw)


def _server_ids(compute):
    status, body = compute("GET", "/servers?all_tenants=1")
    assert status == 200
    return sorted(s["id"] for s in body["servers"])


def _flavor_ids(compute):
    status, body = compute("GET", "/flavors/detail?is_public=none")
    assert status == 200
    return sorted(f["id"] for f in body["flavors"])


def _providers(placement):
    status, body = placement("GET", "/resource_providers")
    assert status == 200
    return sorted((p["uuid"], p["name"], p["generation"])
                  for p in body["resource_providers"])


# ------------------------------- URLs and request bodies (both APIs)


@pytest.mark.parametrize("path", [
    "/servers/%ff%fe", "/servers?name=%ff", "/servers/detail?name=%ed%a0%80",
    "/flavors/%c0%af", "/flavors?marker=abc%e2%82"])
def test_compute_url_not_utf8_is_400(compute, path):
    message = compute_fault(*compute("GET", path))
    assert "not valid UTF-8" in message
    assert ("path" if "?" not in path else "query string") in message


def test_compute_versions_url_not_utf8_is_400(compute_cloud):
    root = compute_cloud.compute_url.rsplit("/v2.1", 1)[0]
    message = compute_fault(*send(root, "GET", "/%ff"))
    assert "path is not valid UTF-8" in message


@pytest.mark.parametrize("path", [
    "/resource_providers/%c0%af", "/resource_providers?name=%ff",
    "/traits?name=in:%ed%a0%80", "/allocation_candidates?resources=VCPU:1&%ff=1"])
def test_placement_url_not_utf8_is_400_in_placement_format(placement, path):
    detail = placement_error(*placement("GET", path))
    assert "not valid UTF-8" in detail


@pytest.mark.parametrize("body", [
    b"[" * 5000,                                                   # RecursionError before
    b'{"server": {"name": ' + b"[" * 200 + b"]" * 200 + b"}}",     # parses, too deep
], ids=["unclosed-5000", "closed-200"])
def test_deeply_nested_body_is_400(compute, placement, body):
    servers, providers = _server_ids(compute), _providers(placement)
    assert "nested deeper than" in compute_fault(*compute("POST", "/servers", body))
    assert "nested deeper than" in placement_error(*placement("POST", "/resource_providers",
                                                              body))
    assert _server_ids(compute) == servers and _providers(placement) == providers


@pytest.mark.parametrize("field", ["flavorRef", "key_name", "name", "adminPass"])
def test_lone_surrogate_in_server_field_is_400_naming_it(compute, image_id, field):
    server = {"name": "s", "imageRef": image_id, "flavorRef": "1", field: "PLACEHOLDER"}
    body = json.dumps({"server": server}).replace('"PLACEHOLDER"', '"a\\ud800"').encode()
    servers = _server_ids(compute)
    message = compute_fault(*compute("POST", "/servers", body))
    assert f"server/{field}" in message and "surrogate" in message
    assert _server_ids(compute) == servers


def test_lone_surrogate_in_provider_name_is_400_naming_it(placement):
    providers = _providers(placement)
    detail = placement_error(*placement("POST", "/resource_providers",
                                        b'{"name": "rp-\\udfff"}'))
    assert "(at name)" in detail and "surrogate" in detail
    assert _providers(placement) == providers


@pytest.mark.parametrize("flat", [True, False])
def test_placement_limit_beyond_any_count_is_no_limit(placement, compute_cloud, flat):
    query = "resources=VCPU:1" if flat else "resources1=VCPU:1&resources2=MEMORY_MB:1" \
        "&group_policy=none"
    status, unlimited = placement("GET", f"/allocation_candidates?{query}")
    assert status == 200 and unlimited["allocation_requests"]
    status, body = placement("GET", f"/allocation_candidates?{query}"
                                    "&limit=99999999999999999999")
    assert status == 200, body
    assert len(body["allocation_requests"]) == len(unlimited["allocation_requests"])


@pytest.mark.parametrize("ratio", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_placement_inventory_allocation_ratio_not_finite_is_400(placement, ratio):
    status, rp = placement("POST", "/resource_providers", {"name": f"hostile-{ratio}"})
    assert status == 200, rp
    try:
        before = placement("GET", f"/resource_providers/{rp['uuid']}/inventories")
        body = ('{"resource_provider_generation": 0, "inventories": {"VCPU": '
                '{"total": 8, "allocation_ratio": %s}}}' % ratio).encode()
        detail = placement_error(*placement(
            "PUT", f"/resource_providers/{rp['uuid']}/inventories", body))
        assert "allocation_ratio" in detail
        assert placement("GET", f"/resource_providers/{rp['uuid']}/inventories") == before
    finally:
        placement("DELETE", f"/resource_providers/{rp['uuid']}")


def test_placement_bug_answers_in_placement_format(compute_cloud, monkeypatch):
    """A bug escaping the placement app is a 500 in placement's format."""
    from compute_core.placement import app

    def broken(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.PlacementApp, "_dispatch", staticmethod(broken))
    status, body = send(compute_cloud.placement_url, "GET", "/traits", headers=PLACEMENT)
    assert status == 500 and set(body) == {"errors"}, body


# ----------------------------------------------------------- flavors


_FLAVOR = {"name": "hostile", "ram": 512, "vcpus": 1, "disk": 1}


@pytest.mark.parametrize("raw, field", [
    ('"rxtx_factor": "abc"', "rxtx_factor"),
    ('"rxtx_factor": NaN', "rxtx_factor"),
    ('"rxtx_factor": Infinity', "rxtx_factor"),
    ('"rxtx_factor": -Infinity', "rxtx_factor"),
    ('"rxtx_factor": 1e400', "rxtx_factor"),
    ('"rxtx_factor": 0', "rxtx_factor"),
    ('"rxtx_factor": "' + "9" * 50 + '"', "rxtx_factor"),
    ('"ram": 9223372036854775808', "ram"),
    ('"ram": 1e308', "ram"),
    ('"ram": "' + "9" * 30 + '"', "ram"),
    ('"vcpus": 9223372036854775807', "vcpus"),
    ('"vcpus": "0"', "vcpus"),
    ('"vcpus": 0', "vcpus"),
    ('"swap": 18446744073709551616', "swap"),
    ('"swap": ""', "swap"),
    ('"disk": 1e308', "disk"),
    ('"OS-FLV-EXT-DATA:ephemeral": "-1"', "OS-FLV-EXT-DATA:ephemeral"),
])
def test_bad_flavor_is_400_naming_the_field(compute, raw, field):
    flavors = _flavor_ids(compute)
    fields = {k: v for k, v in _FLAVOR.items() if not raw.startswith(f'"{k}"')}
    body = json.dumps({"flavor": fields})[:-2] + ", " + raw + "}}"
    message = compute_fault(*compute("POST", "/flavors", body.encode()))
    assert field in message
    assert _flavor_ids(compute) == flavors


@pytest.mark.parametrize("query", ["minRam=99999999999999999999", "minDisk=2147483648",
                                   "minRam=-99999999999999999999&minDisk=-1"])
def test_flavor_size_filters_beyond_the_columns_answer(compute, query):
    """As far as the columns go: nothing is that large, everything larger."""
    status, body = compute("GET", f"/flavors?{query}")
    assert status == 200, body
    expected = []
    if query.startswith("minRam=-"):
        expected = sorted(f["id"] for f in compute("GET", "/flavors")[1]["flavors"])
    assert sorted(f["id"] for f in body["flavors"]) == expected


def test_flavor_sizes_in_range_are_taken(compute):
    status, body = compute("POST", "/flavors", {"flavor": {
        "name": "roomy", "ram": "2147483647", "vcpus": 2147483647, "disk": "0",
        "swap": 0, "rxtx_factor": "1.5"}})
    assert status == 200, body
    flavor = body["flavor"]
    try:
        assert (flavor["ram"], flavor["vcpus"], flavor["rxtx_factor"]) == \
            (2147483647, 2147483647, 1.5)
        compute("GET", "/flavors/detail")  # strict JSON, checked by send()
    finally:
        compute("DELETE", f"/flavors/{flavor['id']}")


def test_compute_responses_never_hold_nan(compute, compute_cloud):
    """A flavor stored with Infinity before it was refused still lists as JSON."""
    from compute_core.db import api_db

    flavor = api_db.create_flavor(compute_cloud._api.api_db, name="legacy-inf",
                                  memory_mb=64, vcpus=1, root_gb=0,
                                  rxtx_factor=float("inf"))
    try:
        status, body = compute("GET", "/flavors/detail")
        assert status == 200
        (legacy,) = [f for f in body["flavors"] if f["name"] == "legacy-inf"]
        assert legacy["rxtx_factor"] == 1.0
    finally:
        api_request(compute_cloud, "DELETE", f"/flavors/{flavor['flavorid']}")


# ----------------------------------- server create fields and counts


@pytest.mark.parametrize("server, field", [
    ({"security_groups": [{}]}, "security_groups/0"),
    ({"security_groups": [{"name": "g" * 256}]}, "security_groups/0/name"),
    ({"min_count": "0"}, "min_count"),
    ({"min_count": ""}, "min_count"),
    ({"max_count": "0"}, "max_count"),
    ({"max_count": 0}, "max_count"),
    # (a body above [oslo_middleware] max_request_body_size is a 413 before
    # it is read: the field limits are checked below that size)
    ({"adminPass": "p" * 1000}, "adminPass"),
    ({"flavorRef": "1" * 300}, "flavorRef"),
    ({"key_name": "k" * 256}, "key_name"),
])
def test_bad_server_create_field_is_400_naming_it(compute, image_id, server, field):
    servers = _server_ids(compute)
    body = {"server": {"name": "s", "imageRef": image_id, "flavorRef": "1", **server}}
    message = compute_fault(*compute("POST", "/servers", body))
    assert f"field/attribute {field}" in message or \
        f"field/attribute server/{field}" in message, message
    assert _server_ids(compute) == servers


def test_huge_scheduler_hints_are_400(compute, image_id):
    servers = _server_ids(compute)
    for key in ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"):
        body = {"server": {"name": "s", "imageRef": image_id, "flavorRef": "1"},
                key: {"my_hint": "h" * 80_000}}  # > 64 KiB, < the body limit
        assert f"field/attribute {key}" in compute_fault(*compute("POST", "/servers", body))
    assert _server_ids(compute) == servers


def _count_servers(cloud):
    return len(api_request(cloud, "GET", "/servers").json()["servers"])


def test_max_count_is_cut_to_the_quota_at_once(fresh_compute_cloud):
    """max_count 2^31-1 with room for 3: three servers, at once (the quota
    is counted once, not once per server refused)."""
    from compute_core.testing import first_image_id

    cloud = fresh_compute_cloud
    cloud.conf.set_override("instances", 3, group="quota")
    image = first_image_id(cloud)
    resp = api_request(cloud, "POST", "/servers", body={"server": {
        "name": "many", "imageRef": image, "flavorRef": "1", "max_count": 2147483647,
        "return_reservation_id": True}})
    assert resp.status_code == 202, resp.text
    assert _count_servers(cloud) == 3
    resp = api_request(cloud, "POST", "/servers", body={"server": {
        "name": "more", "imageRef": image, "flavorRef": "1", "min_count": "1",
        "max_count": "2147483647"}})
    # Nova's wording: every resource max_count would exceed, in name order
    assert compute_fault(resp.status_code, resp.json(), 403) == (
        "Quota exceeded for cores, instances, ram: Requested 2147483647, 1-2147483647, "
        "1099511627264, but already used 3, 3, 1536 of 20, 3, 51200 cores, instances, ram")
    assert _count_servers(cloud) == 3


def test_max_instances_per_request_bounds_unlimited_quota(fresh_compute_cloud):
    from compute_core.testing import first_image_id

    cloud = fresh_compute_cloud
    for name in ("instances", "cores", "ram"):
        cloud.conf.set_override(name, -1, group="quota")
    cloud.conf.set_override("max_instances_per_request", 2, group="api")
    image = first_image_id(cloud)
    resp = api_request(cloud, "POST", "/servers", body={"server": {
        "name": "bounded", "imageRef": image, "flavorRef": "1", "max_count": 2147483647}})
    assert resp.status_code == 202, resp.text
    assert _count_servers(cloud) == 2
    resp = api_request(cloud, "POST", "/servers", body={"server": {
        "name": "bounded", "imageRef": image, "flavorRef": "1", "min_count": 3}})
    message = compute_fault(resp.status_code, resp.json())
    assert "min_count" in message and "max_instances_per_request" in message
    assert _count_servers(cloud) == 2


# ------------------------------------------- placement query amounts


@pytest.mark.parametrize("path", [
    "/allocation_candidates?resources=VCPU:99999999999999999999",
    "/allocation_candidates?resources1=VCPU:99999999999999999999&group_policy=none",
    "/resource_providers?resources=VCPU:99999999999999999999"])
def test_placement_resource_amount_too_large_is_400(placement, path):
    detail = placement_error(*placement("GET", path))
    assert "resources" in detail and "2147483647" in detail


# ---------------------------------------- regular-expression filters


@pytest.mark.timeout(60)
def test_name_filter_cannot_backtrack(compute, compute_cloud, image_id):
    """(a+)+$ against 30 a's and a '!' backtracks 2^30 ways in a
    backtracking engine; RE2 answers at once, for build requests and for
    instances in a cell alike."""
    from compute_core.testing import wait_for_server

    name = "a" * 30 + "!"
    status, body = compute("POST", "/servers", {"server": {
        "name": name, "imageRef": image_id, "flavorRef": "1"}})
    assert status == 202, body
    sid = body["server"]["id"]
    try:
        for _ in range(2):  # as a build request, then in its cell
            for path in ("/servers?name=(a%2B)%2B$", "/servers/detail?name=(a%2B)%2B$",
                         "/servers?ip=(1%2B)%2B$"):
                status, body = compute("GET", path)
                assert status == 200 and body["servers"] == [], body
            status, body = compute("GET", "/servers?name=^a%2B!$")
            assert [s["id"] for s in body["servers"]] == [sid]
            wait_for_server(compute_cloud, sid)
    finally:
        compute("DELETE", f"/servers/{sid}")


@pytest.mark.parametrize("key", ["name", "ip"])
def test_invalid_regex_filter_is_400(compute, key):
    message = compute_fault(*compute("GET", f"/servers?{key}=(a)%5C1"))
    assert f"query parameters {key}" in message and "regular expression" in message


# ---------------------------------------- times at the edges of datetime

# ISO 8601 times whose UTC falls past year 9999 or before year 1: valid
# text, but no time Python (or a database column) holds
_OVERFLOWING = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00%2B01:00"]


_TIME_FILTERS = [
    ("/servers?changes-since={}", "changes-since", "2.1"),
    ("/servers/detail?changes-before={}", "changes-before", "2.66"),
    ("/servers?changes-before={}", "changes-before", "latest"),
    ("/os-migrations?changes-since={}", "changes-since", "2.59"),
    ("/os-migrations?changes-before={}", "changes-before", "2.66"),
    ("/{server}/os-instance-actions?changes-since={}", "changes-since", "2.58"),
    ("/{server}/os-instance-actions?changes-before={}", "changes-before", "2.66"),
    ("/images?changes-since={}", "changes-since", "2.1"),
]


def _get_time_filter(compute, image_id, path, when, version):
    """(status, body) of GET *path* with the time *when*, on a server of
    its own when the path names one."""
    server = None
    if "{server}" in path:
        status, body = compute("POST", "/servers", {"server": {
            "name": "edge-of-time", "imageRef": image_id, "flavorRef": "1"}})
        assert status == 202, body
        server = body["server"]["id"]
        path = path.replace("{server}", f"servers/{server}")
    try:
        return compute("GET", path.format(when), headers={
            "OpenStack-API-Version": f"compute {version}"})
    finally:
        if server:
            compute("DELETE", f"/servers/{server}")


@pytest.mark.parametrize("when", _OVERFLOWING)
@pytest.mark.parametrize("path,name,version", _TIME_FILTERS)
def test_time_filter_out_of_range_is_400_naming_it(compute, image_id, when, path, name,
                                                   version):
    message = compute_fault(*_get_time_filter(compute, image_id, path, when, version))
    assert name in message, message


# ISO 8601 forms that Python's fromisoformat reads but Nova's date-time
# (the iso8601 library) does not: week and ordinal dates, lower-case "t"
_NOT_NOVA_TIMES = ["2026-W05-3", "2026-W05", "2026-035", "2026035",
                   "2026-02-04t10:00:00Z"]


@pytest.mark.parametrize("when", _NOT_NOVA_TIMES)
@pytest.mark.parametrize("path,name,version", _TIME_FILTERS[:-1])
def test_time_filter_takes_only_novas_forms(compute, image_id, when, path, name, version):
    message = compute_fault(*_get_time_filter(compute, image_id, path, when, version))
    assert message == (f"Invalid input for query parameters {name}. Value: {when}. "
                       f"'{when}' is not a 'date-time'"), message


# ... and forms Nova takes that fromisoformat does not: a year, a month,
# one-digit month and day, a trailing newline (iso8601's regular expression)
@pytest.mark.parametrize("when", ["2026", "2026-02", "2026-2-4", "2026-02-04%0A",
                                  "2026-02-04T10%2B05", "20260204T1000Z"])
@pytest.mark.parametrize("path,name,version", _TIME_FILTERS)
def test_time_filter_takes_novas_forms(compute, image_id, when, path, name, version):
    status, body = _get_time_filter(compute, image_id, path, when, version)
    assert status == 200, body


@pytest.mark.parametrize("path,name,version", _TIME_FILTERS[:-1])
def test_time_filter_refuses_each_bad_value(compute, image_id, path, name, version):
    """Every value of a repeated time is checked, as Nova's schemas do."""
    when = "2026-W05-3&" + path.split("?")[1].format("2026-02-04")
    message = compute_fault(*_get_time_filter(compute, image_id, path, when, version))
    assert name in message, message


@pytest.mark.parametrize("when", ["2026-W05-3T10:00:00", "2026-02-04", "2026-02-04T10:00",
                                  "2026-02-04T10:00:00Z"])
def test_tenant_usage_times_are_novas_three_forms(compute, when):
    """os-simple-tenant-usage reads start and end with Nova's strptime forms
    only (no zone, no week date), naming the one it refuses."""
    message = compute_fault(*compute(
        "GET", f"/os-simple-tenant-usage?start={when}&end=2026-02-05T00:00:00"))
    assert message.startswith("Invalid datetime string: Datetime is in invalid format")
    assert "start" in message, message
    for good in ("2026-02-04T10:00:00", "2026-02-04T10:00:00.5", "2026-02-04%2010:00:00.5"):
        status, body = compute("GET", f"/os-simple-tenant-usage?start={good}")
        assert status == 200, body


@pytest.mark.parametrize("before", ["2026-02-04T10:00:00", "2026-W05-3%2010:00:00",
                                    "2026-02-04", "2026-02-04%2010:00:00Z"])
def test_audit_log_before_is_novas_form(compute, before):
    """Nova's two forms only: date, a space, time (fractional seconds
    when there is a dot)."""
    message = compute_fault(*compute("GET", f"/os-instance_usage_audit_log/{before}"))
    assert message.startswith("Invalid timestamp for date"), message
    for good in ("2026-02-04%2010:00:00", "2026-02-04%2010:00:00.25"):
        status, body = compute("GET", f"/os-instance_usage_audit_log/{good}")
        assert status == 200, body


@pytest.mark.parametrize("before", ["0001-01-01%2000:00:00", "0001-01-31%2023:59:59.5"])
def test_audit_log_before_the_first_period_is_400(compute, before):
    """No audit period (a month by default) completes before early year 1."""
    message = compute_fault(*compute("GET", f"/os-instance_usage_audit_log/{before}"))
    assert "Invalid timestamp for date" in message, message
    # a time from which one period back fits is answered
    status, body = compute("GET", "/os-instance_usage_audit_log/0001-03-01%2000:00:00")
    assert status == 200, body
    assert body["instance_usage_audit_log"]["period_ending"] == "0001-02-01 00:00:00"
