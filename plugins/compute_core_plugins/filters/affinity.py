"""Placement relative to other servers.

- SameHostFilter / DifferentHostFilter: the ``same_host`` / ``different_host``
  hints, one server UUID or a list; the host must run at least one of them /
  none of them.
- SimpleCIDRAffinityFilter: the ``build_near_host_ip`` hint (with ``cidr``,
  default ``/24``); the host's IP must be in that network.
- ServerGroupAffinityFilter / ServerGroupAntiAffinityFilter: the request's
  server group (the ``group`` hint, resolved by the API into
  ``instance_group``) with the ``affinity`` / ``anti-affinity`` policy.
"""
from __future__ import annotations

import logging

import netaddr

from compute_core_plugins import server_groups
from compute_core_plugins.filters.per_request import PerRequestFilter

LOG = logging.getLogger(__name__)


def _narrowed(host_states, uuids, others_pass):
    """PerRequestFilter.narrow of a filter about where *uuids* run."""
    named = server_groups.hosts_running(host_states, uuids)
    return None if named is None else (named, others_pass)


def uuid_hint(spec_obj, name) -> set[str]:
    value = (spec_obj.scheduler_hints or {}).get(name) or []
    return {value} if isinstance(value, str) else set(value)


class DifferentHostFilter(PerRequestFilter):
    run_filter_once_per_request = True
    RUN_ON_REBUILD = False

    def prepare(self, spec_obj):
        return uuid_hint(spec_obj, "different_host") or None

    def passes(self, host_state, wanted):
        return server_groups.count_on_host(wanted, host_state) == 0

    def narrow(self, host_states, wanted):
        return _narrowed(host_states, wanted, True)


class SameHostFilter(PerRequestFilter):
    run_filter_once_per_request = True
    RUN_ON_REBUILD = False

    def prepare(self, spec_obj):
        return uuid_hint(spec_obj, "same_host") or None

    def passes(self, host_state, wanted):
        return server_groups.count_on_host(wanted, host_state) > 0

    def narrow(self, host_states, wanted):
        return _narrowed(host_states, wanted, False)


class SimpleCIDRAffinityFilter(PerRequestFilter):
    run_filter_once_per_request = True
    RUN_ON_REBUILD = False

    def prepare(self, spec_obj):
        near = spec_obj.get_scheduler_hint("build_near_host_ip")
        if not near:
            return None
        cidr = str(spec_obj.get_scheduler_hint("cidr", "/24"))
        return netaddr.IPNetwork(f"{near}{cidr if cidr.startswith('/') else '/' + cidr}")

    def passes(self, host_state, wanted):
        return bool(host_state.host_ip) and netaddr.IPAddress(host_state.host_ip) in wanted


class ServerGroupAntiAffinityFilter(PerRequestFilter):
    """At most ``max_server_per_host`` (a group rule, default 1) members
    per host; a host already running the instance being scheduled passes
    (a rebuild or a resize to the same host)."""

    RUN_ON_REBUILD = False

    def prepare(self, spec_obj):
        group = spec_obj.instance_group
        if server_groups.policy(group) != "anti-affinity":
            return None
        limit = int((group.get("rules") or {}).get("max_server_per_host", 1))
        members = server_groups.members(spec_obj)
        current = spec_obj.instance_uuid
        members.discard(current)
        # One look-up per uuid settles most hosts: those running none of these.
        probe = frozenset(members | {current}) if current else frozenset(members)
        return probe, current, members, limit

    def passes(self, host_state, wanted):
        probe, current, members, limit = wanted
        instances = host_state.instances
        for uuid in probe:
            if uuid in instances:
                break
        else:
            return limit > 0
        if current and current in instances:
            return True
        return server_groups.count_on_host(members, host_state) < limit

    def narrow(self, host_states, wanted):
        # A host running none of the probed instances passes while the
        # limit allows any member at all.
        probe, _, _, limit = wanted
        return _narrowed(host_states, probe, limit > 0)


class ServerGroupAffinityFilter(PerRequestFilter):
    """Only hosts where the group already runs: the group's ``hosts`` and
    any host running a member (including servers of this request placed
    before this one). A group placed nowhere yet lets every host pass."""

    RUN_ON_REBUILD = False

    def prepare(self, spec_obj):
        group = spec_obj.instance_group
        if server_groups.policy(group) != "affinity":
            return None
        return set(group.get("hosts") or []), server_groups.members(spec_obj)

    def passes(self, host_state, wanted):
        hosts, members = wanted
        if host_state.host in hosts or server_groups.count_on_host(members, host_state):
            return True
        return not hosts

    def filter_all(self, host_states, spec_obj):
        host_states = list(host_states)
        try:
            wanted = self.prepare(spec_obj)
        except Exception:
            LOG.exception("filter ServerGroupAffinityFilter cannot read the request")
            return []
        if wanted is None:
            return host_states
        hosts, members = wanted
        placed = set(hosts)
        if members:
            named = server_groups.hosts_running(host_states, members)
            placed.update(h.host for h in host_states
                          if (named is None or h.host in named)
                          and server_groups.count_on_host(members, h))
        if not placed:
            return host_states
        return [h for h in host_states if h.host in placed]
