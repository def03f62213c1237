"""What the cell database's modules share: the time they stamp, a row as a dict."""
from __future__ import annotations

from compute_core import clock


def now():
    """Naive UTC from this thread's clock (see compute_core.clock)."""
    return clock.current().utcnow()


def _d(row):
    return None if row is None else dict(row._mapping)

