"""The placement object layer: all SQL of the placement service lives here.

Handlers call these functions; they never see a connection. Every write that
changes what a provider can offer or what it has handed out bumps the
provider's generation with a compare-and-swap, which is what makes claims
atomic on every database without table locks.
"""
from __future__ import annotations

import datetime
import uuid as uuidlib

import os_resource_classes as orc
import os_traits
import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core.placement import schema as s

CUSTOM_RC_ID_OFFSET = 10000


class PlacementError(Exception):
    status = 400
    code = "placement.undefined_code"

    def __init__(self, detail, code=None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class NotFound(PlacementError):
    status = 404


class Conflict(PlacementError):
    status = 409


class GenerationConflict(Conflict):
    code = "placement.concurrent_update"


class InventoryInUse(Conflict):
    code = "placement.inventory.inuse"


class BadRequest(PlacementError):
    status = 400


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------- classes

class ResourceClassCache:
    """Name <-> id of resource classes; standard ones never touch the DB."""

    def __init__(self, db):
        self.db = db
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
            raise NotFound(f"No such resource class {name}.",
                           code="placement.resource_class.not_found") from None

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
    rp = s.resource_providers
    row = conn.execute(sa.select(rp.c.id, rp.c.generation).where(rp.c.uuid == rp_uuid)).first()
    if row is None:
        raise NotFound(f"No resource provider with uuid {rp_uuid} found",
                       code="placement.resource_provider.not_found")
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
                           code="placement.duplicate_name" if field == "name"
                           else "placement.undefined_code") from None
        if root_id is None:
            conn.execute(rp.update().where(rp.c.id == new_id).values(root_provider_id=new_id))
    return get_provider(db, rp_uuid)


def get_provider(db, rp_uuid: str) -> dict:
    rp = s.resource_providers
    with db.connect() as conn:
        row = conn.execute(sa.select(rp).where(rp.c.uuid == rp_uuid)).first()
        if row is None:
            raise NotFound(f"No resource provider with uuid {rp_uuid} found",
                           code="placement.resource_provider.not_found")
        uuids = _uuid_map(conn, [row.root_provider_id, row.parent_provider_id])
    return _provider_row_to_dict(row, uuids)


def list_providers(db, name=None, uuid=None, in_tree=None, resources=None,
                   required=None, member_of=None, rc_cache=None) -> list[dict]:
    rp = s.resource_providers
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
        if resources:
            ids = _providers_with_capacity(conn, resources, rc_cache)
            q = q.where(rp.c.id.in_(ids or [-1]))
        if required:
            q = _filter_traits(conn, q, required)
        if member_of:
            q = _filter_member_of(conn, q, member_of)
        rows = conn.execute(q.order_by(rp.c.id)).all()
        uuids = {r.id: r.uuid for r in rows}
        missing = {r.root_provider_id for r in rows} | {r.parent_provider_id for r in rows}
        uuids.update(_uuid_map(conn, missing - set(uuids)))
    return [_provider_row_to_dict(r, uuids) for r in rows]


def update_provider(db, rp_uuid: str, name: str, generation: int | None = None,
                    parent_uuid=...) -> dict:
    rp = s.resource_providers
    with db.begin() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        values = {"name": name, "updated_at": _now(), "generation": gen + 1}
        if parent_uuid is not ...:
            current = conn.execute(sa.select(rp.c.parent_provider_id)
                                   .where(rp.c.id == rp_id)).scalar()
            if parent_uuid is None and current is not None:
                raise BadRequest("Un-parenting a provider is not allowed.")
            if parent_uuid is not None:
                prow = conn.execute(sa.select(rp.c.id, rp.c.root_provider_id)
                                    .where(rp.c.uuid == parent_uuid)).first()
                if prow is None:
                    raise BadRequest(f"parent provider UUID {parent_uuid} does not exist.")
                if current is not None and current != prow.id:
                    raise BadRequest("Re-parenting a provider is not allowed.")
                if prow.root_provider_id == rp_id:
                    raise BadRequest("creating loop in the provider tree is not allowed.")
                values.update(parent_provider_id=prow.id, root_provider_id=prow.root_provider_id)
        try:
            res = conn.execute(rp.update().where(rp.c.id == rp_id)
                               .where(rp.c.generation == gen).values(**values))
        except db_exc.DBDuplicateEntry:
            raise Conflict(f"Conflicting resource provider name: {name} already exists.",
                           code="placement.duplicate_name") from None
        if res.rowcount != 1:
            raise GenerationConflict("resource provider was updated concurrently")
    return get_provider(db, rp_uuid)


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
    rp = s.resource_providers
    res = conn.execute(rp.update().where(rp.c.id == rp_id).where(rp.c.generation == expected)
                       .values(generation=expected + 1, updated_at=_now()))
    if res.rowcount != 1:
        raise GenerationConflict(
            "resource provider generation conflict: another process changed the "
            "provider concurrently; refresh and retry")
    return expected + 1


# ------------------------------------------------------------ inventories

INVENTORY_FIELDS = ("total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio")


def _inventory_defaults(inv: dict) -> dict:
    out = {"reserved": 0, "min_unit": 1, "max_unit": inv.get("total"), "step_size": 1,
           "allocation_ratio": 1.0}
    out.update(inv)
    if out["max_unit"] is None:
        out["max_unit"] = out["total"]
    return out


def get_inventories(db, rp_uuid: str, rc_cache) -> tuple[int, dict]:
    inv = s.inventories
    with db.connect() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        rows = conn.execute(sa.select(inv).where(inv.c.resource_provider_id == rp_id)).all()
    return gen, {rc_cache.name_of(r.resource_class_id): {f: getattr(r, f) for f in INVENTORY_FIELDS}
                 for r in rows}


def set_inventories(db, rp_uuid: str, generation: int, inventories: dict, rc_cache,
                    replace: bool = True) -> tuple[int, dict]:
    """Replace (or, with replace=False, merge) a provider's inventories."""
    inv = s.inventories
    wanted = {rc_cache.id_of(name): (name, _inventory_defaults(v)) for name, v in inventories.items()}
    for rc_id, (name, values) in wanted.items():
        if values["reserved"] > values["total"] and values["total"] != 0:
            raise BadRequest(f"Unable to update inventory for resource provider {rp_uuid}: "
                             f"reserved {values['reserved']} of {name} exceeds total")
        if values["min_unit"] > values["max_unit"]:
            raise BadRequest(f"min_unit of {name} is greater than its max_unit")
    with db.begin() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        if generation is not None and gen != generation:
            raise GenerationConflict(
                "resource provider generation conflict: another process changed the "
                "provider concurrently; refresh and retry")
        existing = {r.resource_class_id: r for r in conn.execute(
            sa.select(inv).where(inv.c.resource_provider_id == rp_id))}
        used = _usage_by_class(conn, rp_id)
        if replace:
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
        new_gen = _bump_generation(conn, rp_id, gen)
    return new_gen, {name: values for name, values in wanted.values()}


def delete_inventory(db, rp_uuid: str, rc_name: str, generation, rc_cache) -> int:
    inv = s.inventories
    rc_id = rc_cache.id_of(rc_name)
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
        return _bump_generation(conn, rp_id, gen)


def _usage_by_class(conn, rp_id: int) -> dict:
    a = s.allocations
    q = (sa.select(a.c.resource_class_id, sa.func.sum(a.c.used))
         .where(a.c.resource_provider_id == rp_id).group_by(a.c.resource_class_id))
    return {rc: int(n) for rc, n in conn.execute(q)}


def get_usages(db, rp_uuid: str, rc_cache) -> tuple[int, dict]:
    inv = s.inventories
    with db.connect() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        used = _usage_by_class(conn, rp_id)
        classes = conn.execute(sa.select(inv.c.resource_class_id)
                               .where(inv.c.resource_provider_id == rp_id)).scalars().all()
    return gen, {rc_cache.name_of(c): used.get(c, 0) for c in set(classes) | set(used)}


def project_usages(db, project_id: str, user_id=None, rc_cache=None) -> dict:
    a, c = s.allocations, s.consumers
    q = (sa.select(a.c.resource_class_id, sa.func.sum(a.c.used))
         .select_from(a.join(c, a.c.consumer_id == c.c.uuid)
                      .join(s.projects, s.projects.c.id == c.c.project_id))
         .where(s.projects.c.external_id == project_id).group_by(a.c.resource_class_id))
    if user_id:
        q = q.join(s.users, s.users.c.id == c.c.user_id).where(s.users.c.external_id == user_id)
    with db.connect() as conn:
        return {rc_cache.name_of(rc): int(n) for rc, n in conn.execute(q)}


# ------------------------------------------------------------ allocations

def _external_id(conn, table, external: str) -> int:
    row = conn.execute(sa.select(table.c.id).where(table.c.external_id == external)).first()
    if row:
        return row.id
    try:
        with conn.begin_nested():
            return conn.execute(table.insert().values(external_id=external, created_at=_now())
                                ).inserted_primary_key[0]
    except db_exc.DBDuplicateEntry:
        return conn.execute(sa.select(table.c.id).where(table.c.external_id == external)).scalar()


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
                   user_id=cons.user, consumer_type=cons.consumer_type)
    return out


def provider_allocations(db, rp_uuid: str, rc_cache) -> tuple[int, dict]:
    a = s.allocations
    with db.connect() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        rows = conn.execute(sa.select(a.c.consumer_id, a.c.resource_class_id, a.c.used)
                            .where(a.c.resource_provider_id == rp_id)).all()
    out: dict = {}
    for row in rows:
        out.setdefault(row.consumer_id, {"resources": {}})["resources"][
            rc_cache.name_of(row.resource_class_id)] = row.used
    return gen, out


def replace_allocations(db, claims: list[dict], rc_cache) -> None:
    """Atomically replace the allocations of one or more consumers.

    Each claim: {"consumer_uuid", "allocations": {rp_uuid: {rc: amount}},
    "project_id", "user_id", "consumer_generation" (None = new consumer,
    ... = don't check), "consumer_type"}. An empty allocations dict deletes.
    Raises Conflict (capacity) or GenerationConflict; nothing is written then.
    """
    a, c, inv = s.allocations, s.consumers, s.inventories
    with db.begin() as conn:
        touched: dict[int, int] = {}  # provider id -> generation read
        new_rows = []
        for claim in claims:
            cu = claim["consumer_uuid"]
            row = conn.execute(sa.select(c.c.id, c.c.generation).where(c.c.uuid == cu)).first()
            expected = claim.get("consumer_generation", ...)
            if expected is not ...:
                have = None if row is None else row.generation
                if have != expected:
                    raise GenerationConflict(
                        f"consumer generation conflict - expected {expected} but got {have}",
                        code="placement.concurrent_update")
            # Providers losing this consumer's allocations change too.
            for rp_id, in conn.execute(sa.select(a.c.resource_provider_id).distinct()
                                       .where(a.c.consumer_id == cu)):
                if rp_id not in touched:
                    touched[rp_id] = conn.execute(
                        sa.select(s.resource_providers.c.generation)
                        .where(s.resource_providers.c.id == rp_id)).scalar()
            conn.execute(a.delete().where(a.c.consumer_id == cu))
            if not claim["allocations"]:
                if row is not None:
                    conn.execute(c.delete().where(c.c.id == row.id))
                continue
            project = _external_id(conn, s.projects, claim["project_id"])
            user = _external_id(conn, s.users, claim["user_id"])
            if row is None:
                try:
                    conn.execute(c.insert().values(uuid=cu, project_id=project, user_id=user,
                                                   generation=1, created_at=_now(),
                                                   consumer_type=claim.get("consumer_type")))
                except db_exc.DBDuplicateEntry:
                    raise GenerationConflict(
                        f"consumer generation conflict - consumer {cu} was created "
                        "concurrently", code="placement.concurrent_update") from None
            else:
                res = conn.execute(c.update().where(c.c.id == row.id)
                                   .where(c.c.generation == row.generation)
                                   .values(generation=row.generation + 1, project_id=project,
                                           user_id=user, updated_at=_now(),
                                           consumer_type=claim.get("consumer_type")))
                if res.rowcount != 1:
                    raise GenerationConflict("consumer generation conflict",
                                             code="placement.concurrent_update")
            for rp_uuid, resources in claim["allocations"].items():
                rp_id, gen = _provider_id_for_alloc(conn, rp_uuid)
                touched.setdefault(rp_id, gen)
                for rc_name, amount in resources.items():
                    new_rows.append({"resource_provider_id": rp_id, "consumer_id": cu,
                                     "resource_class_id": rc_cache.id_of(rc_name),
                                     "used": amount, "created_at": _now(),
                                     "_rp_uuid": rp_uuid, "_rc": rc_name})
        # Capacity check against inventories, counting what is left plus new.
        wanted: dict[tuple[int, int], int] = {}
        for r in new_rows:
            wanted[(r["resource_provider_id"], r["resource_class_id"])] = (
                wanted.get((r["resource_provider_id"], r["resource_class_id"]), 0) + r["used"])
        for (rp_id, rc_id), amount in wanted.items():
            irow = conn.execute(sa.select(inv).where(inv.c.resource_provider_id == rp_id)
                                .where(inv.c.resource_class_id == rc_id)).first()
            sample = next(r for r in new_rows if r["resource_provider_id"] == rp_id
                          and r["resource_class_id"] == rc_id)
            if irow is None:
                raise BadRequest(
                    f"Unable to allocate inventory: Inventory for '{sample['_rc']}' on "
                    f"resource provider '{sample['_rp_uuid']}' invalid.",
                    code="placement.inventory.invalid")
            for r in new_rows:
                if r["resource_provider_id"] == rp_id and r["resource_class_id"] == rc_id:
                    if (r["used"] < irow.min_unit or r["used"] > irow.max_unit
                            or r["used"] % irow.step_size):
                        raise BadRequest(
                            f"Unable to allocate inventory: Unable to allocate {r['used']} of "
                            f"{sample['_rc']} on resource provider '{sample['_rp_uuid']}': "
                            f"violates min_unit, max_unit, or step_size.")
            used = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(a.c.used), 0))
                                .where(a.c.resource_provider_id == rp_id)
                                .where(a.c.resource_class_id == rc_id)).scalar()
            capacity = int((irow.total - irow.reserved) * irow.allocation_ratio)
            if int(used) + amount > capacity:
                raise Conflict(
                    f"Unable to allocate inventory: Unable to create allocation for "
                    f"'{sample['_rc']}' on resource provider '{sample['_rp_uuid']}'. The "
                    f"requested amount would exceed the capacity.",
                    code="placement.undefined_code")
        if new_rows:
            conn.execute(a.insert(), [{k: v for k, v in r.items() if not k.startswith("_")}
                                      for r in new_rows])
        for rp_id, gen in touched.items():
            _bump_generation(conn, rp_id, gen)


def _provider_id_for_alloc(conn, rp_uuid):
    try:
        return _provider_id(conn, rp_uuid)
    except NotFound:
        raise BadRequest(f"Allocation for resource provider '{rp_uuid}' that does not exist."
                         ) from None


# ------------------------------------------------- allocation candidates

def _capacity_expr():
    inv = s.inventories
    return sa.cast((inv.c.total - inv.c.reserved) * inv.c.allocation_ratio, sa.Integer)


def _usage_subquery(rc_ids):
    a = s.allocations
    return (sa.select(a.c.resource_provider_id, a.c.resource_class_id,
                      sa.func.sum(a.c.used).label("used"))
            .where(a.c.resource_class_id.in_(rc_ids))
            .group_by(a.c.resource_provider_id, a.c.resource_class_id).subquery())


def _providers_with_capacity(conn, resources: dict, rc_cache) -> list[int]:
    """Ids of providers with room for every amount in *resources* ({name: n})."""
    inv = s.inventories
    wanted = {rc_cache.id_of(k): v for k, v in resources.items()}
    usage = _usage_subquery(list(wanted))
    cap = _capacity_expr()
    conds = []
    for rc_id, amount in wanted.items():
        conds.append(sa.and_(
            inv.c.resource_class_id == rc_id,
            cap - sa.func.coalesce(usage.c.used, 0) >= amount,
            inv.c.min_unit <= amount, inv.c.max_unit >= amount,
            (amount % inv.c.step_size) == 0))
    q = (sa.select(inv.c.resource_provider_id)
         .select_from(inv.outerjoin(usage, sa.and_(
             usage.c.resource_provider_id == inv.c.resource_provider_id,
             usage.c.resource_class_id == inv.c.resource_class_id)))
         .where(sa.or_(*conds))
         .group_by(inv.c.resource_provider_id)
         .having(sa.func.count() == len(wanted)))
    return list(conn.execute(q).scalars())


def _filter_traits(conn, q, required: list[str]):
    rp = s.resource_providers
    t, rpt = s.traits, s.resource_provider_traits
    for name in required:
        forbidden = name.startswith("!")
        tname = name[1:] if forbidden else name
        sub = (sa.select(rpt.c.resource_provider_id)
               .join(t, t.c.id == rpt.c.trait_id).where(t.c.name == tname))
        q = q.where(rp.c.id.not_in(sub) if forbidden else rp.c.id.in_(sub))
    return q


def _filter_member_of(conn, q, member_of: list[list[str]]):
    rp = s.resource_providers
    agg, rpa = s.placement_aggregates, s.resource_provider_aggregates
    for any_of in member_of:
        sub = (sa.select(rpa.c.resource_provider_id)
               .join(agg, agg.c.id == rpa.c.aggregate_id).where(agg.c.uuid.in_(any_of)))
        q = q.where(rp.c.id.in_(sub))
    return q


def allocation_candidates(db, resources: dict, rc_cache, limit: int | None = None,
                          required=None, member_of=None, in_tree=None) -> dict:
    """Providers that can each satisfy *resources* on their own.

    Returns {"allocation_requests": [...], "provider_summaries": {...}} in
    the shape of GET /allocation_candidates (microversion 1.12+).
    """
    rp, inv = s.resource_providers, s.inventories
    with db.connect() as conn:
        ids = _providers_with_capacity(conn, resources, rc_cache)
        if not ids:
            return {"allocation_requests": [], "provider_summaries": {}}
        q = sa.select(rp.c.id, rp.c.uuid, rp.c.generation, rp.c.root_provider_id,
                      rp.c.parent_provider_id).where(rp.c.id.in_(ids))
        if required:
            q = _filter_traits(conn, q, required)
        if member_of:
            q = _filter_member_of(conn, q, member_of)
        if in_tree:
            root = conn.execute(sa.select(rp.c.root_provider_id)
                                .where(rp.c.uuid == in_tree)).scalar()
            q = q.where(rp.c.root_provider_id == (root if root is not None else -1))
        rows = conn.execute(q.order_by(rp.c.id)).all()
        if limit is not None:
            rows = rows[:limit]
        if not rows:
            return {"allocation_requests": [], "provider_summaries": {}}
        chosen = [r.id for r in rows]
        a = s.allocations
        usage_rows = conn.execute(
            sa.select(a.c.resource_provider_id, a.c.resource_class_id, sa.func.sum(a.c.used))
            .where(a.c.resource_provider_id.in_(chosen))
            .group_by(a.c.resource_provider_id, a.c.resource_class_id)).all()
        used = {(p, r): int(n) for p, r, n in usage_rows}
        inv_rows = conn.execute(sa.select(inv).where(inv.c.resource_provider_id.in_(chosen))).all()
        trait_rows = conn.execute(
            sa.select(s.resource_provider_traits.c.resource_provider_id, s.traits.c.name)
            .join(s.traits, s.traits.c.id == s.resource_provider_traits.c.trait_id)
            .where(s.resource_provider_traits.c.resource_provider_id.in_(chosen))).all()
    uuid_of = {r.id: r.uuid for r in rows}
    summaries: dict = {}
    for r in rows:
        summaries[r.uuid] = {"resources": {}, "traits": [], "parent_provider_uuid": None,
                             "root_provider_uuid": uuid_of.get(r.root_provider_id, r.uuid)}
    for i in inv_rows:
        summaries[uuid_of[i.resource_provider_id]]["resources"][rc_cache.name_of(i.resource_class_id)] = {
            "capacity": int((i.total - i.reserved) * i.allocation_ratio),
            "used": used.get((i.resource_provider_id, i.resource_class_id), 0)}
    for p, name in trait_rows:
        summaries[uuid_of[p]]["traits"].append(name)
    requests = [{"allocations": {r.uuid: {"resources": dict(resources)}}} for r in rows]
    return {"allocation_requests": requests, "provider_summaries": summaries}


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
            raise GenerationConflict("resource provider generation conflict")
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


def set_provider_aggregates(db, rp_uuid: str, generation, uuids: list[str]) -> int:
    rpa, agg = s.resource_provider_aggregates, s.placement_aggregates
    with db.begin() as conn:
        rp_id, gen = _provider_id(conn, rp_uuid)
        if generation is not None and gen != generation:
            raise GenerationConflict("resource provider generation conflict")
        ids = []
        for u in uuids:
            row = conn.execute(sa.select(agg.c.id).where(agg.c.uuid == u)).first()
            ids.append(row.id if row else conn.execute(
                agg.insert().values(uuid=u, created_at=_now())).inserted_primary_key[0])
        conn.execute(rpa.delete().where(rpa.c.resource_provider_id == rp_id))
        if ids:
            conn.execute(rpa.insert(), [{"resource_provider_id": rp_id, "aggregate_id": i,
                                         "created_at": _now()} for i in set(ids)])
        return _bump_generation(conn, rp_id, gen)
