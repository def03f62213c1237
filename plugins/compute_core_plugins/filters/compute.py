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
        # Runs on every host of every request: one comprehension rather than
        # a method call per host; host_passes remains the contract.
        try:
            return [h for h in host_states
                    if (s := h.service) and s.get("up") and not s.get("disabled")]
        except Exception:
            pass  # a broken host state: find it host by host
        kept = []
        for state in host_states:
            try:
                if self.host_passes(state, spec_obj):
                    kept.append(state)
            except Exception:
                LOG.exception("filter ComputeFilter failed on host %s; counting it as "
                              "failing", state.host)
        return kept
