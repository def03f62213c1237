"""Allocations: a consumer's claims on providers, written atomically for one
consumer or several (the capacity and min/max/step checks, the consumer's
generation, the providers' generations).
"""
from __future__ import annotations

import contextlib
import random
import time

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core.placement import tables as s
from compute_core.placement.exception import (
    BadRequest, Conflict, GenerationConflict, NotFound, ProviderRaced)
from compute_core.placement.objects.base import (
    external_row_id, is_write_race, lookup_provider, now)

_b = sa.bindparam
_rp, _inv, _alloc, _cons = s.resource_providers, s.inventories, s.allocations, s.consumers
# What a claim reads before it writes, in one round trip: k=0 the consumer
# row (id, generation), k=1 the providers it holds allocations on, k=2 the
# providers it asks for (by uuid). Each statement asking for providers comes
# in two forms, built once: for one provider (every boot's claim: a plain
# parameter) and for several (an expanding IN, rendered per request).


def _claim_state(rp_match):
    return sa.union_all(
        sa.select(sa.literal_column("0").label("k"), _cons.c.id, _cons.c.generation,
                  sa.null().label("uuid")).where(_cons.c.uuid == _b("cu")),
        sa.select(sa.literal_column("1"), _rp.c.id, _rp.c.generation, sa.null()).distinct()
        .select_from(_alloc.join(_rp, _rp.c.id == _alloc.c.resource_provider_id))
        .where(_alloc.c.consumer_id == _b("cu")),
        sa.select(sa.literal_column("2"), _rp.c.id, _rp.c.generation, _rp.c.uuid)
        .where(rp_match))


def _bump_all(rp_match):
    return (_rp.update().where(rp_match)
            .values(generation=_rp.c.generation + 1, updated_at=_b("now")))


_ONE_UUID = _rp.c.uuid == _b("rp_uuid")
_SOME_UUIDS = _rp.c.uuid.in_(_b("rp_uuids", expanding=True))
_CLAIM_STATE = {True: _claim_state(_ONE_UUID), False: _claim_state(_SOME_UUIDS)}
_CLAIM_STATE_NO_PROVIDERS = sa.union_all(*_CLAIM_STATE[True].selects[:2])
# A claim's providers, bumped first (see apply_claims).
_BUMP_PROVIDERS = {True: _bump_all(_ONE_UUID), False: _bump_all(_SOME_UUIDS)}


def _uuid_params(uuids, **params) -> tuple[bool, dict]:
    """(one provider?, the parameters of the _CLAIM_STATE/_BUMP_PROVIDERS form)."""
    if len(uuids) == 1:
        return True, dict(params, rp_uuid=next(iter(uuids)))
    return False, dict(params, rp_uuids=sorted(uuids))

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
        rp_id, gen = lookup_provider(conn, rp_uuid)
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


def external_row_ids(db, claims, known=None) -> dict:
    """{("project_id"|"user_id", external id): row id} of *claims*; *known*
    (a dict kept by the caller across requests) saves the look-ups."""
    ids = {}
    known = {} if known is None else known
    for claim in claims:
        if claim.get("project_id"):
            for table, key in ((s.projects, "project_id"), (s.users, "user_id")):
                if (key, claim[key]) not in ids:
                    row_id = known.get((key, claim[key]))
                    if row_id is None:
                        row_id = known[(key, claim[key])] = external_row_id(db, table, claim[key])
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
    written then. The providers are locked before they are read (see
    apply_claims), so claims wait for each other instead of racing; a
    deadlock (several providers locked in another order by another writer)
    or SQLite's busy database is retried.
    """
    ext = external_row_ids(db, claims, rc_cache.external_ids)
    for attempt in range(attempts):
        try:
            with kept_consumers(db, ext), db.begin() as conn:
                apply_claims(conn, claims, rc_cache, ext)
            return
        except (ProviderRaced, db_exc.DBDeadlock, db_exc.DBError, sa.exc.OperationalError) as exc:
            if not isinstance(exc, ProviderRaced) and not is_write_race(exc):
                raise
            if attempt == attempts - 1:
                raise GenerationConflict(
                    "resource provider generation conflict: too many concurrent updates, "
                    "retry later") from None
            time.sleep(random.uniform(0, 0.002 * (attempt + 1)))


class ProviderMissing(BadRequest):
    """A claim names a provider that does not exist. openstack-placement
    finds it only after it has made the request's new consumers, and keeps
    them (at generation 0, without allocations): *new_consumers* are those
    claims, for :func:`kept_consumers` to make as well."""

    def __init__(self, detail, new_consumers):
        super().__init__(detail)
        self.new_consumers = new_consumers


@contextlib.contextmanager
def kept_consumers(db, ext):
    """Around a write's transaction: the consumers a ProviderMissing leaves
    behind are made (once the transaction is rolled back) before it goes on."""
    try:
        yield
    except ProviderMissing as exc:
        for claim in exc.new_consumers:
            try:
                with db.begin() as conn:
                    _insert_consumer(conn, claim, ext)
            except db_exc.DBDuplicateEntry:
                pass  # made meanwhile by another request: kept all the same
        raise


def _insert_consumer(conn, claim, ext):
    """A consumer at generation 0, holding nothing (yet)."""
    conn.execute(s.consumers.insert(), {
        "uuid": claim["consumer_uuid"], "generation": 0,
        "project_id": ext[("project_id", claim["project_id"])],
        "user_id": ext[("user_id", claim["user_id"])],
        "created_at": now(), "consumer_type": claim.get("consumer_type")})


def apply_claims(conn, claims, rc_cache, ext) -> set:
    """Write *claims* in the open transaction; return the provider ids touched."""
    a, c = s.allocations, s.consumers
    touched: dict[int, int] = {}  # provider id -> generation read
    consumers = {}
    holding = set()
    found_by_claim = {}
    new_rows = []
    names = {}
    wanted_all = {rp_uuid for claim in claims for rp_uuid in claim["allocations"]}
    if wanted_all:
        # The providers allocated from are bumped before anything is read:
        # the UPDATE locks their rows (on InnoDB and PostgreSQL; SQLite's
        # transaction holds the write lock already), so what is read next,
        # generations and usages, is what the other claims committed and
        # stays so until this one commits. A compare-and-swap of the
        # generation read before would lose the race to every claim that
        # committed meanwhile on the same provider, and go round again.
        # The generations read then are the new ones.
        one, params = _uuid_params(wanted_all, now=now())
        conn.execute(_BUMP_PROVIDERS[one], params)
    for claim in claims:
        cu = claim["consumer_uuid"]
        wanted = claim["allocations"]
        row, held, found = None, [], {}
        if wanted:
            one, params = _uuid_params(wanted, cu=cu)
            rows = conn.execute(_CLAIM_STATE[one], params).all()
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
            # openstack-placement's words: what it has, then what it was given
            if row is None and expected is not None:
                raise GenerationConflict(f"consumer generation conflict - expected null but "
                                         f"got {expected}", code="placement.concurrent_update")
            if row is not None and row[1] != expected:
                raise GenerationConflict(f"consumer generation conflict - expected {row[1]} "
                                         f"but got {expected}",
                                         code="placement.concurrent_update")
        if held:
            holding.add(cu)
        found_by_claim[cu] = found
    # Every consumer checked before any provider, every provider before any
    # class, in openstack-placement's order.
    for claim in claims:
        for rp_uuid in claim["allocations"]:
            if rp_uuid not in found_by_claim[claim["consumer_uuid"]]:
                raise ProviderMissing(
                    f"Allocation for resource provider '{rp_uuid}' that does not exist.",
                    [c for c in claims if consumers[c["consumer_uuid"]] is None
                     and c.get("project_id")])
    for claim in claims:
        cu = claim["consumer_uuid"]
        wanted, found = claim["allocations"], found_by_claim[cu]
        # The providers that only lose allocations keep their generation,
        # as in openstack-placement (which bumps those it allocates from).
        for rp_uuid, resources in wanted.items():
            rp_id, gen = found[rp_uuid]
            touched.setdefault(rp_id, gen)
            for rc_name, amount in resources.items():
                try:
                    rc_id = rc_cache.id_of(rc_name)
                except NotFound:
                    raise BadRequest(f"Unable to allocate inventory for consumer {cu}: No "
                                     f"such resource class {rc_name}.") from None
                names[(rp_id, rc_id)] = (rp_uuid, rc_name)
                new_rows.append({"resource_provider_id": rp_id, "consumer_id": cu,
                                 "resource_class_id": rc_id, "used": amount,
                                 "created_at": now()})
    for claim in claims:
        cu = claim["consumer_uuid"]
        row = consumers[cu]
        if cu in holding:
            # Only when there is something to delete: on InnoDB a DELETE that
            # matches nothing still gap-locks the index and serialises
            # unrelated claims.
            conn.execute(_DELETE_CONSUMER_ALLOCATIONS, {"cu": cu})
        if not claim["allocations"]:
            # Emptied, a consumer goes; one that held nothing stays (at
            # generation 0), and a new one is made so, as
            # openstack-placement does (a DELETE names no project).
            if cu in holding:
                conn.execute(_DELETE_CONSUMER, {"consumer_row": row[0]})
            elif row is None and claim.get("project_id"):
                try:
                    _insert_consumer(conn, claim, ext)
                except db_exc.DBDuplicateEntry:
                    raise GenerationConflict(
                        f"consumer generation conflict - consumer {cu} was created "
                        "concurrently", code="placement.concurrent_update") from None
            continue
        project = ext[("project_id", claim["project_id"])]
        user = ext[("user_id", claim["user_id"])]
        if row is None:
            try:
                conn.execute(c.insert(), {"uuid": cu, "project_id": project, "user_id": user,
                                          "generation": 1, "created_at": now(),
                                          "consumer_type": claim.get("consumer_type")})
            except db_exc.DBDuplicateEntry:
                raise GenerationConflict(
                    f"consumer generation conflict - consumer {cu} was created "
                    "concurrently", code="placement.concurrent_update") from None
        else:
            values = {"consumer_row": row[0], "expected_gen": row[1], "generation": row[1] + 1,
                      "project_id": project, "user_id": user, "updated_at": now()}
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
        # each allocation in turn: its inventory's constraints, then capacity
        if r["used"] < irow.min_unit or r["used"] > irow.max_unit or r["used"] % irow.step_size:
            raise Conflict(
                f"Unable to allocate inventory: Unable to create allocation for "
                f"'{rc_name}' on resource provider '{rp_uuid}'. The requested amount "
                "would violate inventory constraints.")
        if int(irow.used) > (irow.total - irow.reserved) * irow.allocation_ratio:
            raise Conflict(
                f"Unable to allocate inventory: Unable to create allocation for "
                f"'{rc_name}' on resource provider '{rp_uuid}'. The requested amount "
                "would exceed the capacity.")
    return set(touched)
