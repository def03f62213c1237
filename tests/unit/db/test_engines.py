"""Database.connect: a read connection reused inside another of the same thread."""
import threading

import sqlalchemy as sa

from compute_core.db.engines import Database


def test_nested_reads_share_one_check_out(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/x.sqlite")
    checkouts = []
    sa.event.listen(db.engine, "checkout", lambda *a: checkouts.append(1))
    try:
        with db.connect() as outer:
            with db.connect() as inner:
                assert inner is outer
                assert inner.execute(sa.text("select 1")).scalar() == 1
            # Leaving the inner block leaves the outer connection usable.
            assert outer.execute(sa.text("select 2")).scalar() == 2
            seen = []
            worker = threading.Thread(target=lambda: seen.append(_connection_of(db)))
            worker.start()
            worker.join()
            assert seen[0] is not outer  # another thread has its own
        assert len(checkouts) == 2
        with db.connect() as again:
            assert again is not outer
        assert len(checkouts) == 3
    finally:
        db.dispose()


def _connection_of(db):
    with db.connect() as conn:
        conn.execute(sa.text("select 1"))
        return conn


def test_an_error_inside_releases_the_connection(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/x.sqlite")
    try:
        try:
            with db.connect() as conn:
                first = conn
                raise ValueError("boom")
        except ValueError:
            pass
        with db.connect() as conn:
            assert conn is not first
    finally:
        db.dispose()
