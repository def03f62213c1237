"""Key pairs in the API database: one user's named public keys."""
from __future__ import annotations

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core import exception
from compute_core.db import api_schema as t
from compute_core.db.api_db import now

_K = t.key_pairs


class KeypairExists(exception.Conflict):
    msg_fmt = "Key pair '%(name)s' already exists."


def create(db, user_id, name, public_key, fingerprint, key_type="ssh") -> dict:
    try:
        with db.begin() as conn:
            conn.execute(_K.insert().values(user_id=user_id, name=name, public_key=public_key,
                                            fingerprint=fingerprint, type=key_type,
                                            created_at=now()))
    except db_exc.DBDuplicateEntry:
        raise KeypairExists(name=name) from None
    return get(db, user_id, name)


def get(db, user_id, name) -> dict:
    with db.connect() as conn:
        row = conn.execute(sa.select(_K).where(_K.c.user_id == user_id)
                           .where(_K.c.name == name)).first()
    if row is None:
        raise exception.KeypairNotFound(name=name, user_id=user_id)
    return dict(row._mapping)


def list_for_user(db, user_id, limit=None, marker=None) -> list[dict]:
    """The user's key pairs by name; after the one named *marker* (a name
    the user does not have raises exception.KeypairNotFound, as Nova's 400 wants)."""
    query = sa.select(_K).where(_K.c.user_id == user_id).order_by(_K.c.name)
    with db.connect() as conn:
        if marker is not None:
            if conn.execute(sa.select(_K.c.id).where(_K.c.user_id == user_id)
                            .where(_K.c.name == marker)).first() is None:
                raise exception.KeypairNotFound(name=marker, user_id=user_id)
            query = query.where(_K.c.name > marker)
        if limit is not None:
            query = query.limit(limit)
        return [dict(r._mapping) for r in conn.execute(query)]


def delete(db, user_id, name) -> None:
    with db.begin() as conn:
        gone = conn.execute(_K.delete().where(_K.c.user_id == user_id)
                            .where(_K.c.name == name)).rowcount
    if not gone:
        raise exception.KeypairNotFound(name=name, user_id=user_id)


def count(db, user_id) -> int:
    with db.connect() as conn:
        return conn.execute(sa.select(sa.func.count(_K.c.id))
                            .where(_K.c.user_id == user_id)).scalar_one()
