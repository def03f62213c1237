"""Regular-expression filters of list requests (``GET /servers?name=``,
``?ip=``), matched by RE2: its time is linear in the text whatever the
pattern, so a user's pattern cannot backtrack for minutes (Python's ``re``
takes seconds on ``(a+)+$`` against 27 characters, doubling with each, and
holds the GIL meanwhile). RE2 has no back-references or look-arounds: such
a pattern, like any invalid one, is refused with exception.Invalid.
"""
from __future__ import annotations

import functools

import re2

from compute_core import exception


def _options():
    options = re2.Options()
    options.log_errors = False  # a user's bad pattern is answered, not logged
    options.never_capture = True  # filters only ask whether it matches
    return options


_OPTIONS = _options()


@functools.lru_cache(maxsize=256)
def compile_filter(pattern: str, field: str = "name"):
    """The compiled *pattern*, or exception.Invalid naming *field*."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise exception.Invalid(f"Invalid input for query parameters {field}. Value: "
                                f"{pattern}. It is not a valid regular expression: "
                                f"{reason}") from None


def matches(pattern: str, text: str | None, field: str = "name") -> bool:
    """Whether *pattern* is found anywhere in *text* (re.search's sense)."""
    return compile_filter(pattern, field).search(text or "") is not None
