"""MetricsFilter: the host reports every metric ``[metrics] weight_setting``
names, so the MetricsWeigher can weigh it."""
from compute_core_plugins import weight_setting
from compute_core_plugins.filters.per_request import PerRequestFilter


class MetricsFilter(PerRequestFilter):
    RUN_ON_REBUILD = False

    def __init__(self, conf):
        super().__init__(conf)
        self.names = {name for name, _ in weight_setting.parse(
            conf.metrics.weight_setting, "[metrics] weight_setting")}

    def prepare(self, spec_obj):
        return self.names or None

    def passes(self, host_state, names):
        return names.issubset(host_state.metrics or {})
