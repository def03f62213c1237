"""RAMWeigher, CPUWeigher, DiskWeigher: prefer the hosts with the most free
resource (spread); a negative multiplier stacks instead."""
from compute_core.scheduler.weights import BaseHostWeigher


class RAMWeigher(BaseHostWeigher):
    def weight_multiplier(self, host_state):
        return self.conf.filter_scheduler.ram_weight_multiplier

    def _weigh_object(self, host_state, spec_obj):
        return host_state.free_ram_mb


class CPUWeigher(BaseHostWeigher):
    def weight_multiplier(self, host_state):
        return self.conf.filter_scheduler.cpu_weight_multiplier

    def _weigh_object(self, host_state, spec_obj):
        total = host_state.vcpus_total * host_state.cpu_allocation_ratio
        return total - host_state.vcpus_used


class DiskWeigher(BaseHostWeigher):
    def weight_multiplier(self, host_state):
        return self.conf.filter_scheduler.disk_weight_multiplier

    def _weigh_object(self, host_state, spec_obj):
        return host_state.free_disk_mb
