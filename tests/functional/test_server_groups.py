"""/os-server-groups through the HTTP API, and boots into groups: every
instance of a multi-create obeys the group's policy."""
import pytest

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas


@pytest.fixture(scope="module")
def cloud():
    overrides = {"quota.instances": -1, "quota.cores": -1, "quota.ram": -1,
                 "filter_scheduler.host_subset_size": 1}
    with Cloud(hosts=3, overrides=overrides) as cloud:
        yield cloud


def call(cloud, method, path, **kw):
    return api_request(cloud, method, path, **kw)


def _group(cloud, policy, version="2.64", rules=None, token=None):
    body = {"name": f"g-{policy}", "policy": policy}
    if rules:
        body["rules"] = rules
    if version != "2.64":
        body = {"name": f"g-{policy}", "policies": [policy]}
    resp = call(cloud, "POST", "/os-server-groups", body={"server_group": body},
                version=version, token=token)
    assert resp.status_code == 200, resp.text
    return resp.json()["server_group"]


def _boot(cloud, group_id, count, version="2.1"):
    body = {"server": {"name": "member", "imageRef": first_image_id(cloud), "flavorRef": "1",
                       "min_count": count, "return_reservation_id": True},
            "os:scheduler_hints": {"group": group_id}}
    resp = call(cloud, "POST", "/servers", body=body, version=version)
    assert resp.status_code == 202, resp.text
    rid = resp.json()["reservation_id"]
    listed = call(cloud, "GET", f"/servers?reservation_id={rid}").json()["servers"]
    return [wait_for_server(cloud, s["id"]) for s in listed]


@pytest.mark.parametrize("version,policy", [("2.1", "anti-affinity"), ("2.13", "affinity"),
                                            ("2.15", "soft-affinity"),
                                            ("2.64", "soft-anti-affinity")])
def test_lifecycle_against_tempest_schemas(cloud, version, policy):
    group = tempest_schemas.check(
        call(cloud, "POST", "/os-server-groups", version=version, body={"server_group": (
            {"name": "life", "policy": policy} if version == "2.64"
            else {"name": "life", "policies": [policy]})}),
        "server_groups", "create_show_server_group", version)["server_group"]
    assert ("policy" in group) == (version == "2.64")
    assert ("project_id" in group) == (version != "2.1")
    tempest_schemas.check(call(cloud, "GET", f"/os-server-groups/{group['id']}",
                               version=version), "server_groups", "create_show_server_group",
                          version)
    listed = tempest_schemas.check(call(cloud, "GET", "/os-server-groups", version=version),
                                   "server_groups", "list_server_groups", version)
    assert group["id"] in [g["id"] for g in listed["server_groups"]]
    tempest_schemas.check(call(cloud, "DELETE", f"/os-server-groups/{group['id']}",
                               version=version), "server_groups", "delete_server_group", version)
    assert call(cloud, "GET", f"/os-server-groups/{group['id']}").status_code == 404


def test_refusals(cloud):
    cases = [
        ("2.1", {"name": "x", "policies": ["soft-affinity"]}),  # soft from 2.15
        ("2.15", {"name": "x", "policies": ["affinity", "anti-affinity"]}),
        ("2.15", {"name": "x", "policy": "affinity"}),
        ("2.64", {"name": "x", "policies": ["affinity"]}),
        ("2.64", {"name": "x", "policy": "affinity", "rules": {"max_server_per_host": 2}}),
        ("2.64", {"name": "x", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}}),
        ("2.64", {"name": "x", "policy": "anti-affinity", "rules": {"other": 1}}),
        ("2.64", {"policy": "affinity"}),
    ]
    for version, body in cases:
        resp = call(cloud, "POST", "/os-server-groups", body={"server_group": body},
                    version=version)
        assert resp.status_code == 400, (version, body, resp.text)
    group = _group(cloud, "affinity")
    # another project sees nothing of it
    assert call(cloud, "GET", f"/os-server-groups/{group['id']}",
                token="u:other").status_code == 404
    assert call(cloud, "DELETE", f"/os-server-groups/{group['id']}",
                token="u:other").status_code == 404
    assert group["id"] not in [g["id"] for g in call(
        cloud, "GET", "/os-server-groups", token="u:other").json()["server_groups"]]
    everyone = call(cloud, "GET", "/os-server-groups?all_projects=True").json()
    assert group["id"] in [g["id"] for g in everyone["server_groups"]]
    # a boot naming a group that is not a uuid, or not one of ours
    body = {"server": {"name": "x", "imageRef": first_image_id(cloud), "flavorRef": "1"},
            "os:scheduler_hints": {"group": "not-a-uuid"}}
    assert call(cloud, "POST", "/servers", body=body).status_code == 400
    body["os:scheduler_hints"]["group"] = group["id"]
    assert call(cloud, "POST", "/servers", body=body, token="u:other").status_code == 400
    assert call(cloud, "GET", "/os-server-groups?limit=x").status_code == 400
    assert call(cloud, "GET", "/os-server-groups?bogus=1", version="2.75").status_code == 400


def test_affinity_and_anti_affinity_for_every_instance(cloud):
    together = _group(cloud, "affinity")
    servers = _boot(cloud, together["id"], 3)
    assert [s["status"] for s in servers] == ["ACTIVE"] * 3
    assert len({s["OS-EXT-SRV-ATTR:host"] for s in servers}) == 1
    # a later boot into the group joins its host
    later = _boot(cloud, together["id"], 1)
    assert later[0]["OS-EXT-SRV-ATTR:host"] == servers[0]["OS-EXT-SRV-ATTR:host"]
    members = call(cloud, "GET", f"/os-server-groups/{together['id']}").json()
    assert set(members["server_group"]["members"]) == {s["id"] for s in servers + later}
    # from 2.71 a server shows its group
    shown = call(cloud, "GET", f"/servers/{later[0]['id']}", version="2.71").json()["server"]
    assert shown["server_groups"] == [together["id"]]
    apart = _group(cloud, "anti-affinity")
    servers = _boot(cloud, apart["id"], 3)
    assert len({s["OS-EXT-SRV-ATTR:host"] for s in servers}) == 3
    # a fourth has no host left
    assert _boot(cloud, apart["id"], 1)[0]["status"] == "ERROR"
    two_per_host = _group(cloud, "anti-affinity", rules={"max_server_per_host": 2})
    servers = _boot(cloud, two_per_host["id"], 6)
    hosts = [s["OS-EXT-SRV-ATTR:host"] for s in servers]
    assert sorted(hosts.count(h) for h in set(hosts)) == [2, 2, 2]
    # deleting a member takes it out of the group
    call(cloud, "DELETE", f"/servers/{servers[0]['id']}")
    members = call(cloud, "GET", f"/os-server-groups/{two_per_host['id']}").json()
    assert servers[0]["id"] not in members["server_group"]["members"]


def test_group_quotas(cloud):
    cloud.conf.set_override("server_groups", 1, group="quota")
    cloud.conf.set_override("server_group_members", 2, group="quota")
    try:
        group = _group(cloud, "soft-affinity", token="q:quota-project")
        resp = call(cloud, "POST", "/os-server-groups", token="q:quota-project",
                    body={"server_group": {"name": "n", "policy": "affinity"}}, version="2.64")
        assert resp.status_code == 403 and "too many server groups" in resp.text
        body = {"server": {"name": "x", "imageRef": first_image_id(cloud), "flavorRef": "1",
                           "min_count": 3},
                "os:scheduler_hints": {"group": group["id"]}}
        resp = call(cloud, "POST", "/servers", body=body, token="q:quota-project")
        assert resp.status_code == 403 and "too many servers in group" in resp.text
        members = call(cloud, "GET", f"/os-server-groups/{group['id']}",
                       token="q:quota-project").json()["server_group"]["members"]
        assert members == []
    finally:
        cloud.conf.clear_override("server_groups", group="quota")
        cloud.conf.clear_override("server_group_members", group="quota")


def test_limits_count_the_groups(cloud):
    before = call(cloud, "GET", "/limits", token="lim:lim-project").json()["limits"]["absolute"]
    _group(cloud, "affinity", token="lim:lim-project")
    after = call(cloud, "GET", "/limits", token="lim:lim-project").json()["limits"]["absolute"]
    assert after["totalServerGroupsUsed"] == before["totalServerGroupsUsed"] + 1 == 1


def test_an_offset_past_every_group_finds_none(cloud):
    # found by a deeper schemathesis run: an offset past any database integer
    resp = call(cloud, "GET", "/os-server-groups?offset=9191491883581230397477748720229416960")
    assert resp.status_code == 200 and resp.json() == {"server_groups": []}
