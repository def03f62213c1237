"""RAMWeigher, CPUWeigher, DiskWeigher: prefer the hosts with the most free
resource (spread); a negative multiplier stacks instead."""
from compute_core_plugins.weighers.multiplier import ConfiguredWeigher


class RAMWeigher(ConfiguredWeigher):
    multiplier_option = "ram_weight_multiplier"
    attribute = "free_ram_mb"


class CPUWeigher(ConfiguredWeigher):
    multiplier_option = "cpu_weight_multiplier"

    def _weigh_object(self, host_state, spec_obj):
        total = host_state.vcpus_total * host_state.cpu_allocation_ratio
        return total - host_state.vcpus_used

    def _weigh_all(self, host_states, spec_obj):
        try:
            return [float(h.vcpus_total * h.cpu_allocation_ratio - h.vcpus_used)
                    for h in host_states]
        except (TypeError, ValueError):
            return super()._weigh_all(host_states, spec_obj)


class DiskWeigher(ConfiguredWeigher):
    multiplier_option = "disk_weight_multiplier"
    attribute = "free_disk_mb"
