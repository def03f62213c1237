"""SameHostFilter and DifferentHostFilter: the ``same_host`` and
``different_host`` scheduler hints (lists of server UUIDs)."""
from compute_core.scheduler.filters import BaseHostFilter


def _hint_list(spec_obj, name):
    value = (spec_obj.scheduler_hints or {}).get(name) or []
    return [value] if isinstance(value, str) else list(value)


class DifferentHostFilter(BaseHostFilter):
    RUN_ON_REBUILD = False

    def host_passes(self, host_state, spec_obj):
        others = _hint_list(spec_obj, "different_host")
        return not others or not set(others) & set(host_state.instances)


class SameHostFilter(BaseHostFilter):
    RUN_ON_REBUILD = False

    def host_passes(self, host_state, spec_obj):
        wanted = _hint_list(spec_obj, "same_host")
        return not wanted or set(wanted) <= set(host_state.instances)
