"""What a flavor carries beside its sizes, in the API database: extra
specs, the projects a private flavor is shared with, its description."""
from __future__ import annotations

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core import exception
from compute_core.db import api_schema as t
from compute_core.db.api_db import get_flavor, now

_S, _P = t.flavor_extra_specs, t.flavor_projects


class FlavorExtraSpecNotFound(exception.NotFound):
    msg_fmt = "Flavor %(flavor_id)s has no extra specs with key %(key)s."


class FlavorAccessExists(exception.Conflict):
    msg_fmt = "Flavor access already exists for flavor %(flavor_id)s and project " \
              "%(project_id)s combination."


class FlavorAccessNotFound(exception.NotFound):
    msg_fmt = "Flavor access not found for %(flavor_id)s / %(project_id)s combination."


class PublicFlavorAccess(exception.Conflict):
    msg_fmt = "Can not add access to a public flavor."


class PublicFlavorAccessList(exception.NotFound):
    msg_fmt = "Access list not available for public flavors."


def _row(conn, flavorid):
    row = conn.execute(sa.select(t.flavors.c.id, t.flavors.c.is_public)
                       .where(t.flavors.c.flavorid == str(flavorid))).first()
    if row is None:
        raise exception.FlavorNotFound(flavor_id=flavorid)
    return row


def extra_specs(db, flavorid) -> dict:
    return get_flavor(db, flavorid)["extra_specs"]


def set_extra_specs(db, flavorid, specs: dict) -> dict:
    """Create or replace the keys of *specs*; returns *specs* as stored."""
    with db.begin() as conn:
        fid = _row(conn, flavorid).id
        for key, value in specs.items():
            done = conn.execute(_S.update().where(_S.c.flavor_id == fid).where(_S.c.key == key)
                                .values(value=str(value))).rowcount
            if not done:
                conn.execute(_S.insert().values(flavor_id=fid, key=key, value=str(value)))
    return {k: str(v) for k, v in specs.items()}


def delete_extra_spec(db, flavorid, key) -> None:
    with db.begin() as conn:
        fid = _row(conn, flavorid).id
        if not conn.execute(_S.delete().where(_S.c.flavor_id == fid)
                            .where(_S.c.key == key)).rowcount:
            raise FlavorExtraSpecNotFound(flavor_id=flavorid, key=key)


def access_list(db, flavorid) -> list[str]:
    with db.connect() as conn:
        row = _row(conn, flavorid)
        if row.is_public:
            raise PublicFlavorAccessList()
        return [r.project_id for r in conn.execute(
            sa.select(_P.c.project_id).where(_P.c.flavor_id == row.id).order_by(_P.c.id))]


def add_access(db, flavorid, project_id) -> list[str]:
    try:
        with db.begin() as conn:
            row = _row(conn, flavorid)
            if row.is_public:
                raise PublicFlavorAccess()
            if conn.execute(sa.select(_P.c.id).where(_P.c.flavor_id == row.id)
                            .where(_P.c.project_id == project_id)).first() is not None:
                raise FlavorAccessExists(flavor_id=flavorid, project_id=project_id)
            conn.execute(_P.insert().values(flavor_id=row.id, project_id=project_id,
                                            created_at=now()))
    except db_exc.DBDuplicateEntry:
        raise FlavorAccessExists(flavor_id=flavorid, project_id=project_id) from None
    return access_list(db, flavorid)


def remove_access(db, flavorid, project_id) -> list[str]:
    with db.begin() as conn:
        row = _row(conn, flavorid)
        if row.is_public:
            raise PublicFlavorAccessList()
        if not conn.execute(_P.delete().where(_P.c.flavor_id == row.id)
                            .where(_P.c.project_id == project_id)).rowcount:
            raise FlavorAccessNotFound(flavor_id=flavorid, project_id=project_id)
    return access_list(db, flavorid)


def set_description(db, flavorid, description) -> dict:
    with db.begin() as conn:
        fid = _row(conn, flavorid).id
        conn.execute(t.flavors.update().where(t.flavors.c.id == fid)
                     .values(description=description, updated_at=now()))
    return get_flavor(db, flavorid)
