"""A provider's inventories: read, replace or merge, delete one class."""
from __future__ import annotations

import sqlalchemy as sa

from compute_core.placement import tables as s
from compute_core.placement.exception import (
    BadRequest, GenerationConflict, InvalidInventoryCapacity, InventoryInUse, NotFound,
    ProviderRaced)
from compute_core.placement.objects.base import (
    bump_generation, lookup_provider, now, usage_by_class)

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
        rp_id, gen = lookup_provider(conn, rp_uuid)
        rows = conn.execute(sa.select(inv).where(inv.c.resource_provider_id == rp_id)).all()
    return gen, {rc_cache.name_of(r.resource_class_id): {f: getattr(r, f) for f in INVENTORY_FIELDS}
                 for r in rows}


def _check_inventory(rp_uuid, name, values, reserved_may_equal_total=True):
    if values["reserved"] > values["total"] or (
            values["reserved"] == values["total"] and not reserved_may_equal_total):
        limit = "total" if reserved_may_equal_total else "or equal to total"
        raise InvalidInventoryCapacity(
            rp_uuid, f"Invalid inventory for '{name}' on resource provider '{rp_uuid}'. The "
                     f"reserved value is greater than {limit}.")


def set_inventories(db, rp_uuid: str, generation: int, inventories: dict, rc_cache,
                    replace: bool = True, reserved_may_equal_total: bool = True,
                    must_exist: bool = False) -> tuple[int, dict]:
    """Replace (or, with replace=False, merge) a provider's inventories."""
    with db.begin() as conn:
        return set_inventories_in(conn, rp_uuid, generation, inventories, rc_cache, replace,
                                  reserved_may_equal_total, must_exist)


def set_inventories_in(conn, rp_uuid, generation, inventories, rc_cache, replace=True,
                       reserved_may_equal_total=True, must_exist=False, check_in_use=True):
    inv = s.inventories
    wanted = {rc_cache.id_of(name): (name, _inventory_defaults(v))
              for name, v in inventories.items()}
    for rc_id, (name, values) in wanted.items():
        _check_inventory(rp_uuid, name, values, reserved_may_equal_total)
    rp_id, gen = lookup_provider(conn, rp_uuid)
    if generation is not None and gen != generation:
        raise GenerationConflict("resource provider generation conflict")
    existing = {r.resource_class_id: r for r in conn.execute(
        sa.select(inv).where(inv.c.resource_provider_id == rp_id))}
    if must_exist:
        for rc_id, (name, _) in wanted.items():
            if rc_id not in existing:
                raise BadRequest(f"No inventory record with resource class for resource "
                                 f"provider {rp_uuid}: No inventory of class {name} found.")
    if replace:
        used = usage_by_class(conn, rp_id) if check_in_use else {}
        dropped = sorted(set(existing) - set(wanted))
        in_use = [rc_cache.name_of(rc_id) for rc_id in dropped if used.get(rc_id)]
        if in_use:
            raise InventoryInUse(f"Inventory for '{', '.join(in_use)}' on resource provider "
                                 f"'{rp_uuid}' in use.")
        for rc_id in dropped:
            conn.execute(inv.delete().where(inv.c.id == existing[rc_id].id))
    for rc_id, (name, values) in wanted.items():
        if rc_id in existing:
            conn.execute(inv.update().where(inv.c.id == existing[rc_id].id)
                         .values(updated_at=now(), **values))
        else:
            conn.execute(inv.insert().values(resource_provider_id=rp_id, resource_class_id=rc_id,
                                             created_at=now(), **values))
    try:
        new_gen = bump_generation(conn, rp_id, gen)
    except ProviderRaced as exc:
        raise GenerationConflict(exc.detail) from None
    return new_gen, {name: values for name, values in wanted.values()}


def delete_inventory(db, rp_uuid: str, rc_name: str, generation, rc_cache) -> int:
    inv = s.inventories
    try:
        rc_id = rc_cache.id_of(rc_name)
    except NotFound:
        raise NotFound(f"No such resource class {rc_name}.") from None
    with db.begin() as conn:
        rp_id, gen = lookup_provider(conn, rp_uuid)
        if generation is not None and gen != generation:
            raise GenerationConflict("resource provider generation conflict")
        if usage_by_class(conn, rp_id).get(rc_id):
            raise InventoryInUse(f"Inventory for '{rc_name}' on resource provider "
                                 f"'{rp_uuid}' in use.")
        res = conn.execute(inv.delete().where(inv.c.resource_provider_id == rp_id)
                           .where(inv.c.resource_class_id == rc_id))
        if res.rowcount == 0:
            raise NotFound(f"No inventory of class {rc_name} found for delete")
        try:
            return bump_generation(conn, rp_id, gen)
        except ProviderRaced as exc:
            raise GenerationConflict(exc.detail) from None
