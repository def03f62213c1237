"""A weigher base whose multiplier is a configuration option that a host
aggregate can override, and whose raw weight may be a host attribute.

An aggregate's metadata key of the option's name (e.g.
``ram_weight_multiplier=-1.0``) sets the multiplier of its hosts, the
smallest value winning when several aggregates of a host set it. The option
is read once per request, not once per host, and a request where no
aggregate overrides it gets one multiplier for every host.
"""
from __future__ import annotations

import logging
import operator

from compute_core.scheduler.weights import BaseHostWeigher, HostStates
from compute_core_plugins import aggregate_metadata

LOG = logging.getLogger(__name__)


class ConfiguredWeigher(BaseHostWeigher):
    #: Group and name of the multiplier option.
    multiplier_group = "filter_scheduler"
    multiplier_option = ""
    #: The aggregate metadata key (the option's name unless set).
    aggregate_key: str | None = None
    #: -1 for weighers whose raw value counts against a host.
    sign = 1.0
    #: The HostState attribute that is the raw weight, if that is all it is.
    attribute: str | None = None

    @property
    def _key(self) -> str:
        return self.aggregate_key or self.multiplier_option

    def configured_multiplier(self) -> float:
        return getattr(self.conf[self.multiplier_group], self.multiplier_option)

    def weight_multiplier(self, host_state):
        return self.sign * aggregate_metadata.smallest_number(
            host_state, self._key, self.configured_multiplier(), float)

    def _overridden(self, host_states) -> dict[int, float]:
        """{index: multiplier} of the hosts an aggregate gives their own."""
        key, default = self._key, self.configured_multiplier()
        if isinstance(host_states, HostStates):
            out = {}
            for i, keys in host_states.multiplier_overrides().items():
                if key in keys:
                    try:
                        out[i] = min(float(v) for v in keys[key])
                    except ValueError:
                        LOG.warning("host %s: aggregate metadata %s=%s is not a number",
                                    host_states[i].host, key, sorted(keys[key]))
                        out[i] = default
            return out
        return {i: aggregate_metadata.smallest_number(h, key, default, float)
                for i, h in enumerate(host_states) if aggregate_metadata.values_of(h, key)}

    def weight_multipliers(self, host_states):
        try:
            default = self.sign * self.configured_multiplier()
            overridden = self._overridden(host_states)
        except Exception:
            return super().weight_multipliers(host_states)  # logs host by host
        if not overridden:
            return default
        out = [default] * len(host_states)
        for i, value in overridden.items():
            out[i] = self.sign * value
        return out

    def _weigh_object(self, host_state, spec_obj):
        return getattr(host_state, self.attribute)

    def _off(self, host_states) -> bool:
        """True when the multiplier is 0 on every host: weighing is moot."""
        try:
            return not self.configured_multiplier() and not self._overridden(host_states)
        except Exception:
            return False

    def weigh_objects(self, host_states, spec_obj):
        if self._off(host_states):
            return [0.0] * len(host_states)
        return self._weigh_all(host_states, spec_obj)

    def _weigh_all(self, host_states, spec_obj) -> list[float]:
        """The raw weights; override for a faster whole-list computation
        (falling back to ``super()._weigh_all`` on a bad host)."""
        if self.attribute and type(self)._weigh_object is ConfiguredWeigher._weigh_object:
            try:
                return list(map(float, map(operator.attrgetter(self.attribute), host_states)))
            except (TypeError, ValueError):
                pass  # a host without a number: find it host by host
        return BaseHostWeigher.weigh_objects(self, host_states, spec_obj)
