"""The host weigher contract and how weights combine.

A weigher is a plugin in the ``compute_core.scheduler.weighers`` group. Each
weigher's raw values are normalised to 0..1 across the candidate hosts,
multiplied by the weigher's multiplier and summed, so weighers with
different units combine.
"""
from __future__ import annotations

import abc
import logging

LOG = logging.getLogger(__name__)


class BaseHostWeigher(abc.ABC):
    """Gives each host a number; higher is better (after the multiplier).

    Constructed once per scheduler with its ConfigOpts.
    """

    #: Values below/above are clipped before normalising (None: use the data).
    minval: float | None = None
    maxval: float | None = None

    def __init__(self, conf):
        self.conf = conf

    def weight_multiplier(self, host_state) -> float:
        """The multiplier, usually read from configuration."""
        return 1.0

    @abc.abstractmethod
    def _weigh_object(self, host_state, spec_obj) -> float:
        """The raw weight of one host."""

    def weigh_objects(self, host_states, spec_obj) -> list[float]:
        name = type(self).__name__
        values = []
        for state in host_states:
            try:
                values.append(float(self._weigh_object(state, spec_obj)))
            except Exception:
                LOG.exception("weigher %s failed on host %s; weight 0", name, state.host)
                values.append(0.0)
        return values


def normalize(values, minval=None, maxval=None) -> list[float]:
    if not values:
        return []
    lo = min(values) if minval is None else minval
    hi = max(values) if maxval is None else maxval
    span = hi - lo
    if span == 0:
        return [0.0 for _ in values]
    return [(min(max(v, lo), hi) - lo) / span for v in values]


def weigh_hosts(weighers, host_states, spec_obj) -> list[tuple[float, object]]:
    """[(total weight, host_state)] sorted best first."""
    totals = [0.0] * len(host_states)
    for weigher in weighers:
        raw = weigher.weigh_objects(host_states, spec_obj)
        norm = normalize(raw, weigher.minval, weigher.maxval)
        for i, state in enumerate(host_states):
            try:
                mult = weigher.weight_multiplier(state)
            except Exception:
                LOG.exception("weigher %s multiplier failed", type(weigher).__name__)
                mult = 0.0
            totals[i] += mult * norm[i]
    order = sorted(range(len(host_states)), key=lambda i: -totals[i])
    return [(totals[i], host_states[i]) for i in order]
