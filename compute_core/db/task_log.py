"""The task log of a cell database (Nova's ``task_log``): one row per
periodic task, host and period, RUNNING while the task runs, then DONE
with its counts and message."""
from __future__ import annotations

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core import exception
from compute_core.db import cell_schema as t
from compute_core.db.cell_db import now

_T = t.task_log


class TaskAlreadyRunning(exception.Conflict):
    msg_fmt = "Task %(task_name)s is already running on host %(host)s"


def _rows(db, query) -> list[dict]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def _period(task_name, begin, end):
    return sa.and_(_T.c.task_name == task_name, _T.c.period_beginning == begin,
                   _T.c.period_ending == end, _T.c.deleted == 0)


def get(db, task_name, begin, end, host) -> dict | None:
    found = _rows(db, sa.select(_T).where(_period(task_name, begin, end))
                  .where(_T.c.host == host))
    return found[0] if found else None


def list_tasks(db, task_name, begin, end) -> list[dict]:
    """The rows of *task_name* for the period, every host's, by host."""
    return _rows(db, sa.select(_T).where(_period(task_name, begin, end))
                 .order_by(_T.c.host, _T.c.id))


def begin_task(db, task_name, begin, end, host, task_items=0, message="") -> dict:
    """Record the task as RUNNING on *host*; TaskAlreadyRunning when a row
    of that host and period exists (running, or done already)."""
    stamp = now()
    try:
        with db.begin() as conn:
            conn.execute(_T.insert().values(
                task_name=task_name, state="RUNNING", host=host, period_beginning=begin,
                period_ending=end, message=message[:255], task_items=task_items, errors=0,
                created_at=stamp, updated_at=stamp, deleted=0))
    except (db_exc.DBDuplicateEntry, sa.exc.IntegrityError):
        raise TaskAlreadyRunning(task_name=task_name, host=host) from None
    return get(db, task_name, begin, end, host)


def end_task(db, task_name, begin, end, host, errors, message) -> dict:
    """Mark the task DONE with its *errors* and *message*; NotFound when it
    was never begun."""
    with db.begin() as conn:
        done = conn.execute(_T.update().where(_period(task_name, begin, end))
                            .where(_T.c.host == host)
                            .values(state="DONE", errors=errors, message=message[:255],
                                    updated_at=now())).rowcount
    if not done:
        raise exception.NotFound(f"Task log for {task_name} on {host} could not be found.")
    return get(db, task_name, begin, end, host)
