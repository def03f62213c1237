"""Weighers over facts of the compute node itself.

- BuildFailureWeigher: hosts with recent failed builds sink (the failures
  count against the host with ``build_failure_weight_multiplier``, by
  default large enough to outweigh every other weigher).
- HypervisorVersionWeigher: newer hypervisors first (a negative multiplier
  prefers older ones).
"""
from compute_core_plugins.weighers.multiplier import ConfiguredWeigher


class BuildFailureWeigher(ConfiguredWeigher):
    multiplier_option = "build_failure_weight_multiplier"
    sign = -1.0
    attribute = "failed_builds"


class HypervisorVersionWeigher(ConfiguredWeigher):
    multiplier_option = "hypervisor_version_weight_multiplier"

    def _weigh_object(self, host_state, spec_obj):
        return host_state.hypervisor_version or 0

    def _weigh_all(self, host_states, spec_obj):
        try:
            return [float(h.hypervisor_version or 0) for h in host_states]
        except (TypeError, ValueError):
            return super()._weigh_all(host_states, spec_obj)
