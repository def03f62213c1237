"""A consumer that openstack-placement makes and keeps without allocations
(at generation 0): when a write names a provider that does not exist (it
made the request's new consumers before it found out), and when a new
consumer is "emptied". Later writes must give that generation."""
from __future__ import annotations

import json
import uuid

import pytest
import webob

from tests.functional.placement.fixtures import standalone_placement

ADMIN = {"X-Auth-Token": "admin:admin", "Content-Type": "application/json",
         "Accept": "application/json"}


@pytest.fixture()
def call(tmp_path):
    services, app = standalone_placement(tmp_path)

    def send(method, path, body=None, version="1.39"):
        req = webob.Request.blank(path, method=method, headers=dict(
            ADMIN, **{"OpenStack-API-Version": f"placement {version}"}))
        if body is not None:
            req.body = json.dumps(body).encode()
        return req.get_response(app)

    rp = str(uuid.uuid4())
    assert send("POST", "/resource_providers", {"name": "cn", "uuid": rp}).status_int == 200
    assert send("PUT", f"/resource_providers/{rp}/inventories", {
        "resource_provider_generation": 0,
        "inventories": {"VCPU": {"total": 8}}}).status_int == 200
    send.rp = rp
    yield send
    services.close()


def _claim(rp, generation, amount=1):
    return {"allocations": {rp: {"resources": {"VCPU": amount}}} if rp else {},
            "project_id": "p", "user_id": "u", "consumer_generation": generation,
            "consumer_type": "INSTANCE"}


def _detail(resp):
    return resp.json["errors"][0]["detail"]


def test_a_missing_provider_keeps_the_new_consumer_at_generation_0(call):
    consumer = str(uuid.uuid4())
    resp = call("PUT", f"/allocations/{consumer}", _claim(str(uuid.uuid4()), None))
    assert resp.status_int == 400 and "that does not exist" in _detail(resp)
    # the consumer is there, holding nothing
    assert call("GET", f"/allocations/{consumer}").json == {"allocations": {}}
    resp = call("PUT", f"/allocations/{consumer}", _claim(call.rp, None))
    assert resp.status_int == 409
    assert "consumer generation conflict - expected 0 but got None" in _detail(resp)
    assert call("PUT", f"/allocations/{consumer}", _claim(call.rp, 0)).status_int == 204
    assert call("GET", f"/allocations/{consumer}").json["consumer_generation"] == 1


def test_post_keeps_every_new_consumer_of_the_request(call):
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    resp = call("POST", "/allocations", {first: _claim(call.rp, None),
                                         second: _claim(str(uuid.uuid4()), None)})
    assert resp.status_int == 400
    for consumer in (first, second):
        resp = call("PUT", f"/allocations/{consumer}", _claim(call.rp, None))
        assert resp.status_int == 409, consumer
    # nothing was allocated by the failed request
    usages = call("GET", f"/resource_providers/{call.rp}/usages").json["usages"]
    assert usages == {"VCPU": 0}


def test_emptying_a_new_consumer_makes_it(call):
    consumer = str(uuid.uuid4())
    assert call("PUT", f"/allocations/{consumer}", _claim(None, None)).status_int == 204
    resp = call("PUT", f"/allocations/{consumer}", _claim(None, None))
    assert resp.status_int == 409
    assert "expected 0 but got None" in _detail(resp)
    # emptied again at its generation it stays at 0; allocated, it moves on
    assert call("PUT", f"/allocations/{consumer}", _claim(None, 0)).status_int == 204
    assert call("PUT", f"/allocations/{consumer}", _claim(call.rp, 0)).status_int == 204
    # emptied while it holds something, it goes
    assert call("PUT", f"/allocations/{consumer}", _claim(None, 1)).status_int == 204
    assert call("PUT", f"/allocations/{consumer}", _claim(call.rp, None)).status_int == 204


def test_a_failed_capacity_check_keeps_no_consumer(call):
    consumer = str(uuid.uuid4())
    resp = call("PUT", f"/allocations/{consumer}", _claim(call.rp, None, amount=9))
    assert resp.status_int == 409
    assert "would exceed the capacity" in _detail(resp)
    assert call("PUT", f"/allocations/{consumer}", _claim(call.rp, None)).status_int == 204


def test_usages_count_only_consumers_holding_something(call):
    kept = str(uuid.uuid4())
    call("PUT", f"/allocations/{kept}", _claim(str(uuid.uuid4()), None))
    assert call("PUT", f"/allocations/{uuid.uuid4()}", _claim(call.rp, None)).status_int == 204
    usages = call("GET", "/usages?project_id=p").json["usages"]
    assert usages == {"INSTANCE": {"VCPU": 1, "consumer_count": 1}}
