"""Quota limits in the API database: the default class's, each project's
and each of a project's users' (the last wins, as in Nova)."""
from __future__ import annotations

import sqlalchemy as sa

from compute_core.db import api_schema as t
from compute_core.db.api_db import now

_P, _U, _C = t.quotas, t.project_user_quotas, t.quota_classes
# Built once: every boot reads its user's limits.
_USER_LIMITS = (sa.select(_U.c.resource, _U.c.hard_limit)
                .where(_U.c.project_id == sa.bindparam("b_project_id"))
                .where(_U.c.user_id == sa.bindparam("b_user_id")))


def _upsert(conn, table, where: dict, limit: int):
    query = table.update().values(hard_limit=limit, updated_at=now())
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    if not conn.execute(query).rowcount:
        conn.execute(table.insert().values(hard_limit=limit, created_at=now(), **where))


def class_limits(db, class_name="default") -> dict:
    with db.connect() as conn:
        return {r.resource: r.hard_limit for r in conn.execute(
            sa.select(_C.c.resource, _C.c.hard_limit).where(_C.c.class_name == class_name))}


def set_class_limits(db, class_name, limits: dict) -> None:
    with db.begin() as conn:
        for resource, limit in limits.items():
            _upsert(conn, _C, {"class_name": class_name, "resource": resource}, limit)


def project_limits(db, project_id) -> dict:
    """The limits set for the project itself (not the defaults)."""
    with db.connect() as conn:
        return {r.resource: r.hard_limit for r in conn.execute(
            sa.select(_P.c.resource, _P.c.hard_limit).where(_P.c.project_id == project_id))}


def user_limits(db, project_id, user_id) -> dict:
    """The limits set for one user of the project."""
    with db.connect() as conn:
        return {r.resource: r.hard_limit for r in conn.execute(
            _USER_LIMITS, {"b_project_id": project_id, "b_user_id": user_id})}


def set_limits(db, project_id, limits: dict, user_id=None) -> None:
    with db.begin() as conn:
        for resource, limit in limits.items():
            if user_id is None:
                _upsert(conn, _P, {"project_id": project_id, "resource": resource}, limit)
            else:
                _upsert(conn, _U, {"project_id": project_id, "user_id": user_id,
                                   "resource": resource}, limit)


def delete_limits(db, project_id, user_id=None) -> None:
    """Back to the defaults: the project's limits and its users' (or one
    user's)."""
    with db.begin() as conn:
        if user_id is None:
            conn.execute(_P.delete().where(_P.c.project_id == project_id))
            conn.execute(_U.delete().where(_U.c.project_id == project_id))
        else:
            conn.execute(_U.delete().where(_U.c.project_id == project_id)
                         .where(_U.c.user_id == user_id))
