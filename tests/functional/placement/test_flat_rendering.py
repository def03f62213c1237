"""The flat path of GET /allocation_candidates renders its JSON itself: at
every microversion boundary it must say exactly what the general path
(dicts, trimmed by the handler) says for the same providers."""
from __future__ import annotations

import json
import uuid

import pytest
import webob

from compute_core.placement import query as placement_query
from compute_core.placement.handlers.allocation_candidate import candidates_at_version
from compute_core.placement.objects import allocation_candidate, candidates_flat
from compute_core.placement.objects.candidates_general import GeneralPath
from tests.functional.placement.fixtures import standalone_placement

ADMIN = {"X-Auth-Token": "admin:admin", "Content-Type": "application/json",
         "Accept": "application/json"}
VERSIONS = ["1.10", "1.11", "1.12", "1.16", "1.17", "1.26", "1.27", "1.28", "1.29",
            "1.33", "1.34", "1.36", "1.39"]


@pytest.fixture(scope="module")
def placement(tmp_path_factory):
    services, app = standalone_placement(tmp_path_factory.mktemp("flat"))

    def call(method, path, body=None, version="1.39"):
        req = webob.Request.blank(path, method=method, headers=dict(
            ADMIN, **{"OpenStack-API-Version": f"placement {version}"}))
        if body is not None:
            req.body = json.dumps(body).encode()
        return req.get_response(app)

    assert call("PUT", "/traits/CUSTOM_FAST").status_int in (201, 204)
    rps = []
    for i in range(4):
        rp = str(uuid.uuid4())
        assert call("POST", "/resource_providers",
                    {"name": f"cn{i}", "uuid": rp}).status_int in (200, 201)
        inventories = {"VCPU": {"total": 8, "allocation_ratio": 4.0},
                       "MEMORY_MB": {"total": 4096, "reserved": 512},
                       "DISK_GB": {"total": 100}}
        if i == 1:
            inventories["CUSTOM_GPU"] = {"total": 2}
            assert call("PUT", "/resource_classes/CUSTOM_GPU").status_int in (201, 204)
        assert call("PUT", f"/resource_providers/{rp}/inventories", {
            "resource_provider_generation": 0, "inventories": inventories}).status_int == 200
        traits = [["HW_CPU_X86_AVX2", "CUSTOM_FAST"], ["STORAGE_DISK_SSD"], [], []][i]
        if traits:
            assert call("PUT", f"/resource_providers/{rp}/traits", {
                "resource_provider_generation": 1, "traits": traits}).status_int == 200
        rps.append(rp)
    assert call("PUT", f"/allocations/{uuid.uuid4()}", {
        "allocations": {rps[2]: {"resources": {"VCPU": 3, "MEMORY_MB": 1024}}},
        "project_id": "p", "user_id": "u", "consumer_generation": None,
        "consumer_type": "INSTANCE"}).status_int == 204
    yield call, services
    services.close()


def _general(services, query, version):
    """The same request through the general path and the handler's trimming."""
    major, minor = (int(x) for x in version.split("."))
    req = webob.Request.blank("/allocation_candidates?" + query)
    state = services.placement
    groups, wide = placement_query.candidate_request(req, (major, minor), state)
    with state.db.connect() as conn:
        result = GeneralPath(conn, groups, wide, state.rc_cache).run()
    return candidates_at_version(
        result, (major, minor), set().union(*(g.resources for g in groups)))


# Each query with the first microversion that accepts it.
QUERIES = [("resources=VCPU:1,MEMORY_MB:256", (1, 10)),
           ("resources=DISK_GB:10&required=HW_CPU_X86_AVX2", (1, 17)),
           ("resources=VCPU:2&limit=2", (1, 16))]
CASES = [(query, version) for query, since in QUERIES for version in VERSIONS
         if tuple(int(x) for x in version.split(".")) >= since]


@pytest.mark.parametrize(("query", "version"), CASES)
def test_flat_body_matches_general_path(placement, version, query):
    call, services = placement
    resp = call("GET", "/allocation_candidates?" + query, version=version)
    assert resp.status_int == 200, resp.text
    flat = resp.json
    assert flat["allocation_requests"], "expected candidates"
    assert flat == _general(services, query, version)
    # Every candidate is shown with its summary, traits sorted.
    for summary in flat["provider_summaries"].values():
        if "traits" in summary:
            assert summary["traits"] == sorted(summary["traits"])


def test_flat_path_is_the_one_taken(placement):
    call, services = placement
    req = webob.Request.blank("/allocation_candidates?resources=VCPU:1")
    state = services.placement
    groups, wide = placement_query.candidate_request(req, (1, 39), state)
    result = allocation_candidate.find(state.db, groups, wide, state.rc_cache)
    assert isinstance(result, candidates_flat.FlatCandidates)
    doc = result.as_dict()
    gpu = [s for s in doc["provider_summaries"].values() if "CUSTOM_GPU" in s["resources"]]
    assert gpu and gpu[0]["resources"]["CUSTOM_GPU"] == {"capacity": 2, "used": 0}
    fast = [s for s in doc["provider_summaries"].values() if "CUSTOM_FAST" in s["traits"]]
    assert fast and fast[0]["traits"] == ["CUSTOM_FAST", "HW_CPU_X86_AVX2"]


def test_traits_fall_back_when_the_database_cuts_the_aggregate_short():
    class Conn:
        def execute(self, statement, params):
            if statement is candidates_flat._FLAT_TRAIT_MEMBERS:
                # As MariaDB answers past group_concat_max_len: 3 members, 2 ids.
                return [("CUSTOM_A", 3, "1,2"), ("CUSTOM_B", 1, "2")]
            assert statement is candidates_flat._FLAT_TRAITS
            return [(1, "CUSTOM_A"), (2, "CUSTOM_A"), (3, "CUSTOM_A"), (2, "CUSTOM_B")]

    assert candidates_flat._flat_traits(Conn(), 1, 3) == {
        1: ["CUSTOM_A"], 2: ["CUSTOM_A", "CUSTOM_B"], 3: ["CUSTOM_A"]}
