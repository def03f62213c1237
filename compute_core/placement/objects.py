"""The placement object layer: all SQL of the placement service lives here.

Handlers call these functions; they never see a connection. Every write that
changes what a provider can offer or what it has handed out bumps the
provider's generation with a compare-and-swap, which is what makes claims
atomic on every database without table locks.
"""
from __future__ import annotations

import collections
import random
import time
import uuid as uuidlib

import os_resource_classes as orc
import os_traits
import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core import clock
from compute_core.placement import schema as s

CUSTOM_RC_ID_OFFSET = 10000


class PlacementError(Exception):
    status = 400
    code = "placement.undefined_code"
    vary = True  # raised by the handler itself (see app.fault)

    def __init__(self, detail, code=None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class NotFound(PlacementError):
    status = 404


class ProviderNotFound(NotFound):
    """openstack-placement lets its object layer's NotFound through to its
    dispatcher: no error code, no Vary."""
    vary = False


class ResourceClassNotFound(NotFound):
    vary = False  # through openstack-placement's dispatcher, as ProviderNotFound


class Conflict(PlacementError):
    status = 409


class GenerationConflict(Conflict):
    code = "placement.concurrent_update"


class ProviderRaced(GenerationConflict):
    """A provider's generation moved under a write: retried where the API
    says the service retries (allocations), a 409 elsewhere."""


class InventoryInUse(Conflict):
    code = "placement.inventory.inuse"


class BadRequest(PlacementError):
    status = 400


def _now():
    return clock.current().utcnow()


# Statements of the hot paths (every claim, every lookup of a provider) are
# built once, with bound parameters: building a SQLAlchemy construct costs
# more CPU than running it, and a statement built once hits SQLAlchemy's
# compiled cache without even computing its cache key anew.
_b = sa.bindparam
_rp, _inv, _alloc, _cons = s.resource_providers, s.inventories, s.allocations, s.consumers

_PROVIDER_BY_UUID = sa.select(_rp.c.id, _rp.c.generation).where(_rp.c.uuid == _b("uuid"))
_BUMP = (_rp.update().where(_rp.c.id == _b("rp_id")).where(_rp.c.generation == _b("expected"))
         .values(generation=_b("new_gen"), updated_at=_b("now")))
_USAGE_BY_CLASS = (sa.select(_alloc.c.resource_class_id, sa.func.sum(_alloc.c.used))
                   .where(_alloc.c.resource_provider_id == _b("rp_id"))
                   .group_by(_alloc.c.resource_class_id))
# What a claim reads before it writes, in one round trip: k=0 the consumer
# row (id, generation), k=1 the providers it holds allocations on, k=2 the
# providers it asks for (by uuid).
_CLAIM_STATE = sa.union_all(
    sa.select(sa.literal_column("0").label("k"), _cons.c.id, _cons.c.generation,
              sa.null().label("uuid")).where(_cons.c.uuid == _b("cu")),
    sa.select(sa.literal_column("1"), _rp.c.id, _rp.c.generation, sa.null()).distinct()
    .select_from(_alloc.join(_rp, _rp.c.id == _alloc.c.resource_provider_id))
    .where(_alloc.c.consumer_id == _b("cu")),
    sa.select(sa.literal_column("2"), _rp.c.id, _rp.c.generation, _rp.c.uuid)
    .where(_rp.c.uuid.in_(_b("uuids", expanding=True))))
_CLAIM_STATE_NO_PROVIDERS = sa.union_all(*_CLAIM_STATE.selects[:2])
_INVENTORY_AND_USAGE = sa.select(
    _inv.c.resource_provider_id, _inv.c.resource_class_id, _inv.c.total, _inv.c.reserved,
    _inv.c.min_unit, _inv.c.max_unit, _inv.c.step_size, _inv.c.allocation_ratio,
    sa.select(sa.func.coalesce(sa.func.sum(_alloc.c.used), 0))
    .where(_alloc.c.resource_provider_id == _inv.c.resource_provider_id)
    .where(_alloc.c.resource_class_id == _inv.c.resource_class_id)
    .scalar_subquery().label("used"),
).where(_inv.c.resource_provider_id.in_(_b("rp_ids", expanding=True))).order_by(
    _inv.c.resource_provider_id, _inv.c.id)
_DELETE_CONSUMER_ALLOCATIONS = _alloc.delete().where(_alloc.c.consumer_id == _b("cu"))
_DELETE_CONSUMER = _cons.delete().where(_cons.c.id == _b("consumer_row"))
# Its SET clause comes from the column names among the parameters.
_UPDATE_CONSUMER = (_cons.update().where(_cons.c.id == _b("consumer_row"))
                    .where(_cons.c.generation == _b("expected_gen")))
_HAS_ALLOCATIONS = sa.select(_alloc.c.id).where(_alloc.c.consumer_id == _b("cu")).limit(1)


# ---------------------------------------------------------------- classes

class ResourceClassCache:
    """Name <-> id of resource classes; standard ones never touch the DB."""

    def __init__(self, db):
        self.db = db
        # Ids of projects and users by external id: those rows are never
        # deleted nor renamed, so once seen an id holds for good.
        self.external_ids: dict = {}
        self._by_name = {name: i for i, name in enumerate(orc.STANDARDS)}
        self._by_id = dict(enumerate(orc.STANDARDS))

    def _reload(self):
        with self.db.connect() as conn:
            for row in conn.execute(sa.select(s.resource_classes.c.id, s.resource_classes.c.name)):
                self._by_name[row.name] = row.id
                self._by_id[row.id] = row.name

    def id_of(self, name: str) -> int:
        if name not in self._by_name:
            self._reload()
        try:
            return self._by_name[name]
        except KeyError:
            raise ResourceClassNotFound(f"No such resource class {name}.") from None

    def name_of(self, rc_id: int) -> str:
        if rc_id not in self._by_id:
            self._reload()
        return self._by_id[rc_id]

    def all(self) -> list[str]:
        self._reload()
        return [self._by_id[i] for i in sorted(self._by_id)]

    def create_custom(self, name: str) -> None:
        if not name.startswith(orc.CUSTOM_NAMESPACE):
            raise BadRequest(f"Resource class name {name} must start with CUSTOM_")
        with self.db.begin() as conn:
            top = conn.execute(sa.select(sa.func.max(s.resource_classes.c.id))).scalar()
            try:
                conn.execute(s.resource_classes.insert().values(
                    id=max(top or 0, CUSTOM_RC_ID_OFFSET - 1) + 1, name=name, created_at=_now()))
            except db_exc.DBDuplicateEntry:
                raise Conflict(f"Conflicting resource class already exists: {name}") from None
        self._reload()

    def _custom_id(self, name: str) -> int:
        rc_id = self.id_of(name)
        if rc_id < CUSTOM_RC_ID_OFFSET:
            raise BadRequest(f"Cannot change standard resource class {name}.")
        return rc_id

    def delete_custom(self, name: str) -> None:
        rc_id = self._custom_id(name)
        with self.db.begin() as conn:
            for table in (s.inventories, s.allocations):
                if conn.execute(sa.select(table.c.id).where(table.c.resource_class_id == rc_id)
                                .limit(1)).first():
                    raise Conflict(f"Error in delete resource class: Resource class {name} "
                                   "is in use in inventory or allocations.")
            conn.execute(s.resource_classes.delete().where(s.resource_classes.c.id == rc_id))
        self._by_name.pop(name, None)
        self._by_id.pop(rc_id, None)

    def rename_custom(self, name: str, new_name: str) -> None:
        rc_id = self._custom_id(name)
        try:
            with self.db.begin() as conn:
                conn.execute(s.resource_classes.update().where(s.resource_classes.c.id == rc_id)
                             .values(name=new_name, updated_at=_now()))
        except db_exc.DBDuplicateEntry:
            raise Conflict(f"Resource class already exists: {new_name}",
                           code="placement.duplicate_name") from None
        self._by_name.pop(name, None)
        self._by_id.pop(rc_id, None)
        self._reload()


# -------------------------------------------------------------- providers

def _provider_row_to_dict(row, uuids) -> dict:
    return {
        "uuid": row.uuid, "name": row.name, "generation": row.generation,
        "root_provider_uuid": uuids.get(row.root_provider_id, row.uuid),
        "parent_provider_uuid": uuids.get(row.parent_provider_id),
    }


def _uuid_map(conn, ids):
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    rp = s.resource_providers
    return dict(conn.execute(sa.select(rp.c.id, rp.c.uuid).where(rp.c.id.in_(ids))).all())


def _provider_id(conn, rp_uuid: str) -> tuple[int, int]:
    row = conn.execute(_PROVIDER_BY_UUID, {"uuid": rp_uuid}).first()
    if row is None:
        raise ProviderNotFound(f"No resource provider with uuid {rp_uuid} found")
    return row.id, row.generation


def create_provider(db, name: str, rp_uuid: str | None = None,
                    parent_uuid: str | None = None) -> dict:
    rp = s.resource_providers
    rp_uuid = rp_uuid or str(uuidlib.uuid4())
    with db.begin() as conn:
        parent_id = root_id = None
        if parent_uuid:
            prow = conn.execute(sa.select(rp.c.id, rp.c.root_provider_id)
                                .where(rp.c.uuid == parent_uuid)).first()
            if prow is None:
                raise BadRequest(f"parent provider UUID {parent_uuid} does not exist.")
            parent_id, root_id = prow.id, prow.root_provider_id
        try:
            new_id = conn.execute(rp.insert().values(
                uuid=rp_uuid, name=name, generation=0, parent_provider_id=parent_id,
                root_provider_id=root_id, created_at=_now(), updated_at=_now(),
            )).inserted_primary_key[0]
        except db_exc.DBDuplicateEntry as exc:
            field = "uuid" if "uuid" in str(exc.columns) else "name"
            value = rp_uuid if field == "uuid" else name
            raise Conflict(f"Conflicting resource provider {field}: {value} already exists.",
                           code="placement.duplicate_name") from None
        if root_id is None:
            conn.execute(rp.update().where(rp.c.id == new_id).values(root_provider_id=new_id))
    return get_provider(db, rp_uuid)


def get_provider(db, rp_uuid: str) -> dict:
    rp = s.resource_providers
    with db.connect() as conn:
        row = conn.execute(sa.select(rp).where(rp.c.uuid == rp_uuid)).first()
        if row is None:
            raise ProviderNotFound(f"No resource provider with uuid {rp_uuid} found")
        uuids = _uuid_map(conn, [row.root_provider_id, row.parent_provider_id])
    return _provider_row_to_dict(row, uuids)


def list_providers(db, name=None, uuid=None, in_tree=None, resources=None,
                   required=None, forbidden=None, member_of=None, forbidden_aggs=None,
                   rc_cache=None) -> list[dict]:
    """Providers matching every filter given. *required* is a list of sets
    of trait names (any of each set), *member_of* a list of sets of
    aggregate uuids (any of each set)."""
    from compute_core.placement import candidates

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
        for rc_name, amount in (resources or {}).items():
            q = q.where(sa.exists().where(inv.c.resource_provider_id == rp.c.id)
                        .where(inv.c.resource_class_id == rc_cache.id_of(rc_name))
                        .where(candidates._free_expr(inv, amount)))
        group = candidates.RequestGroup(required=required or [], forbidden=forbidden or set(),
                                        member_of=member_of or [],
                                        forbidden_aggs=forbidden_aggs or set())
        resolved = candidates._resolve_names(conn, group)
        if resolved is None:
            return []
        conds = (candidates._trait_filters(rp.c.id, resolved[0], resolved[1])
                 + candidates._agg_filters(rp.c.id, resolved[2], resolved[3]))
        if conds:
            q = q.where(*conds)
        rows = conn.execute(q.order_by(rp.c.id)).all()
        uuids = {r.id: r.uuid for r in rows}
        missing = {r.root_provider_id for r in rows} | {r.parent_provider_id for r in rows}
        uuids.update(_uuid_map(conn, missing - set(uuids)))
    return [_provider_row_to_dict(r, uuids) for r in rows]


def update_provider(db, rp_uuid: str, name: str, parent_uuid=...,
                    allow_reparent: bool = False) -> dict:
    """Rename a provider and (1.14+) set its parent; from 1.37 the parent may
    change or be removed, moving the whole subtree."""
    rp = s.resource_providers
    with db.begin() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        current = conn.execute(sa.select(rp.c.parent_provider_id, rp.c.root_provider_id)
                               .where(rp.c.id == rp_id)).first()
        # openstack-placement leaves the generation of a renamed or
        # re-parented provider as it was.
        values = {"name": name, "updated_at": _now()}
        new_root = None
        if parent_uuid is None and current.parent_provider_id is not None:
            if not allow_reparent:
                raise BadRequest("Un-parenting a provider is not allowed.")
            values.update(parent_provider_id=None, root_provider_id=rp_id)
            new_root = rp_id
        elif parent_uuid not in (None, ...):
            prow = conn.execute(sa.select(rp.c.id, rp.c.root_provider_id)
                                .where(rp.c.uuid == parent_uuid)).first()
            if prow is None:
                raise BadRequest(f"parent provider UUID {parent_uuid} does not exist.")
            if prow.id != current.parent_provider_id:
                if current.parent_provider_id is not None and not allow_reparent:
                    raise BadRequest("Re-parenting a provider is not allowed.")
                if prow.id in _subtree_ids(conn, rp_id):
                    raise BadRequest("creating loop in the provider tree is not allowed.")
                values.update(parent_provider_id=prow.id, root_provider_id=prow.root_provider_id)
                new_root = prow.root_provider_id
        below = _subtree_ids(conn, rp_id) - {rp_id} if new_root is not None else set()
        try:
            res = conn.execute(rp.update().where(rp.c.id == rp_id)
                               .where(rp.c.generation == gen).values(**values))
        except db_exc.DBDuplicateEntry:
            raise Conflict(f"Conflicting resource provider name: {name} already exists.",
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
        rp_id, _ = _provider_id(conn, rp_uuid)
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


def _bump_generation(conn, rp_id: int, expected: int) -> int:
    res = conn.execute(_BUMP, {"rp_id": rp_id, "expected": expected,
                               "new_gen": expected + 1, "now": _now()})
    if res.rowcount != 1:
        raise ProviderRaced(
            "resource provider generation conflict: another process changed the "
            "provider concurrently; refresh and retry")
    return expected + 1


# ------------------------------------------------------------ inventories

INVENTORY_FIELDS = ("total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio")


def _inventory_defaults(inv: dict) -> dict:
    # openstack-placement's defaults: max_unit is the largest integer, not the total
    out = {"reserved": 0, "min_unit": 1, "max_unit": 2147483647, "step_size": 1,
           "allocation_ratio": 1.0}
    out.update(inv)
    return out


def get_inventories(db, rp_uuid: str, rc_cache) -> tuple[int, dict]:
    inv = s.inventories
    with db.connect() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        rows = conn.execute(sa.select(inv).where(inv.c.resource_provider_id == rp_id)).all()
    return gen, {rc_cache.name_of(r.resource_class_id): {f: getattr(r, f) for f in INVENTORY_FIELDS}
                 for r in rows}


def _check_inventory(rp_uuid, name, values, reserved_may_equal_total=True):
    if values["reserved"] > values["total"] or (
            values["reserved"] == values["total"] and not reserved_may_equal_total):
        raise BadRequest(f"Unable to update inventory for resource provider {rp_uuid}: "
                         f"Invalid inventory for '{name}': reserved {values['reserved']} "
                         f"must be less than total {values['total']}.")


def set_inventories(db, rp_uuid: str, generation: int, inventories: dict, rc_cache,
                    replace: bool = True, reserved_may_equal_total: bool = True,
                    must_exist: bool = False) -> tuple[int, dict]:
    """Replace (or, with replace=False, merge) a provider's inventories."""
    with db.begin() as conn:
        return _set_inventories_in(conn, rp_uuid, generation, inventories, rc_cache, replace,
                                   reserved_may_equal_total, must_exist)


def _set_inventories_in(conn, rp_uuid, generation, inventories, rc_cache, replace=True,
                        reserved_may_equal_total=True, must_exist=False, check_in_use=True):
    inv = s.inventories
    wanted = {rc_cache.id_of(name): (name, _inventory_defaults(v))
              for name, v in inventories.items()}
    for rc_id, (name, values) in wanted.items():
        _check_inventory(rp_uuid, name, values, reserved_may_equal_total)
    rp_id, gen = _provider_id(conn, rp_uuid)
    if generation is not None and gen != generation:
        raise GenerationConflict(
            "resource provider generation conflict: another process changed the "
            "provider concurrently; refresh and retry")
    existing = {r.resource_class_id: r for r in conn.execute(
        sa.select(inv).where(inv.c.resource_provider_id == rp_id))}
    if must_exist:
        for rc_id, (name, _) in wanted.items():
            if rc_id not in existing:
                raise BadRequest(f"No inventory record with resource class {name} for "
                                 f"resource provider {rp_uuid}")
    if replace:
        used = _usage_by_class(conn, rp_id) if check_in_use else {}
        for rc_id in set(existing) - set(wanted):
            if used.get(rc_id):
                raise InventoryInUse(
                    f"Inventory for '{rc_cache.name_of(rc_id)}' on resource provider "
                    f"'{rp_uuid}' in use.")
            conn.execute(inv.delete().where(inv.c.id == existing[rc_id].id))
    for rc_id, (name, values) in wanted.items():
        if rc_id in existing:
            conn.execute(inv.update().where(inv.c.id == existing[rc_id].id)
                         .values(updated_at=_now(), **values))
        else:
            conn.execute(inv.insert().values(resource_provider_id=rp_id, resource_class_id=rc_id,
                                             created_at=_now(), **values))
    try:
        new_gen = _bump_generation(conn, rp_id, gen)
    except ProviderRaced as exc:
        raise GenerationConflict(exc.detail) from None
    return new_gen, {name: values for name, values in wanted.values()}


def delete_inventory(db, rp_uuid: str, rc_name: str, generation, rc_cache) -> int:
    inv = s.inventories
    try:
        rc_id = rc_cache.id_of(rc_name)
    except NotFound:
        raise NotFound(f"No inventory of class {rc_name} found for delete") from None
    with db.begin() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        if generation is not None and gen != generation:
            raise GenerationConflict("resource provider generation conflict")
        if _usage_by_class(conn, rp_id).get(rc_id):
            raise InventoryInUse(f"Inventory for '{rc_name}' on resource provider "
                                 f"'{rp_uuid}' in use.")
        res = conn.execute(inv.delete().where(inv.c.resource_provider_id == rp_id)
                           .where(inv.c.resource_class_id == rc_id))
        if res.rowcount == 0:
            raise NotFound(f"No inventory of class {rc_name} found for delete")
        try:
            return _bump_generation(conn, rp_id, gen)
        except ProviderRaced as exc:
            raise GenerationConflict(exc.detail) from None


def _usage_by_class(conn, rp_id: int) -> dict:
    return {rc: int(n) for rc, n in conn.execute(_USAGE_BY_CLASS, {"rp_id": rp_id})}


def get_usages(db, rp_uuid: str, rc_cache) -> tuple[int, dict]:
    inv = s.inventories
    with db.connect() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        used = _usage_by_class(conn, rp_id)
        classes = conn.execute(sa.select(inv.c.resource_class_id)
                               .where(inv.c.resource_provider_id == rp_id)).scalars().all()
    return gen, {rc_cache.name_of(c): used.get(c, 0) for c in set(classes) | set(used)}


def project_usages(db, project_id: str, user_id=None, rc_cache=None,
                   consumer_type=None, by_type=False) -> dict:
    """Usages of a project (and user). With *by_type* (1.38), grouped by
    consumer type with a consumer_count each; *consumer_type* filters, "all"
    folds every type into one group, "unknown" means consumers without one."""
    a, c = s.allocations, s.consumers
    ctype = sa.func.coalesce(c.c.consumer_type, "unknown")
    q = (sa.select(ctype.label("ctype"), a.c.resource_class_id, sa.func.sum(a.c.used),
                   sa.func.count(sa.distinct(c.c.id)))
         .select_from(a.join(c, a.c.consumer_id == c.c.uuid)
                      .join(s.projects, s.projects.c.id == c.c.project_id))
         .where(s.projects.c.external_id == project_id))
    count_q = (sa.select(ctype.label("ctype"), sa.func.count(sa.distinct(c.c.id)))
               .select_from(c.join(s.projects, s.projects.c.id == c.c.project_id))
               .where(s.projects.c.external_id == project_id))
    if user_id:
        q = q.join(s.users, s.users.c.id == c.c.user_id).where(s.users.c.external_id == user_id)
        count_q = (count_q.join(s.users, s.users.c.id == c.c.user_id)
                   .where(s.users.c.external_id == user_id))
    if consumer_type not in (None, "all"):
        # On the column itself, never on the coalesced label: "UNKNOWN" (a
        # type named so) must not match the consumers without a type under
        # MariaDB's case-insensitive collation. Stored types are [A-Z0-9_]+.
        cond = (c.c.consumer_type.is_(None) if consumer_type == "unknown"
                else c.c.consumer_type == consumer_type)
        q = q.where(cond)
        count_q = count_q.where(cond)
    fold = consumer_type == "all"
    key = (lambda t: "all") if fold else (lambda t: t)
    with db.connect() as conn:
        if not by_type:
            out: dict = {}
            for _t, rc, n, _count in conn.execute(q.group_by(ctype, a.c.resource_class_id)):
                name = rc_cache.name_of(rc)
                out[name] = out.get(name, 0) + int(n)
            return out
        out = {}
        for t, rc, n, _count in conn.execute(q.group_by(ctype, a.c.resource_class_id)):
            group = out.setdefault(key(t), {})
            name = rc_cache.name_of(rc)
            group[name] = group.get(name, 0) + int(n)
        counts: dict = {}
        for t, n in conn.execute(count_q.group_by(ctype)):
            counts[key(t)] = counts.get(key(t), 0) + int(n)
        for t, group in out.items():
            group["consumer_count"] = counts.get(t, 0)
        return out


# ------------------------------------------------------------ allocations

def _external_id(db, table, external: str, column: str = "external_id") -> int:
    """Id of the row of *table* whose *column* is *external* (a project, a
    user, an aggregate), created in its own short transaction so that a
    concurrent creator never leaves the caller's transaction without it."""
    col = table.c[column]
    with db.connect() as conn:
        row = conn.execute(sa.select(table.c.id).where(col == external)).first()
    if row:
        return row.id
    try:
        with db.begin() as conn:
            return conn.execute(table.insert().values({column: external, "created_at": _now()})
                                ).inserted_primary_key[0]
    except db_exc.DBDuplicateEntry:
        with db.connect() as conn:
            return conn.execute(sa.select(table.c.id).where(col == external)).scalar()


def get_allocations(db, consumer_uuid: str, rc_cache) -> dict:
    a, rp, c = s.allocations, s.resource_providers, s.consumers
    with db.connect() as conn:
        rows = conn.execute(sa.select(rp.c.uuid, rp.c.generation, a.c.resource_class_id, a.c.used)
                            .select_from(a.join(rp, rp.c.id == a.c.resource_provider_id))
                            .where(a.c.consumer_id == consumer_uuid)).all()
        cons = conn.execute(
            sa.select(c.c.generation, c.c.consumer_type, s.projects.c.external_id.label("project"),
                      s.users.c.external_id.label("user"))
            .select_from(c.join(s.projects, s.projects.c.id == c.c.project_id)
                         .join(s.users, s.users.c.id == c.c.user_id))
            .where(c.c.uuid == consumer_uuid)).first()
    allocs: dict = {}
    for row in rows:
        entry = allocs.setdefault(row.uuid, {"generation": row.generation, "resources": {}})
        entry["resources"][rc_cache.name_of(row.resource_class_id)] = row.used
    out = {"allocations": allocs}
    if cons is not None and allocs:
        out.update(consumer_generation=cons.generation, project_id=cons.project,
                   user_id=cons.user, consumer_type=cons.consumer_type or "unknown")
    return out


def provider_allocations(db, rp_uuid: str, rc_cache) -> tuple[int, dict]:
    a, c = s.allocations, s.consumers
    with db.connect() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        rows = conn.execute(sa.select(a.c.consumer_id, a.c.resource_class_id, a.c.used,
                                      c.c.generation)
                            .select_from(a.outerjoin(c, c.c.uuid == a.c.consumer_id))
                            .where(a.c.resource_provider_id == rp_id)).all()
    out: dict = {}
    for row in rows:
        entry = out.setdefault(row.consumer_id, {"resources": {},
                                                 "consumer_generation": row.generation})
        entry["resources"][rc_cache.name_of(row.resource_class_id)] = row.used
    return gen, out


def _external_ids(db, claims, known=None) -> dict:
    """{("project_id"|"user_id", external id): row id} of *claims*; *known*
    (a dict kept by the caller across requests) saves the look-ups."""
    ids = {}
    known = {} if known is None else known
    for claim in claims:
        if claim["allocations"]:
            for table, key in ((s.projects, "project_id"), (s.users, "user_id")):
                if (key, claim[key]) not in ids:
                    row_id = known.get((key, claim[key]))
                    if row_id is None:
                        row_id = known[(key, claim[key])] = _external_id(db, table, claim[key])
                    ids[(key, claim[key])] = row_id
    return ids


def has_allocations(db, consumer_uuid: str) -> bool:
    with db.connect() as conn:
        return conn.execute(_HAS_ALLOCATIONS, {"cu": consumer_uuid}).first() is not None


def replace_allocations(db, claims: list[dict], rc_cache, attempts: int = 30) -> None:
    """Atomically replace the allocations of one or more consumers.

    Each claim: {"consumer_uuid", "allocations": {rp_uuid: {rc: amount}},
    "project_id", "user_id", "consumer_generation" (None = new consumer,
    absent = don't check), "consumer_type"}. An empty allocations dict deletes.
    Raises Conflict (capacity) or GenerationConflict (consumer); nothing is
    written then. A provider whose generation moved under us (another claim
    won the race) is re-read and retried, as Placement does.
    """
    ext = _external_ids(db, claims, rc_cache.external_ids)
    for attempt in range(attempts):
        try:
            with db.begin() as conn:
                _apply_claims(conn, claims, rc_cache, ext)
            return
        except (ProviderRaced, db_exc.DBDeadlock, db_exc.DBError, sa.exc.OperationalError) as exc:
            if not isinstance(exc, ProviderRaced) and not is_write_race(exc):
                raise
            if attempt == attempts - 1:
                raise GenerationConflict(
                    "resource provider generation conflict: too many concurrent updates, "
                    "retry later") from None
            time.sleep(random.uniform(0, 0.002 * (attempt + 1)))


def is_write_race(exc) -> bool:
    """A database error that only means another writer got there first:
    InnoDB deadlocks and SQLite's "database is locked" (a deferred
    transaction whose snapshot went stale when another writer committed)."""
    if isinstance(exc, db_exc.DBDeadlock):
        return True
    return "database is locked" in str(exc)


def _apply_claims(conn, claims, rc_cache, ext) -> set:
    """Write *claims* in the open transaction; return the provider ids touched."""
    a, c = s.allocations, s.consumers
    touched: dict[int, int] = {}  # provider id -> generation read
    consumers = {}
    holding = set()
    found_by_claim = {}
    new_rows = []
    names = {}
    for claim in claims:
        cu = claim["consumer_uuid"]
        wanted = claim["allocations"]
        row, held, found = None, [], {}
        if wanted:
            rows = conn.execute(_CLAIM_STATE, {"cu": cu, "uuids": list(wanted)}).all()
        else:
            rows = conn.execute(_CLAIM_STATE_NO_PROVIDERS, {"cu": cu}).all()
        for kind, row_id, gen, rp_uuid in rows:
            if kind == 0:
                row = (row_id, gen)
            elif kind == 1:
                held.append((row_id, gen))
            else:
                found[rp_uuid] = (row_id, gen)
        consumers[cu] = row
        if "consumer_generation" in claim:
            expected = claim["consumer_generation"]
            have = None if row is None else row[1]
            if have != expected:
                if expected is None:
                    detail = (f"consumer generation conflict - expected null but got {have}: "
                              f"consumer {cu} already has allocations")
                else:
                    detail = (f"consumer generation conflict - expected {expected} but got "
                              f"{have}")
                raise GenerationConflict(detail, code="placement.concurrent_update")
        if held:
            holding.add(cu)
        found_by_claim[cu] = found
    # Every consumer checked before any class or provider, in
    # openstack-placement's order.
    for claim in claims:
        cu = claim["consumer_uuid"]
        wanted, found = claim["allocations"], found_by_claim[cu]
        # The providers that only lose allocations keep their generation,
        # as in openstack-placement (which bumps those it allocates from).
        for rp_uuid, resources in wanted.items():
            if rp_uuid not in found:
                raise BadRequest(f"Allocation for resource provider '{rp_uuid}' that does "
                                 "not exist.")
            rp_id, gen = found[rp_uuid]
            touched.setdefault(rp_id, gen)
            for rc_name, amount in resources.items():
                try:
                    rc_id = rc_cache.id_of(rc_name)
                except NotFound:
                    raise BadRequest(f"Unable to allocate inventory: No such resource class "
                                     f"{rc_name}.") from None
                names[(rp_id, rc_id)] = (rp_uuid, rc_name)
                new_rows.append({"resource_provider_id": rp_id, "consumer_id": cu,
                                 "resource_class_id": rc_id, "used": amount,
                                 "created_at": _now()})
    # Lock the providers first, in id order (no deadlocks between claims):
    # whoever bumps a generation second sees the first one's allocations.
    for rp_id in sorted(touched):
        _bump_generation(conn, rp_id, touched[rp_id])
    for claim in claims:
        cu = claim["consumer_uuid"]
        row = consumers[cu]
        if cu in holding:
            # Only when there is something to delete: on InnoDB a DELETE that
            # matches nothing still gap-locks the index and serialises
            # unrelated claims.
            conn.execute(_DELETE_CONSUMER_ALLOCATIONS, {"cu": cu})
        if not claim["allocations"]:
            if row is not None:
                conn.execute(_DELETE_CONSUMER, {"consumer_row": row[0]})
            continue
        project = ext[("project_id", claim["project_id"])]
        user = ext[("user_id", claim["user_id"])]
        if row is None:
            try:
                conn.execute(c.insert(), {"uuid": cu, "project_id": project, "user_id": user,
                                          "generation": 1, "created_at": _now(),
                                          "consumer_type": claim.get("consumer_type")})
            except db_exc.DBDuplicateEntry:
                raise GenerationConflict(
                    f"consumer generation conflict - consumer {cu} was created "
                    "concurrently", code="placement.concurrent_update") from None
        else:
            values = {"consumer_row": row[0], "expected_gen": row[1], "generation": row[1] + 1,
                      "project_id": project, "user_id": user, "updated_at": _now()}
            if claim.get("consumer_type") is not None:
                values["consumer_type"] = claim["consumer_type"]
            res = conn.execute(_UPDATE_CONSUMER, values)
            if res.rowcount != 1:
                raise GenerationConflict("consumer generation conflict - the consumer was "
                                         "changed concurrently",
                                         code="placement.concurrent_update")
    if not new_rows:
        return set(touched)
    # The new rows go in first: the usage read back with the inventories
    # then counts them (and no longer the replaced ones).
    conn.execute(a.insert(), new_rows)
    inv_rows = {(r.resource_provider_id, r.resource_class_id): r for r in conn.execute(
        _INVENTORY_AND_USAGE, {"rp_ids": sorted({k[0] for k in names})})}
    for r in new_rows:
        key = (r["resource_provider_id"], r["resource_class_id"])
        rp_uuid, rc_name = names[key]
        irow = inv_rows.get(key)
        if irow is None:
            raise Conflict(
                f"Unable to allocate inventory: Inventory for '{rc_name}' on "
                f"resource provider '{rp_uuid}' invalid.")
        if r["used"] < irow.min_unit or r["used"] > irow.max_unit or r["used"] % irow.step_size:
            raise Conflict(
                f"Unable to allocate inventory: Unable to allocate {r['used']} of "
                f"{rc_name} on resource provider '{rp_uuid}': violates min_unit, max_unit, "
                "or step_size.")
    for key, irow in inv_rows.items():
        if key in names and int(irow.used) > (irow.total - irow.reserved) * irow.allocation_ratio:
            rp_uuid, rc_name = names[key]
            raise Conflict(
                f"Unable to allocate inventory: Unable to create allocation for "
                f"'{rc_name}' on resource provider '{rp_uuid}'. The requested amount "
                "would exceed the capacity.")
    return set(touched)


def reshape(db, inventories: dict, claims: list[dict], rc_cache,
            reserved_may_equal_total=True) -> None:
    """POST /reshaper: replace the inventories of several providers and the
    allocations of several consumers in one transaction. *inventories* is
    {rp_uuid: (generation, {class: inventory})}. Inventories may drop a class
    still allocated as long as the new allocations move it away."""
    ext = _external_ids(db, claims, rc_cache.external_ids)
    a, inv = s.allocations, s.inventories
    with db.begin() as conn:
        rp_ids = {}
        for rp_uuid, (gen, invs) in inventories.items():
            _set_inventories_in(conn, rp_uuid, gen, invs, rc_cache, replace=True,
                                reserved_may_equal_total=reserved_may_equal_total,
                                check_in_use=False)
            rp_ids[_provider_id(conn, rp_uuid)[0]] = rp_uuid
        try:
            _apply_claims(conn, claims, rc_cache, ext)
        except ProviderRaced as exc:
            raise GenerationConflict(exc.detail) from None
        # openstack-placement writes each provider's inventory twice (an
        # interim merge when the new one is not empty, then the final one),
        # each write moving the generation: one more move than ours here.
        for rp_uuid, (_, invs) in inventories.items():
            if invs:
                rp_id, gen = _provider_id(conn, rp_uuid)
                _bump_generation(conn, rp_id, gen)
        for rp_id, rp_uuid in rp_ids.items():
            have = set(conn.execute(sa.select(inv.c.resource_class_id)
                                    .where(inv.c.resource_provider_id == rp_id)).scalars())
            left = set(conn.execute(sa.select(a.c.resource_class_id).distinct()
                                    .where(a.c.resource_provider_id == rp_id)).scalars())
            if left - have:
                names = ", ".join(sorted(rc_cache.name_of(i) for i in left - have))
                raise InventoryInUse(f"Inventory for '{names}' on resource provider "
                                     f"'{rp_uuid}' in use.")


# ----------------------------------------------------------------- traits

def ensure_standard_traits(db) -> None:
    t = s.traits
    with db.begin() as conn:
        have = set(conn.execute(sa.select(t.c.name)).scalars())
        missing = [n for n in os_traits.get_traits() if n not in have]
        if missing:
            conn.execute(t.insert(), [{"name": n, "created_at": _now()} for n in missing])


def list_traits(db, name_filter=None, associated=None) -> list[str]:
    t = s.traits
    q = sa.select(t.c.name)
    if name_filter:
        kind, _, value = name_filter.partition(":")
        if kind == "in":
            q = q.where(t.c.name.in_(value.split(",")))
        elif kind == "startswith":
            q = q.where(t.c.name.like(value + "%"))
    if associated is not None:
        sub = sa.select(s.resource_provider_traits.c.trait_id)
        q = q.where(t.c.id.in_(sub) if associated else t.c.id.not_in(sub))
    with db.connect() as conn:
        return sorted(conn.execute(q).scalars())


def create_trait(db, name: str) -> bool:
    """Create a CUSTOM_ trait; return False when it already existed."""
    if not name.startswith(os_traits.CUSTOM_NAMESPACE):
        raise BadRequest(f"The trait {name} is not a custom trait: it must start with CUSTOM_")
    try:
        with db.begin() as conn:
            conn.execute(s.traits.insert().values(name=name, created_at=_now()))
        return True
    except db_exc.DBDuplicateEntry:
        return False


def delete_trait(db, name: str) -> None:
    t, rpt = s.traits, s.resource_provider_traits
    if not name.startswith(os_traits.CUSTOM_NAMESPACE):
        raise BadRequest(f"Cannot delete standard trait {name}.")
    with db.begin() as conn:
        trait_id = conn.execute(sa.select(t.c.id).where(t.c.name == name)).scalar()
        if trait_id is None:
            raise NotFound(f"No such trait(s): {name}.")
        if conn.execute(sa.select(rpt.c.trait_id).where(rpt.c.trait_id == trait_id)
                        .limit(1)).first():
            raise Conflict(f"The trait {name} is in use by a resource provider.")
        conn.execute(t.delete().where(t.c.id == trait_id))


def get_provider_traits(db, rp_uuid: str) -> tuple[int, list[str]]:
    rpt, t = s.resource_provider_traits, s.traits
    with db.connect() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        names = conn.execute(sa.select(t.c.name).join(rpt, rpt.c.trait_id == t.c.id)
                             .where(rpt.c.resource_provider_id == rp_id)).scalars().all()
    return gen, sorted(names)


def set_provider_traits(db, rp_uuid: str, generation: int, names: list[str]) -> int:
    rpt, t = s.resource_provider_traits, s.traits
    with db.begin() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        if gen != generation:
            raise GenerationConflict("resource provider generation conflict: another process "
                                     "changed the provider concurrently; refresh and retry")
        rows = dict(conn.execute(sa.select(t.c.name, t.c.id).where(t.c.name.in_(names))).all())
        unknown = sorted(set(names) - set(rows))
        if unknown:
            raise BadRequest(f"No such trait(s): {', '.join(unknown)}",
                             code="placement.undefined_code")
        conn.execute(rpt.delete().where(rpt.c.resource_provider_id == rp_id))
        if rows:
            conn.execute(rpt.insert(), [{"trait_id": i, "resource_provider_id": rp_id,
                                         "created_at": _now()} for i in rows.values()])
        return _bump_generation(conn, rp_id, gen)


def get_provider_aggregates(db, rp_uuid: str) -> tuple[int, list[str]]:
    rpa, agg = s.resource_provider_aggregates, s.placement_aggregates
    with db.connect() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        uuids = conn.execute(sa.select(agg.c.uuid).join(rpa, rpa.c.aggregate_id == agg.c.id)
                             .where(rpa.c.resource_provider_id == rp_id)).scalars().all()
    return gen, sorted(uuids)


def set_provider_aggregates(db, rp_uuid: str, generation, uuids: list[str],
                            bump: bool = True) -> int:
    rpa, agg = s.resource_provider_aggregates, s.placement_aggregates
    with db.connect() as conn:
        _provider_id(conn, rp_uuid)
    ids = [_external_id(db, agg, u, "uuid") for u in uuids]
    with db.begin() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        if generation is not None and gen != generation:
            raise GenerationConflict("resource provider generation conflict")
        conn.execute(rpa.delete().where(rpa.c.resource_provider_id == rp_id))
        if ids:
            conn.execute(rpa.insert(), [{"resource_provider_id": rp_id, "aggregate_id": i,
                                         "created_at": _now()} for i in set(ids)])
        return _bump_generation(conn, rp_id, gen) if bump else gen
