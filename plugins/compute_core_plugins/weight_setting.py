"""Parsing ``name=ratio`` list options ([metrics] weight_setting,
[filter_scheduler] image_props_weight_setting)."""
from __future__ import annotations

import logging

LOG = logging.getLogger(__name__)


def parse(items, option: str) -> list[tuple[str, float]]:
    """[(name, ratio)] in option order; a malformed entry is logged and
    skipped rather than stopping the scheduler."""
    out = []
    for item in items or []:
        name, sep, ratio = str(item).partition("=")
        name = name.strip()
        try:
            if not (sep and name):
                raise ValueError("expected name=ratio")
            out.append((name, float(ratio)))
        except ValueError as exc:
            LOG.warning("ignoring %r in %s: %s", item, option, exc)
    return out
