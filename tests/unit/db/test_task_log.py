"""The cell database's task log: one row per task, host and period."""
from datetime import datetime as dt

import pytest

from compute_core import exception
from compute_core.db import migration, task_log
from compute_core.db.engines import Database

BEGIN, END = dt(2026, 11, 1), dt(2026, 12, 1)


@pytest.fixture
def db(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/cell.sqlite")
    migration.upgrade(db, "cell")
    yield db
    db.dispose()


def test_begin_then_end(db):
    assert task_log.get(db, "audit", BEGIN, END, "h1") is None
    row = task_log.begin_task(db, "audit", BEGIN, END, "h1", 4, "started")
    assert (row["state"], row["task_items"], row["errors"], row["message"]) == \
        ("RUNNING", 4, 0, "started")
    row = task_log.end_task(db, "audit", BEGIN, END, "h1", 1, "done")
    assert (row["state"], row["task_items"], row["errors"], row["message"]) == \
        ("DONE", 4, 1, "done")


def test_a_period_runs_once_per_host(db):
    task_log.begin_task(db, "audit", BEGIN, END, "h1")
    with pytest.raises(task_log.TaskAlreadyRunning):
        task_log.begin_task(db, "audit", BEGIN, END, "h1")
    task_log.begin_task(db, "audit", BEGIN, END, "h2")
    task_log.begin_task(db, "audit", END, dt(2027, 1, 1), "h1")  # the next period
    assert [r["host"] for r in task_log.list_tasks(db, "audit", BEGIN, END)] == ["h1", "h2"]
    assert task_log.list_tasks(db, "other", BEGIN, END) == []


def test_ending_a_task_never_begun_is_not_found(db):
    with pytest.raises(exception.NotFound):
        task_log.end_task(db, "audit", BEGIN, END, "h1", 0, "done")


def test_long_messages_are_cut_to_the_column(db):
    row = task_log.begin_task(db, "audit", BEGIN, END, "h1", 0, "x" * 300)
    assert len(row["message"]) == 255
