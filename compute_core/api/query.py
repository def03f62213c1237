"""Query parameters as the resources read them: integers, timestamps and
time windows, page limits and the refusal of unknown parameters (from
2.75), each a 400 naming the parameter."""
from __future__ import annotations

import datetime

from oslo_utils import timeutils

from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionRange

# From 2.75 a parameter a route does not know is a 400 (before: ignored).
CLOSED = VersionRange("2.75")
# From 2.102 that holds for every route: the API refuses, before the
# handler runs, a parameter the handler's operation does not declare.
ALL_CLOSED = VersionRange("2.102")


def integer(call, name, minimum=0):
    """The query parameter *name* as an int >= *minimum*, or None."""
    raw = call.req.GET.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
        if value < minimum:
            raise ValueError
    except ValueError:
        raise APIError(400, f"Invalid input for query parameters {name}. Value: {raw}. "
                            f"'{raw}' is not a valid integer >= {minimum}") from None
    return value


def page_limit(call) -> int:
    """``limit`` bounded by ``[api] max_limit`` (which it is when absent)."""
    limit = integer(call, "limit")
    max_limit = call.services.conf.api.max_limit
    return max_limit if limit is None else min(limit, max_limit)


def refuse_unknown(call, allowed, closed=CLOSED):
    """A 400 for a parameter not in *allowed* at the versions *closed*."""
    if call.version in closed:
        _refuse(call.req.GET, allowed)


def _refuse(params, allowed):
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise APIError(400, f"Invalid input for query parameters {unknown[0]}. Additional "
                            f"properties are not allowed ('{unknown[0]}' was unexpected)")


def refuse_undeclared(req, handler, version):
    """From 2.102, a 400 for a query parameter the operation of *handler*
    does not declare (``query`` of its :func:`compute_core.apispec.operation`;
    none declared: none taken), unless the handler takes any
    (``handler.any_query``: the removed APIs, which answer 410 whatever)."""
    if version not in ALL_CLOSED or not req.GET or getattr(handler, "any_query", False):
        return
    op = getattr(handler, "openapi", None)
    declared = op.at(op.query, version) if op is not None and op.query else None
    _refuse(req.GET, declared or ())


def single(call, name):
    """The one value of the query parameter *name*, or None when absent; a
    400 when it is given twice (Nova's ``single_param``)."""
    values = call.req.GET.getall(name)
    if len(values) > 1:
        raise APIError(400, f"Invalid input for query parameters {name}. Value: {values}. "
                            f"{values} is too long")
    return values[0] if values else None


def single_timestamp(call, name):
    """:func:`timestamp` of a parameter given at most once (:func:`single`)."""
    raw = single(call, name)
    return None if raw is None else timestamp(call, name, raw)


def timestamp(call, name, raw=None):
    """The query parameter *name* (or *raw*, its value read already) as a
    naive UTC datetime, or None when absent. Every value of a repeated
    parameter must be a time (Nova validates each); the last one counts."""
    if raw is None:
        values = call.req.GET.getall(name)
        if not values:
            return None
    else:
        values = [raw]
    for raw in values:
        try:
            value = utc_naive(raw)
        except ValueError:
            raise APIError(400, f"Invalid input for query parameters {name}. Value: {raw}. "
                                f"'{raw}' is not a 'date-time'") from None
        except OverflowError:
            raise APIError(400, f"Invalid input for query parameters {name}. Value: {raw}. "
                                f"'{raw}' is out of the range of a 'date-time' in UTC") \
                from None
    return value


def utc_naive(raw: str) -> datetime.datetime:
    """ISO 8601 text as a naive UTC datetime, in the forms Nova's
    ``date-time`` takes: those of the iso8601 library (through oslo.utils,
    as Nova parses them): calendar dates, extended or basic, a date alone
    meaning midnight UTC; not week (``2026-W05-3``) or ordinal
    (``2026-035``) dates, which Python's ``fromisoformat`` would take.
    ValueError when it is no such time, OverflowError when its UTC time
    falls outside years 1-9999 (9999-12-31T23:59:59-01:00)."""
    value = timeutils.parse_isotime(raw)  # a time without a zone is UTC
    return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def time_window(since, before):
    """*since* and *before* (changes-since, changes-before) as given, or a
    400 when the window is upside down."""
    if since and before and before < since:
        raise APIError(400, "The value of changes-since must be less than or equal to "
                            "changes-before.")
    return since, before
