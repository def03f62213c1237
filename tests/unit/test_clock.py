"""compute_core.clock: the virtual clock and the periodic runner on it."""
import threading
import time

from compute_core import clock
from compute_core.service import PeriodicRunner


def test_advance_returns_after_the_tasks_that_came_due_ran():
    virtual = clock.VirtualClock()
    ran = []
    seen_time = []

    def task():
        ran.append(1)
        seen_time.append(clock.current().time())   # the task's thread sees the clock

    runner = PeriodicRunner("test", [("task", 60, task)], virtual)
    runner.start()
    try:
        virtual.advance(30)
        assert ran == []
        virtual.advance(30)
        assert ran == [1]                       # due at 60 s: ran before advance returned
        assert seen_time[0] >= time.time() + 59
        virtual.advance(3600)                   # one jump: the task runs once more
        assert ran == [1, 1]
    finally:
        t0 = time.monotonic()
        runner.stop()
        assert time.monotonic() - t0 < 1        # the stop event wakes the virtual wait


def test_threads_see_real_time_unless_bound():
    virtual = clock.VirtualClock()
    virtual.advance(1000)
    assert abs(clock.current().time() - time.time()) < 1
    with clock.using(virtual):
        assert clock.current().time() - time.time() > 999
        seen = []
        other = threading.Thread(target=lambda: seen.append(clock.current()))
        other.start()
        other.join()
        assert seen == [clock.REAL]
    assert clock.current() is clock.REAL


def test_close_ends_sleeps():
    virtual = clock.VirtualClock()
    done = threading.Event()
    sleeper = threading.Thread(target=lambda: (virtual.sleep(10 ** 6), done.set()))
    sleeper.start()
    assert not done.wait(0.05)
    virtual.close()
    assert done.wait(5)
    sleeper.join()


def test_make():
    assert clock.make(None) is clock.REAL and clock.make("real") is clock.REAL
    assert clock.make("virtual").virtual
    try:
        clock.make("sundial")
    except ValueError as exc:
        assert "sundial" in str(exc)
    else:
        raise AssertionError("an unknown clock kind was accepted")
