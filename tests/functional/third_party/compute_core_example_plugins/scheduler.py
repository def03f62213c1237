"""A scheduler filter and a weigher.

Filters answer yes or no for one host; weighers give a number that the
scheduler normalises across the candidate hosts (0..1), multiplies by the
weigher's multiplier and adds to the other weighers' results.
"""
from __future__ import annotations

from compute_core.scheduler import BaseHostFilter, BaseHostWeigher

from compute_core_example_plugins import options


class AvoidHostFilter(BaseHostFilter):
    """Refuses the hosts named in the ``avoid_host`` scheduler hint.

    ``openstack server create --hint avoid_host=host2 ...``; the hint may
    be repeated (a list). Without the hint every host passes.
    """

    # The hint is the same for every instance of a request, but the answer
    # depends on the host: run it for each instance.
    run_filter_once_per_request = False
    # Rebuilding on the same host must not be refused by a placement hint.
    RUN_ON_REBUILD = False

    def host_passes(self, host_state, spec_obj) -> bool:
        avoid = spec_obj.get_scheduler_hint("avoid_host")
        if not avoid:
            return True
        if isinstance(avoid, str):
            avoid = [avoid]
        return host_state.host not in avoid


class PreferredHostWeigher(BaseHostWeigher):
    """Puts the hosts of ``[example_plugins] preferred_hosts`` first.

    The raw weight is 1 for a preferred host and 0 otherwise; the multiplier
    is ``[example_plugins] preferred_host_weight_multiplier``.
    """

    def __init__(self, conf):
        super().__init__(conf)
        options.register(conf)

    def weight_multiplier(self, host_state) -> float:
        return self.conf.example_plugins.preferred_host_weight_multiplier

    def _weigh_object(self, host_state, spec_obj) -> float:
        return 1.0 if host_state.host in self.conf.example_plugins.preferred_hosts else 0.0
