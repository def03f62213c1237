"""What a request's server group says, shared by the group filters and the
soft group weighers.

``spec_obj.instance_group`` is ``{"policy", "members", "hosts", "rules"}``
(an older ``"policies": [policy]`` list is understood too).
"""
from __future__ import annotations


def policy(instance_group) -> str | None:
    if not instance_group:
        return None
    found = instance_group.get("policy")
    if found is None and instance_group.get("policies"):
        found = instance_group["policies"][0]
    return found


def members(spec_obj) -> set[str]:
    """The group's members, including the servers of this request (already
    members by the time the request is scheduled)."""
    out = set((spec_obj.instance_group or {}).get("members") or [])
    out.update(spec_obj.instance_uuids or [])
    return out


def hosts_running(host_states, uuids) -> set[str] | None:
    """Names of the hosts among *host_states* that may run any of *uuids*,
    from the host manager's index (see HostStates.hosts_running); None when
    the collection has no index and every host must be checked."""
    find = getattr(host_states, "hosts_running", None)
    return None if find is None else find(uuids)


def count_on_host(uuids: set, host_state) -> int:
    """How many of *uuids* run on the host."""
    instances = host_state.instances
    if not uuids or instances.keys().isdisjoint(uuids):
        return 0
    return sum(1 for u in uuids if u in instances)
