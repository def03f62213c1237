"""Server groups in the API database: a policy, its rules and the servers
that are members.

The scheduler reads a group as ``{"uuid", "policy", "rules", "members",
"hosts"}`` (RequestSpec.instance_group; see
``compute_core_plugins.server_groups``).
"""
from __future__ import annotations

import uuid as uuidlib

import sqlalchemy as sa

from compute_core import exception
from compute_core.db import api_schema as t
from compute_core.db.api_db import now

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


class ServerGroupNotFound(exception.NotFound):
    msg_fmt = "Instance group %(group_uuid)s could not be found."


def _members(conn, group_ids) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {gid: [] for gid in group_ids}
    if group_ids:
        m = t.instance_group_members
        for gid, uuid in conn.execute(sa.select(m.c.group_id, m.c.instance_uuid)
                                      .where(m.c.group_id.in_(list(group_ids)))
                                      .order_by(m.c.id)):
            out[gid].append(uuid)
    return out


def _view(row, members) -> dict:
    return dict(row, rules=dict(row["rules"] or {}), members=members)


def create(db, name, policy, rules=None, project_id=None, user_id=None) -> dict:
    uuid = str(uuidlib.uuid4())
    with db.begin() as conn:
        conn.execute(t.instance_groups.insert().values(
            uuid=uuid, name=name, policy=policy, rules=rules or {}, project_id=project_id,
            user_id=user_id, created_at=now()))
    return get(db, uuid)


def get(db, group_uuid) -> dict:
    with db.connect() as conn:
        row = conn.execute(sa.select(t.instance_groups)
                           .where(t.instance_groups.c.uuid == group_uuid)).first()
        if row is None:
            raise ServerGroupNotFound(group_uuid=group_uuid)
        row = dict(row._mapping)
        return _view(row, _members(conn, [row["id"]])[row["id"]])


def list_groups(db, project_id=None, limit=None, offset=0) -> list[dict]:
    """Groups of *project_id* (every project's when None), oldest first."""
    g = t.instance_groups
    query = sa.select(g).order_by(g.c.id)
    if project_id is not None:
        query = query.where(g.c.project_id == project_id)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
        members = _members(conn, [r["id"] for r in rows])
    return [_view(r, members[r["id"]]) for r in rows]


def delete(db, group_uuid) -> None:
    with db.begin() as conn:
        row = conn.execute(sa.select(t.instance_groups.c.id)
                           .where(t.instance_groups.c.uuid == group_uuid)).first()
        if row is None:
            raise ServerGroupNotFound(group_uuid=group_uuid)
        conn.execute(t.instance_group_members.delete()
                     .where(t.instance_group_members.c.group_id == row.id))
        conn.execute(t.instance_groups.delete().where(t.instance_groups.c.id == row.id))


def add_members(db, group_uuid, instance_uuids) -> dict:
    with db.begin() as conn:
        row = conn.execute(sa.select(t.instance_groups.c.id)
                           .where(t.instance_groups.c.uuid == group_uuid)).first()
        if row is None:
            raise ServerGroupNotFound(group_uuid=group_uuid)
        have = set(_members(conn, [row.id])[row.id])
        stamp = now()
        new = [u for u in dict.fromkeys(instance_uuids) if u not in have]
        if new:
            conn.execute(t.instance_group_members.insert(), [
                {"group_id": row.id, "instance_uuid": u, "created_at": stamp} for u in new])
    return get(db, group_uuid)


# Built once: every server delete runs it.
_REMOVE_MEMBER = t.instance_group_members.delete().where(
    t.instance_group_members.c.instance_uuid == sa.bindparam("b_uuid"))


def remove_member(db, instance_uuid) -> None:
    with db.begin() as conn:
        conn.execute(_REMOVE_MEMBER, {"b_uuid": instance_uuid})


def groups_of(db, instance_uuids) -> dict[str, str]:
    """{instance uuid: uuid of its group} for the members among *instance_uuids*."""
    if not instance_uuids:
        return {}
    m, g = t.instance_group_members, t.instance_groups
    with db.connect() as conn:
        return {i: gu for i, gu in conn.execute(
            sa.select(m.c.instance_uuid, g.c.uuid).join(g, g.c.id == m.c.group_id)
            .where(m.c.instance_uuid.in_(list(instance_uuids))))}


def count(db, project_id, user_id=None) -> int:
    g = t.instance_groups
    query = sa.select(sa.func.count(g.c.id)).where(g.c.project_id == project_id)
    if user_id is not None:
        query = query.where(g.c.user_id == user_id)
    with db.connect() as conn:
        return conn.execute(query).scalar_one()
