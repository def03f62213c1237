"""The host weigher contract and how weights combine.

A weigher is a plugin in the ``compute_core.scheduler.weighers`` group. Each
weigher's raw values are normalised to 0..1 across the candidate hosts,
multiplied by the weigher's multiplier and summed, so weighers with
different units combine.
"""
from __future__ import annotations

import abc
import logging

from compute_core.scheduler.filters import HostStates, log_plugin_failures

LOG = logging.getLogger(__name__)

__all__ = ["BaseHostWeigher", "HostStates", "normalize", "weigh_hosts"]


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

    def weight_multipliers(self, host_states) -> float | list[float]:
        """The multiplier of each host, or one float when it is the same for
        every host. Override to read configuration once per request rather
        than once per host; a host whose multiplier raises gets 0."""
        values, failures = [], []
        for state in host_states:
            try:
                values.append(float(self.weight_multiplier(state)))
            except Exception as exc:
                failures.append((state.host, exc))
                values.append(0.0)
        if failures:
            log_plugin_failures("weigher multiplier of", self, None, failures, "weight 0")
        return values

    def weigh_objects(self, host_states, spec_obj) -> list[float]:
        """The raw weight of each host; a host whose weighing raises gets 0."""
        weigh = self._weigh_object
        try:
            return [float(weigh(state, spec_obj)) for state in host_states]
        except Exception:
            pass  # find and log the failing hosts one by one
        values, failures = [], []
        for state in host_states:
            try:
                values.append(float(weigh(state, spec_obj)))
            except Exception as exc:
                failures.append((state.host, exc))
                values.append(0.0)
        if failures:
            log_plugin_failures("weigher", self, spec_obj, failures, "weight 0")
        return values


def _bounds(values, minval=None, maxval=None):
    """(low, high, clipped values) of a normalisation: the explicit bounds
    when given, else the data's; values outside explicit bounds clipped."""
    lo_seen, hi_seen = min(values), max(values)
    lo = lo_seen if minval is None else minval
    hi = hi_seen if maxval is None else maxval
    if lo_seen < lo or hi_seen > hi:
        values = [min(max(v, lo), hi) for v in values]
    return lo, hi, values


def normalize(values, minval=None, maxval=None) -> list[float]:
    """Each value mapped to 0..1 between the low and high bound (all 0 when
    they are equal)."""
    if not values:
        return []
    lo, hi, values = _bounds(values, minval, maxval)
    span = hi - lo
    if span <= 0:
        return [0.0] * len(values)
    return [(v - lo) / span for v in values]


def weigh_hosts(weighers, host_states, spec_obj) -> list[tuple[float, object]]:
    """[(total weight, host_state)] sorted best first (ties keep their order).

    Each weigher adds multiplier x normalised weight to every host. When a
    weigher's normalised weights are all 0 (it has nothing to say about this
    request) its multipliers are not computed.
    """
    # A fresh collection: its per-request caches start empty.
    host_states = host_states.derive(host_states) if isinstance(host_states, HostStates) \
        else HostStates(host_states)
    totals = [0.0] * len(host_states)
    if not host_states:
        return []
    for weigher in weighers:
        try:
            lo, hi, raw = _bounds(weigher.weigh_objects(host_states, spec_obj),
                                  weigher.minval, weigher.maxval)
            span = hi - lo
            if span <= 0 or max(raw) == lo:
                continue  # every normalised weight is 0
            mults = weigher.weight_multipliers(host_states)
        except Exception as exc:
            LOG.warning("weigher %s raised for instance %s (%s: %s); it adds 0 to every host",
                        type(weigher).__name__, getattr(spec_obj, "instance_uuid", None),
                        type(exc).__name__, exc)
            LOG.debug("weigher %s failed", type(weigher).__name__, exc_info=exc)
            continue
        # Normalise and add in one pass: total += mult * (raw - lo) / span.
        if isinstance(mults, (int, float)):
            if mults:
                k = mults / span
                totals = [t + (v - lo) * k for t, v in zip(totals, raw)]
        else:
            totals = [t + m * (v - lo) / span for t, m, v in zip(totals, mults, raw)]
    order = sorted(range(len(host_states)), key=totals.__getitem__, reverse=True)
    return [(totals[i], host_states[i]) for i in order]
