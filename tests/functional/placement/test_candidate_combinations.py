"""Allocation candidates of many granular groups: the combination of the
groups' candidates is searched with pruning (isolation, capacity) and
stops at the limit, so its cost does not multiply with each group
(issue 22: 9 groups under group_policy=isolate took 12.5 s, x6 per group,
even with limit=1)."""
import itertools
import json
import shutil
import tempfile
import uuid

import pytest
import webob

from tests.functional.placement.fixtures import standalone_placement



@pytest.fixture(scope="module")
def placement():
    """call(method, path, body=None) -> (status, JSON) on a fresh placement
    app (the full paste pipeline) and database."""
    tmp = tempfile.mkdtemp(prefix="placement-combinations-")
    services, app = standalone_placement(tmp)

    def call(method, path, body=None):
        req = webob.Request.blank(path, method=method, headers={
            "X-Auth-Token": "admin", "OpenStack-API-Version": "placement latest"})
        if body is not None:
            req.content_type = "application/json"
            req.body = json.dumps(body).encode()
        resp = req.get_response(app)
        return resp.status_int, (json.loads(resp.body) if resp.body else None)

    yield call
    services.close()
    shutil.rmtree(tmp, ignore_errors=True)


def _tree(call, children, vcpus=64):
    """A root and *children* child providers, each with VCPU; returns their
    uuids, root first."""
    root = str(uuid.uuid4())
    uuids = [root] + [str(uuid.uuid4()) for _ in range(children)]
    for i, rp in enumerate(uuids):
        body = {"name": f"rp-{rp}", "uuid": rp}
        if i:
            body["parent_provider_uuid"] = root
        assert call("POST", "/resource_providers", body)[0] == 200
        status, body = call("PUT", f"/resource_providers/{rp}/inventories", {
            "resource_provider_generation": 0, "inventories": {"VCPU": {"total": vcpus}}})
        assert status == 200, body
    return uuids


def _groups(n, amount=1, policy="isolate", limit=None):
    query = "&".join(f"resources{i}=VCPU:{amount}" for i in range(1, n + 1))
    query += f"&group_policy={policy}"
    return "/allocation_candidates?" + query + (f"&limit={limit}" if limit else "")


@pytest.fixture(scope="module")
def six(placement):
    """One tree of six providers with VCPU."""
    return _tree(placement, 5)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("limit", [None, 1])
def test_isolate_with_more_groups_than_providers_is_empty_at_once(placement, six, limit):
    # 12 groups over 6 providers: 6^12 (2 billion) combinations to try
    # one after the other; none keeps the groups apart.
    status, body = placement("GET", _groups(12, limit=limit))
    assert status == 200 and body["allocation_requests"] == []


@pytest.mark.timeout(60)
def test_isolate_with_limit_stops_at_the_first(placement, six):
    status, body = placement("GET", _groups(6, limit=1))
    assert status == 200
    (request,) = body["allocation_requests"]
    assert sorted(p for ps in request["mappings"].values() for p in ps) == sorted(six)


def test_isolate_finds_every_way_in_order(placement, six):
    """3 groups over 6 providers, isolated: the 6*5*4 ways, in the order
    of the groups' candidates (the first group's first provider first)."""
    status, body = placement("GET", _groups(3))
    assert status == 200
    got = [tuple(r["mappings"][str(i)][0] for i in (1, 2, 3))
           for r in body["allocation_requests"]]
    assert len(got) == 120 and len(set(got)) == 120
    assert all(len(set(way)) == 3 for way in got)
    assert got == sorted(got, key=lambda way: [six.index(p) for p in way])


@pytest.mark.timeout(60)
def test_capacity_shared_by_groups_is_respected(placement):
    """policy none: 4 groups of 2 VCPU on providers of 4 VCPU; each provider
    takes at most two groups."""
    small = _tree(placement, 1, vcpus=4)
    status, body = placement("GET", _groups(4, amount=2, policy="none") +
                             f"&in_tree1={small[0]}&in_tree2={small[0]}"
                             f"&in_tree3={small[0]}&in_tree4={small[0]}")
    assert status == 200
    for request in body["allocation_requests"]:
        per_provider = {}
        for sfx in "1234":
            (rp,) = request["mappings"][sfx]
            per_provider[rp] = per_provider.get(rp, 0) + 2
        assert max(per_provider.values()) <= 4
    ways = {tuple(r["mappings"][s][0] for s in "1234") for r in body["allocation_requests"]}
    expected = {w for w in itertools.product(small, repeat=4)
                if all(w.count(p) <= 2 for p in small)}
    assert ways == expected
