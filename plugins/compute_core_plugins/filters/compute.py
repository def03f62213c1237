"""ComputeFilter: the host's compute service is enabled and up."""
from compute_core.scheduler.filters import BaseHostFilter


class ComputeFilter(BaseHostFilter):
    RUN_ON_REBUILD = False

    def host_passes(self, host_state, spec_obj):
        service = host_state.service or {}
        return bool(service.get("up")) and not service.get("disabled")
