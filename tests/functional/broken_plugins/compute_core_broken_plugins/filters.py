"""Two filters that define the same option differently."""
from oslo_config import cfg

from compute_core.scheduler import BaseHostFilter


class LabelAsTextFilter(BaseHostFilter):
    def __init__(self, conf):
        super().__init__(conf)
        conf.register_opts([cfg.StrOpt("label", default="rack")], group="labels")

    def host_passes(self, host_state, spec_obj):
        return True


class LabelAsNumberFilter(BaseHostFilter):
    def __init__(self, conf):
        super().__init__(conf)
        conf.register_opts([cfg.IntOpt("label", default=1)], group="labels")

    def host_passes(self, host_state, spec_obj):
        return True
