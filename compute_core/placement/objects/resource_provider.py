"""Resource providers and their trees: create, read, filter, rename or
re-parent, delete.
"""
from __future__ import annotations

import collections
import uuid as uuidlib

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core.placement import tables as s
from compute_core.placement.exception import (
    Conflict, GenerationConflict, ObjectActionError, ProviderNotFound)
from compute_core.placement.objects.base import lookup_provider, now, uuid_map
from compute_core.placement.objects.candidate_filters import (
    agg_filters, free_expr, RequestGroup, resolve_names, trait_filters)


def _provider_row_to_dict(row, uuids) -> dict:
    return {
        "uuid": row.uuid, "name": row.name, "generation": row.generation,
        "root_provider_uuid": uuids.get(row.root_provider_id, row.uuid),
        "parent_provider_uuid": uuids.get(row.parent_provider_id),
    }


def create_provider(db, name: str, rp_uuid: str | None = None,
                    parent_uuid: str | None = None) -> dict:
    rp = s.resource_providers
    rp_uuid = rp_uuid or str(uuidlib.uuid4())
    if not name:
        raise ObjectActionError("create", "name is required")
    with db.begin() as conn:
        parent_id = root_id = None
        if parent_uuid == rp_uuid:
            raise ObjectActionError("create", "parent provider UUID cannot be same as UUID. "
                                    "Please set parent provider UUID to None if there is no "
                                    "parent.")
        if parent_uuid:
            prow = conn.execute(sa.select(rp.c.id, rp.c.root_provider_id)
                                .where(rp.c.uuid == parent_uuid)).first()
            if prow is None:
                raise ObjectActionError("create", "parent provider UUID does not exist.")
            parent_id, root_id = prow.id, prow.root_provider_id
        try:
            new_id = conn.execute(rp.insert().values(
                uuid=rp_uuid, name=name, generation=0, parent_provider_id=parent_id,
                root_provider_id=root_id, created_at=now(), updated_at=now(),
            )).inserted_primary_key[0]
        except db_exc.DBDuplicateEntry as exc:
            field = "uuid" if "uuid" in str(exc.columns) else "name"
            value = rp_uuid if field == "uuid" else name
            raise Conflict(f"Conflicting resource provider {field}: {value} already exists.",
                           code="placement.duplicate_name") from None
        if root_id is None:
            conn.execute(rp.update().where(rp.c.id == new_id).values(root_provider_id=new_id))
    return get_provider(db, rp_uuid)


def provider_exists(db, rp_uuid: str) -> bool:
    rp = s.resource_providers
    with db.connect() as conn:
        return conn.execute(sa.select(rp.c.id).where(rp.c.uuid == rp_uuid)).first() is not None


def get_provider(db, rp_uuid: str) -> dict:
    rp = s.resource_providers
    with db.connect() as conn:
        row = conn.execute(sa.select(rp).where(rp.c.uuid == rp_uuid)).first()
        if row is None:
            raise ProviderNotFound(f"No resource provider with uuid {rp_uuid} found")
        uuids = uuid_map(conn, [row.root_provider_id, row.parent_provider_id])
    return _provider_row_to_dict(row, uuids)


def list_providers(db, name=None, uuid=None, in_tree=None, resources=None,
                   required=None, forbidden=None, member_of=None, forbidden_aggs=None,
                   rc_cache=None) -> list[dict]:
    """Providers matching every filter given. *required* is a list of sets
    of trait names (any of each set), *member_of* a list of sets of
    aggregate uuids (any of each set)."""
    rp, inv = s.resource_providers, s.inventories
    q = sa.select(rp)
    with db.connect() as conn:
        if name is not None:
            q = q.where(rp.c.name == name)
        if uuid is not None:
            q = q.where(rp.c.uuid == uuid)
        if in_tree is not None:
            root = conn.execute(sa.select(rp.c.root_provider_id)
                                .where(rp.c.uuid == in_tree)).scalar()
            q = q.where(rp.c.root_provider_id == (root if root is not None else -1))
        group = RequestGroup(required=required or [], forbidden=forbidden or set(),
                             member_of=member_of or [],
                             forbidden_aggs=forbidden_aggs or set())
        resolved = resolve_names(conn, group)
        if resolved is None:
            return []
        # No provider with the required traits, or none in the aggregates:
        # nothing, before the classes are looked up (openstack-placement's
        # order: an unknown class is no 400 then).
        for cond in (trait_filters(rp.c.id, resolved[0], None),
                     agg_filters(rp.c.id, resolved[2], None)):
            if cond and conn.execute(sa.select(rp.c.id).where(*cond).limit(1)).first() is None:
                return []
        for rc_name, amount in (resources or {}).items():
            q = q.where(sa.exists().where(inv.c.resource_provider_id == rp.c.id)
                        .where(inv.c.resource_class_id == rc_cache.id_of(rc_name))
                        .where(free_expr(inv, amount)))
        conds = (trait_filters(rp.c.id, resolved[0], resolved[1])
                 + agg_filters(rp.c.id, resolved[2], resolved[3]))
        if conds:
            q = q.where(*conds)
        rows = conn.execute(q.order_by(rp.c.id)).all()
        uuids = {r.id: r.uuid for r in rows}
        missing = {r.root_provider_id for r in rows} | {r.parent_provider_id for r in rows}
        uuids.update(uuid_map(conn, missing - set(uuids)))
    return [_provider_row_to_dict(r, uuids) for r in rows]


def update_provider(db, rp_uuid: str, name: str, parent_uuid=...,
                    allow_reparent: bool = False) -> dict:
    """Rename a provider and (1.14+) set its parent; from 1.37 the parent may
    change or be removed, moving the whole subtree."""
    rp = s.resource_providers
    with db.begin() as conn:
        rp_id, gen = lookup_provider(conn, rp_uuid)
        current = conn.execute(sa.select(rp.c.parent_provider_id, rp.c.root_provider_id)
                               .where(rp.c.id == rp_id)).first()
        # openstack-placement leaves the generation of a renamed or
        # re-parented provider as it was.
        values = {"name": name, "updated_at": now()}
        new_root = None
        if parent_uuid is None and current.parent_provider_id is not None:
            if not allow_reparent:
                raise ObjectActionError("update", "un-parenting a provider is not currently "
                                        "allowed.")
            values.update(parent_provider_id=None, root_provider_id=rp_id)
            new_root = rp_id
        elif parent_uuid not in (None, ...):
            prow = conn.execute(sa.select(rp.c.id, rp.c.root_provider_id)
                                .where(rp.c.uuid == parent_uuid)).first()
            if prow is None:
                # (Placement names this check's action "create")
                raise ObjectActionError("create", "parent provider UUID does not exist.")
            if prow.id != current.parent_provider_id:
                if current.parent_provider_id is not None and not allow_reparent:
                    raise ObjectActionError("update", "re-parenting a provider is not "
                                            "currently allowed.")
                if prow.id in _subtree_ids(conn, rp_id):
                    raise ObjectActionError("update", "creating loop in the provider tree "
                                            "is not allowed.")
                values.update(parent_provider_id=prow.id, root_provider_id=prow.root_provider_id)
                new_root = prow.root_provider_id
        below = _subtree_ids(conn, rp_id) - {rp_id} if new_root is not None else set()
        try:
            res = conn.execute(rp.update().where(rp.c.id == rp_id)
                               .where(rp.c.generation == gen).values(**values))
        except db_exc.DBDuplicateEntry:
            raise Conflict(f"Conflicting resource provider {name} already exists.",
                           code="placement.duplicate_name") from None
        if res.rowcount != 1:
            raise GenerationConflict("resource provider was updated concurrently",
                                     code="placement.concurrent_update")
        if new_root is not None:
            if below:
                conn.execute(rp.update().where(rp.c.id.in_(below))
                             .values(root_provider_id=new_root))
    return get_provider(db, rp_uuid)


def _subtree_ids(conn, rp_id: int) -> set:
    """*rp_id* and all its descendants."""
    rp = s.resource_providers
    root = conn.execute(sa.select(rp.c.root_provider_id).where(rp.c.id == rp_id)).scalar()
    children = collections.defaultdict(list)
    for pid, parent in conn.execute(sa.select(rp.c.id, rp.c.parent_provider_id)
                                    .where(rp.c.root_provider_id == root)):
        children[parent].append(pid)
    out, todo = set(), [rp_id]
    while todo:
        cur = todo.pop()
        out.add(cur)
        todo.extend(children.get(cur, ()))
    return out


def delete_provider(db, rp_uuid: str) -> None:
    rp = s.resource_providers
    with db.begin() as conn:
        rp_id, _ = lookup_provider(conn, rp_uuid)
        if conn.execute(sa.select(sa.func.count()).select_from(s.allocations)
                        .where(s.allocations.c.resource_provider_id == rp_id)).scalar():
            raise Conflict(f"Unable to delete resource provider {rp_uuid}: Resource provider "
                           "has allocations.", code="placement.resource_provider.inuse")
        if conn.execute(sa.select(sa.func.count()).select_from(rp)
                        .where(rp.c.parent_provider_id == rp_id)).scalar():
            raise Conflict(f"Unable to delete parent resource provider {rp_uuid}: It has "
                           "child resource providers.",
                           code="placement.resource_provider.cannot_delete_parent")
        conn.execute(s.inventories.delete().where(s.inventories.c.resource_provider_id == rp_id))
        conn.execute(s.resource_provider_traits.delete()
                     .where(s.resource_provider_traits.c.resource_provider_id == rp_id))
        conn.execute(s.resource_provider_aggregates.delete()
                     .where(s.resource_provider_aggregates.c.resource_provider_id == rp_id))
        conn.execute(rp.update().where(rp.c.id == rp_id).values(root_provider_id=None))
        conn.execute(rp.delete().where(rp.c.id == rp_id))
