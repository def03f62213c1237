"""A soft-deleted server keeps its server group membership, as in Nova,
and a restored one is a member (issue 19): it counts in
server_group_members meanwhile; forceDelete and the host's reclaim take it
out of the group. Checked through GET /os-server-groups/{id}."""
import pytest

from compute_core import Cloud
from compute_core.db import server_groups as groups_db
from compute_core.testing import api_request, first_image_id, wait_for_server
from tests import tempest_schemas
from tests.functional.test_lifecycle_actions import MEMBER, act, settled


@pytest.fixture(scope="module")
def cloud():
    # an hour (of the virtual clock) before the host reclaims: only the last
    # test lets it pass
    with Cloud(hosts=2, clock="virtual",
               overrides={"reclaim_instance_interval": 3600,
                          "quota.server_group_members": 2}) as c:
        yield c


def _api(cloud):
    return lambda m, p, **kw: api_request(cloud, m, p, **kw)


def _group(cloud, name):
    resp = _api(cloud)("POST", "/os-server-groups", version="2.64", token=MEMBER,
                       body={"server_group": {"name": name, "policy": "soft-affinity"}})
    assert resp.status_code == 200, resp.text
    return resp.json()["server_group"]["id"]


def _members(cloud, group_id):
    resp = _api(cloud)("GET", f"/os-server-groups/{group_id}", version="2.64", token=MEMBER)
    return tempest_schemas.check(resp, "server_groups", "create_show_server_group",
                                 "2.64")["server_group"]["members"]


def _boot(cloud, group_id, name, expect=202):
    resp = _api(cloud)("POST", "/servers", token=MEMBER, body={
        "server": {"name": name, "imageRef": first_image_id(cloud), "flavorRef": "1"},
        "os:scheduler_hints": {"group": group_id}})
    assert resp.status_code == expect, resp.text
    if expect != 202:
        return resp.json()["forbidden"]["message"]
    sid = resp.json()["server"]["id"]
    assert wait_for_server(cloud, sid)["status"] == "ACTIVE"
    return sid


def _soft_delete(cloud, sid):
    assert _api(cloud)("DELETE", f"/servers/{sid}", token=MEMBER).status_code == 204
    settled(cloud, sid, "SOFT_DELETED", token=MEMBER)


def _restore(cloud, sid):
    return act(_api(cloud), sid, {"restore": None}, token=MEMBER)


def test_a_soft_deleted_server_stays_a_member_and_is_one_when_restored(cloud):
    group = _group(cloud, "kept")
    sid = _boot(cloud, group, "soft-member")
    _soft_delete(cloud, sid)
    assert _members(cloud, group) == [sid]
    # it holds its place: the group (quota 2) takes one more, not two
    other = _boot(cloud, group, "second")
    assert _boot(cloud, group, "third", expect=403) == \
        "Quota exceeded, too many servers in group"
    assert _restore(cloud, sid).status_code == 202
    settled(cloud, sid, "ACTIVE", token=MEMBER)
    assert sorted(_members(cloud, group)) == sorted([sid, other])
    # forceDelete of a soft-deleted server takes it out
    _soft_delete(cloud, sid)
    assert act(_api(cloud), sid, {"forceDelete": None}, token=MEMBER).status_code == 202
    wait_for_server(cloud, sid, ("DELETED",))
    assert _members(cloud, group) == [other]


def test_a_server_that_lost_its_membership_rejoins_within_the_quota(cloud):
    """A server soft-deleted by a release that dropped the membership:
    restore makes it a member again, if the group has room (403, and the
    server stays soft-deleted, when it does not)."""
    group = _group(cloud, "rejoin")
    sid = _boot(cloud, group, "dropped")
    _soft_delete(cloud, sid)
    groups_db.remove_member(cloud._api.api_db, sid)  # what the old soft delete did
    first, second = _boot(cloud, group, "filler-1"), _boot(cloud, group, "filler-2")
    resp = _restore(cloud, sid)
    assert resp.status_code == 403, resp.text
    assert resp.json()["forbidden"]["message"] == "Quota exceeded, too many servers in group"
    assert settled(cloud, sid, "SOFT_DELETED", token=MEMBER)["status"] == "SOFT_DELETED"
    assert sorted(_members(cloud, group)) == sorted([first, second])
    _soft_delete(cloud, second)
    assert act(_api(cloud), second, {"forceDelete": None}, token=MEMBER).status_code == 202
    wait_for_server(cloud, second, ("DELETED",))
    assert _restore(cloud, sid).status_code == 202
    settled(cloud, sid, "ACTIVE", token=MEMBER)
    assert sorted(_members(cloud, group)) == sorted([first, sid])
    # a group deleted meanwhile: restore works, there is nothing to join
    _soft_delete(cloud, sid)
    assert _api(cloud)("DELETE", f"/os-server-groups/{group}", token=MEMBER).status_code == 204
    assert _restore(cloud, sid).status_code == 202
    settled(cloud, sid, "ACTIVE", token=MEMBER)


def test_the_hosts_reclaim_takes_it_out_of_its_group(cloud):
    group = _group(cloud, "reclaimed")
    sid = _boot(cloud, group, "reclaimed")
    _soft_delete(cloud, sid)
    assert _members(cloud, group) == [sid]
    cloud.clock.advance(2 * 3600 + 1)
    assert wait_for_server(cloud, sid, ("DELETED",), timeout=30)["status"] == "DELETED"
    assert _members(cloud, group) == []
