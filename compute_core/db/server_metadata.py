"""A server's metadata (key/value pairs) and tags, in its cell database.

Metadata rows live in ``instance_metadata``; tags in the instance's ``tags``
column (a JSON list, in the order they were added). Each write bumps the
instance's ``updated_at`` (changes-since listings see it).
"""
from __future__ import annotations

import sqlalchemy as sa

from compute_core import exception
from compute_core.db import cell_schema as t
from compute_core.db.cell_db import now

_M, _I = t.instance_metadata, t.instances


class MetadataItemNotFound(exception.NotFound):
    msg_fmt = "Metadata item was not found"


class TagNotFound(exception.NotFound):
    msg_fmt = "Tag %(tag)s could not be found for instance %(instance_id)s."


def _live(conn, uuid):
    row = conn.execute(sa.select(_I.c.id, _I.c.tags).where(_I.c.uuid == uuid)
                       .where(_I.c.deleted == 0)).first()
    if row is None:
        raise exception.InstanceNotFound(instance_id=uuid)
    return row


def _read(conn, uuid) -> dict:
    return {r.key: r.value for r in conn.execute(
        sa.select(_M.c.key, _M.c.value).where(_M.c.instance_uuid == uuid).order_by(_M.c.id))}


def get_metadata(db, uuid) -> dict:
    with db.connect() as conn:
        _live(conn, uuid)
        return _read(conn, uuid)


def update_metadata(db, uuid, metadata: dict, replace=False) -> dict:
    """Set the keys of *metadata* (and with *replace*, delete every other
    key); returns the server's whole metadata."""
    stamp = now()
    with db.begin() as conn:
        _live(conn, uuid)
        have = _read(conn, uuid)
        if replace:
            gone = [k for k in have if k not in metadata]
            if gone:
                conn.execute(_M.delete().where(_M.c.instance_uuid == uuid)
                             .where(_M.c.key.in_(gone)))
        for key, value in metadata.items():
            if key in have:
                if have[key] != value:
                    conn.execute(_M.update().where(_M.c.instance_uuid == uuid)
                                 .where(_M.c.key == key).values(value=value, updated_at=stamp))
            else:
                conn.execute(_M.insert().values(instance_uuid=uuid, key=key, value=value,
                                                created_at=stamp))
        conn.execute(_I.update().where(_I.c.uuid == uuid).values(updated_at=stamp))
        return _read(conn, uuid)


def delete_metadata_item(db, uuid, key) -> None:
    with db.begin() as conn:
        _live(conn, uuid)
        if not conn.execute(_M.delete().where(_M.c.instance_uuid == uuid)
                            .where(_M.c.key == key)).rowcount:
            raise MetadataItemNotFound()
        conn.execute(_I.update().where(_I.c.uuid == uuid).values(updated_at=now()))


def get_tags(db, uuid) -> list[str]:
    with db.connect() as conn:
        return list(_live(conn, uuid).tags or [])


def _write_tags(conn, uuid, tags):
    conn.execute(_I.update().where(_I.c.uuid == uuid).values(tags=tags, updated_at=now()))


def set_tags(db, uuid, tags: list[str]) -> list[str]:
    tags = list(dict.fromkeys(tags))
    with db.begin() as conn:
        _live(conn, uuid)
        _write_tags(conn, uuid, tags)
    return tags


def add_tag(db, uuid, tag: str, max_tags: int) -> bool:
    """Add *tag*; False when it was there already. TooManyTags past *max_tags*."""
    with db.begin() as conn:
        tags = list(_live(conn, uuid).tags or [])
        if tag in tags:
            return False
        if len(tags) >= max_tags:
            raise TooManyTags(max_tags=max_tags)
        _write_tags(conn, uuid, tags + [tag])
    return True


def delete_tag(db, uuid, tag: str) -> None:
    with db.begin() as conn:
        tags = list(_live(conn, uuid).tags or [])
        if tag not in tags:
            raise TagNotFound(tag=tag, instance_id=uuid)
        tags.remove(tag)
        _write_tags(conn, uuid, tags)


class TooManyTags(exception.Invalid):
    msg_fmt = "The number of tags exceeded the per-server limit %(max_tags)d"
