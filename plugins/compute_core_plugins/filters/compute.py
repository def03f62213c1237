"""ComputeFilter: the host's compute service is enabled and up."""
import logging

from compute_core.scheduler.filters import BaseHostFilter

LOG = logging.getLogger(__name__)


class ComputeFilter(BaseHostFilter):
    RUN_ON_REBUILD = False

    def host_passes(self, host_state, spec_obj):
        service = host_state.service
        return bool(service) and bool(service.get("up")) and not service.get("disabled")

    def filter_all(self, host_states, spec_obj):
        # Runs on every host of every request: the check is inlined rather
        # than a method call per host; host_passes remains the contract.
        kept = []
        for state in host_states:
            try:
                service = state.service
                if service and service.get("up") and not service.get("disabled"):
                    kept.append(state)
            except Exception:
                LOG.exception("filter ComputeFilter failed on host %s; counting it as "
                              "failing", state.host)
        return kept
