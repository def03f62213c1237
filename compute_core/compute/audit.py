"""Audit periods: the span of time the instance usage audit covers, by
``[DEFAULT] instance_usage_audit_period`` (``hour``, ``day``, ``month`` or
``year``, each optionally ``@offset``: the minute, hour, day of the month
or month of the year at which a period starts), as Nova counts them."""
from __future__ import annotations

import datetime

TASK_NAME = "instance_usage_audit"
UNITS = ("hour", "day", "month", "year")


def _month_start(year, month, day):
    """The *day* of a month counted from January of *year* (month may be
    below 1 or above 12)."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime.datetime(year, month, day)


def last_completed_period(unit: str, now: datetime.datetime):
    """(begin, end) of the last audit period of *unit* that ended at or
    before *now* (naive UTC); the end of one period is the beginning of the
    next."""
    name, _, offset = unit.partition("@")
    if name not in UNITS:
        raise ValueError(f"unknown audit period unit {unit!r}")
    offset = int(offset) if offset else 0
    if name == "hour":
        end = now.replace(minute=offset, second=0, microsecond=0)
        if end >= now:
            end -= datetime.timedelta(hours=1)
        return end - datetime.timedelta(hours=1), end
    if name == "day":
        end = now.replace(hour=offset, minute=0, second=0, microsecond=0)
        if end >= now:
            end -= datetime.timedelta(days=1)
        return end - datetime.timedelta(days=1), end
    if name == "month":
        day = offset or 1
        end = _month_start(now.year, now.month, day)
        if end >= now:
            end = _month_start(now.year, now.month - 1, day)
        return _month_start(end.year, end.month - 1, day), end
    month = offset or 1
    end = datetime.datetime(now.year, month, 1)
    if end >= now:
        end = datetime.datetime(now.year - 1, month, 1)
    return datetime.datetime(end.year - 1, month, 1), end
