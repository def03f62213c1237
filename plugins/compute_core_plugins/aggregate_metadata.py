"""Reading a host's host-aggregate metadata, shared by the aggregate filters
and by the weighers' per-aggregate multipliers.

``host_state.aggregates`` is a list of ``{"id", "name", "hosts", "metadata"}``
dicts; metadata values are strings.
"""
from __future__ import annotations

import collections
import logging

LOG = logging.getLogger(__name__)


def values_of(host_state, key: str) -> set[str]:
    """The raw values of *key* in every aggregate of the host that sets it."""
    out = set()
    for agg in host_state.aggregates:
        meta = agg.get("metadata") or {}
        if key in meta:
            out.add(meta[key])
    return out


def merged(host_state) -> dict[str, set[str]]:
    """{key: values} over every aggregate of the host, a comma-separated
    value counting as several values."""
    out: dict = collections.defaultdict(set)
    for agg in host_state.aggregates:
        for key, value in (agg.get("metadata") or {}).items():
            out[key].update(v.strip() for v in str(value).split(","))
    return out


def smallest_number(host_state, key: str, default, cast=int):
    """The smallest value of *key* across the host's aggregates, else
    *default*; a value that is not a number is logged and *default* used."""
    values = values_of(host_state, key)
    if not values:
        return default
    try:
        return min(cast(v) for v in values)
    except (TypeError, ValueError):
        LOG.warning("host %s: aggregate metadata %s=%s is not a number; using %s",
                    host_state.host, key, sorted(values), default)
        return default
