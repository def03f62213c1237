"""AvailabilityZoneFilter: the host is in the requested availability zone.

A host's zone is the ``availability_zone`` metadata of an aggregate it is in,
else ``[DEFAULT] default_availability_zone``.
"""
from compute_core.scheduler.filters import BaseHostFilter


def host_zones(host_state, default_zone):
    zones = {(agg.get("metadata") or {}).get("availability_zone")
             for agg in host_state.aggregates}
    zones.discard(None)
    return zones or {default_zone}


class AvailabilityZoneFilter(BaseHostFilter):
    RUN_ON_REBUILD = False
    run_filter_once_per_request = True

    def host_passes(self, host_state, spec_obj):
        wanted = spec_obj.availability_zone
        if not wanted:
            return True
        return wanted in host_zones(host_state, self.conf.default_availability_zone)
