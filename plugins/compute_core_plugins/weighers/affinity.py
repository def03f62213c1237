"""ServerGroupSoftAffinityWeigher and ServerGroupSoftAntiAffinityWeigher:
for a server group with the ``soft-affinity`` / ``soft-anti-affinity``
policy, weigh a host by how many group members it runs (more is better /
worse). Other requests weigh 0 everywhere."""
from compute_core_plugins import server_groups
from compute_core_plugins.weighers.multiplier import ConfiguredWeigher


class _GroupMembersWeigher(ConfiguredWeigher):
    policy = ""
    direction = 1

    def _weigh_object(self, host_state, spec_obj):
        if server_groups.policy(spec_obj.instance_group) != self.policy:
            return 0
        return self.direction * server_groups.count_on_host(
            server_groups.members(spec_obj), host_state)

    def _weigh_all(self, host_states, spec_obj):
        if server_groups.policy(spec_obj.instance_group) != self.policy:
            return [0.0] * len(host_states)
        members = server_groups.members(spec_obj)
        named = server_groups.hosts_running(host_states, members)
        if named is not None:
            return [float(self.direction * server_groups.count_on_host(members, h))
                    if h.host in named else 0.0 for h in host_states]
        return [float(self.direction * server_groups.count_on_host(members, h))
                for h in host_states]


class ServerGroupSoftAffinityWeigher(_GroupMembersWeigher):
    multiplier_option = "soft_affinity_weight_multiplier"
    policy = "soft-affinity"


class ServerGroupSoftAntiAffinityWeigher(_GroupMembersWeigher):
    multiplier_option = "soft_anti_affinity_weight_multiplier"
    policy = "soft-anti-affinity"
    direction = -1
