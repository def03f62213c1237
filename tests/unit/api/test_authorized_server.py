"""servers.authorized_server: the one lookup and policy check of a server
that its sub-resources (instance actions, server actions, interfaces) share."""
import types

import pytest

from compute_core import exception
from compute_core.api.faults import APIError
from compute_core.api.resources import servers

SERVER = {"uuid": "s1", "project_id": "p1", "user_id": "u1"}


def call(found=SERVER, allowed=True):
    asked, checked = [], []

    def get(ctxt, uuid, read_deleted=False):
        asked.append((uuid, read_deleted))
        if found is None:
            raise exception.InstanceNotFound(instance_id=uuid)
        return found

    def authorize(rule, target):
        checked.append((rule, target))
        if not allowed:
            raise APIError(403, f"Policy doesn't allow {rule} to be performed.")

    return types.SimpleNamespace(ctx=object(), authorize=authorize,
                                 server_service=types.SimpleNamespace(get=get),
                                 asked=asked, checked=checked)


def test_the_server_once_its_rule_passes_on_its_project_and_user():
    c = call()
    assert servers.authorized_server(c, "s1", "rule:x", read_deleted=True) is SERVER
    assert c.asked == [("s1", True)]
    assert c.checked == [("rule:x", {"project_id": "p1", "user_id": "u1"})]


def test_a_server_not_seen_is_a_404_before_any_policy_check():
    c = call(found=None)
    with pytest.raises(APIError) as caught:
        servers.authorized_server(c, "s9", "rule:x")
    assert caught.value.code == 404 and caught.value.message == "Instance s9 could not be found."
    assert c.asked == [("s9", False)] and c.checked == []


def test_the_rule_refused_is_a_403():
    with pytest.raises(APIError) as caught:
        servers.authorized_server(call(allowed=False), "s1", "rule:x")
    assert caught.value.code == 403
