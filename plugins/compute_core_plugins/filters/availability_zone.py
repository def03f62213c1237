"""AvailabilityZoneFilter: the host is in the requested availability zone.

A host's zone is the ``availability_zone`` metadata of an aggregate it is in,
else ``[DEFAULT] default_availability_zone``.
"""
from compute_core_plugins import aggregate_metadata
from compute_core_plugins.filters.per_request import PerRequestFilter


def host_zones(host_state, default_zone) -> set[str]:
    return aggregate_metadata.values_of(host_state, "availability_zone") or {default_zone}


class AvailabilityZoneFilter(PerRequestFilter):
    RUN_ON_REBUILD = False
    run_filter_once_per_request = True

    def prepare(self, spec_obj):
        if not spec_obj.availability_zone:
            return None
        return spec_obj.availability_zone, self.conf.default_availability_zone

    def passes(self, host_state, wanted):
        zone, default_zone = wanted
        return zone in host_zones(host_state, default_zone)
