"""Time as the services see it: one clock object per cloud.

Every service reads "now", sleeps and waits for its periodic tasks through a
:class:`Clock`. The real one (:data:`REAL`, the default everywhere) is
``time`` and ``datetime`` themselves. An embedded cloud may run on a
:class:`VirtualClock` instead (``Cloud(clock="virtual")``): it runs at wall
speed from where it was set and jumps forward with :meth:`VirtualClock.advance`,
so build timeouts, heartbeats, ``service_down_time`` and token expiry can be
tested in milliseconds.

Which clock a piece of code sees is bound to the thread that runs it by the
entry points of a service: its periodic-task thread, its RPC dispatch and
the embedded cloud's WSGI layer (:func:`bind`, :func:`using`). Code deep in
a call path asks :func:`current`; a thread nothing bound sees real time.
Nothing here is process-global: two clouds in one process each bind their
own clock on their own threads.
"""
from __future__ import annotations

import contextlib
import datetime
import threading
import time

_local = threading.local()


class Clock:
    """Real time (the production clock)."""

    virtual = False
    # True once close() ended the sleeps: a wait measured on this clock is
    # over (it would otherwise spin until the clock reached its deadline).
    closed = False

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def utcnow(self) -> datetime.datetime:
        """Naive UTC, as the databases store it."""
        return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def event(self) -> threading.Event:
        """An event :meth:`wait` can wait on."""
        return threading.Event()

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """A periodic loop's wait for *event* (set: stop) or *timeout*."""
        return event.wait(timeout)

    def loop_done(self) -> None:
        """Called by a periodic loop's thread as it ends."""

    def close(self) -> None:
        """Wake every sleeper (the cloud is stopping)."""


REAL = Clock()


def current() -> Clock:
    """The clock bound to this thread (real time if none)."""
    return getattr(_local, "clock", None) or REAL


def bind(clock: Clock | None) -> Clock | None:
    """Bind *clock* to this thread; returns the one bound before."""
    previous = getattr(_local, "clock", None)
    _local.clock = clock
    return previous


@contextlib.contextmanager
def using(clock: Clock | None):
    previous = bind(clock)
    try:
        yield clock
    finally:
        _local.clock = previous


def utcnow() -> datetime.datetime:
    return current().utcnow()


def of(conf) -> Clock:
    """The clock of the services built from *conf* (see :func:`attach`)."""
    return getattr(conf, "_compute_core_clock", None) or REAL


def attach(conf, clock: Clock) -> None:
    """Make *clock* the clock of every service built from *conf*."""
    conf._compute_core_clock = clock


def make(kind) -> Clock:
    """A clock from ``Cloud(clock=...)``: "real", "virtual" or a Clock."""
    if isinstance(kind, Clock):
        return kind
    if kind in (None, "real"):
        return REAL
    if kind == "virtual":
        return VirtualClock()
    raise ValueError(f"clock must be 'real', 'virtual' or a Clock, not {kind!r}")


class _ClockEvent(threading.Event):
    """An event whose set() also wakes the virtual clock's waiters."""

    def __init__(self, clock):
        super().__init__()
        self._clock = clock

    def set(self):
        super().set()
        with self._clock._cond:
            self._clock._cond.notify_all()


class VirtualClock(Clock):
    """Wall time plus an offset that only :meth:`advance` moves.

    Sleeps and periodic waits end when the virtual time reaches their
    deadline, so ``advance(3600)`` runs at once what an hour would have
    run. ``advance`` returns when every periodic task that came due has
    run (each service's periodic loop is back in its wait)."""

    virtual = True

    def __init__(self):
        self.offset = 0.0
        self._cond = threading.Condition()
        self.closed = False
        # periodic loop threads -> deadline of their wait (None: running tasks)
        self._loops: dict[int, float | None] = {}

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def utcnow(self) -> datetime.datetime:
        return REAL.utcnow() + datetime.timedelta(seconds=self.offset)

    def sleep(self, seconds: float) -> None:
        deadline = self.monotonic() + seconds
        with self._cond:
            while not self.closed:
                left = deadline - self.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)

    def event(self) -> threading.Event:
        return _ClockEvent(self)

    def wait(self, event, timeout):
        me = threading.get_ident()
        with self._cond:
            deadline = None if timeout is None else self.monotonic() + timeout
            self._loops[me] = deadline
            self._cond.notify_all()
            try:
                while not event.is_set():
                    left = None if deadline is None else deadline - self.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._cond.wait(left)
                return event.is_set()
            finally:
                self._loops[me] = None

    def loop_done(self) -> None:
        with self._cond:
            self._loops.pop(threading.get_ident(), None)
            self._cond.notify_all()

    def advance(self, seconds: float, settle_timeout: float = 30.0) -> None:
        """Move the time *seconds* forward, then wait (up to
        *settle_timeout* real seconds) until the periodic tasks that came
        due have run."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._cond:
            self.offset += seconds
            self._cond.notify_all()
            end = time.monotonic() + settle_timeout
            while not self.closed:
                now = self.monotonic()
                busy = [d for d in self._loops.values() if d is None or d <= now]
                if not busy:
                    return
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(busy)} periodic loops still busy "
                                       f"{settle_timeout} s after advance()")
                self._cond.wait(min(left, 0.05))

    def close(self) -> None:
        """Sleeps end at once from now on (the cloud is stopping)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()
