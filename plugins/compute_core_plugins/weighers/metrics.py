"""MetricsWeigher: a weighted sum of host metrics.

``[metrics] weight_setting`` lists ``name=ratio`` pairs; the host's
``metrics[name]["value"]`` times the ratio are summed. A host missing a
metric weighs 0 with an error logged when ``[metrics] required`` is set
(enable the MetricsFilter to remove such hosts instead), else
``weight_of_unavailable``.
"""
from compute_core_plugins import weight_setting
from compute_core_plugins.weighers.multiplier import ConfiguredWeigher


class MetricNotFound(LookupError):
    pass


class MetricsWeigher(ConfiguredWeigher):
    multiplier_group = "metrics"
    multiplier_option = "weight_multiplier"
    aggregate_key = "metrics_weight_multiplier"

    def __init__(self, conf):
        super().__init__(conf)
        self.setting = weight_setting.parse(conf.metrics.weight_setting,
                                            "[metrics] weight_setting")

    def _weigh_object(self, host_state, spec_obj):
        value = 0.0
        metrics = host_state.metrics or {}
        for name, ratio in self.setting:
            metric = metrics.get(name)
            if metric is None:
                if self.conf.metrics.required:
                    raise MetricNotFound(f"host {host_state.host} node "
                                         f"{host_state.nodename} has no metric {name}")
                if ratio * self.weight_multiplier(host_state) != 0:
                    return self.conf.metrics.weight_of_unavailable
                continue
            value += float(metric["value"] if isinstance(metric, dict) else metric) * ratio
        return value

    def _weigh_all(self, host_states, spec_obj):
        if not self.setting:
            return [0.0] * len(host_states)
        return super()._weigh_all(host_states, spec_obj)
