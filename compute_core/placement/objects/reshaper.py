"""POST /reshaper's transaction: inventories replaced and allocations moved
together.
"""
from __future__ import annotations

import sqlalchemy as sa

from compute_core.placement import tables as s
from compute_core.placement.exception import GenerationConflict, InventoryInUse, ProviderRaced
from compute_core.placement.objects.allocation import apply_claims, external_row_ids
from compute_core.placement.objects.base import bump_generation, lookup_provider
from compute_core.placement.objects.inventory import set_inventories_in


def reshape(db, inventories: dict, claims: list[dict], rc_cache,
            reserved_may_equal_total=True) -> None:
    """POST /reshaper: replace the inventories of several providers and the
    allocations of several consumers in one transaction. *inventories* is
    {rp_uuid: (generation, {class: inventory})}. Inventories may drop a class
    still allocated as long as the new allocations move it away."""
    ext = external_row_ids(db, claims, rc_cache.external_ids)
    a, inv = s.allocations, s.inventories
    with db.begin() as conn:
        rp_ids = {}
        for rp_uuid, (gen, invs) in inventories.items():
            set_inventories_in(conn, rp_uuid, gen, invs, rc_cache, replace=True,
                               reserved_may_equal_total=reserved_may_equal_total,
                               check_in_use=False)
            rp_ids[lookup_provider(conn, rp_uuid)[0]] = rp_uuid
        try:
            apply_claims(conn, claims, rc_cache, ext)
        except ProviderRaced as exc:
            raise GenerationConflict(exc.detail) from None
        # openstack-placement writes each provider's inventory twice (an
        # interim merge when the new one is not empty, then the final one),
        # each write moving the generation: one more move than ours here.
        for rp_uuid, (_, invs) in inventories.items():
            if invs:
                rp_id, gen = lookup_provider(conn, rp_uuid)
                bump_generation(conn, rp_id, gen)
        for rp_id, rp_uuid in rp_ids.items():
            have = set(conn.execute(sa.select(inv.c.resource_class_id)
                                    .where(inv.c.resource_provider_id == rp_id)).scalars())
            left = set(conn.execute(sa.select(a.c.resource_class_id).distinct()
                                    .where(a.c.resource_provider_id == rp_id)).scalars())
            if left - have:
                names = ", ".join(sorted(rc_cache.name_of(i) for i in left - have))
                raise InventoryInUse(f"Inventory for '{names}' on resource provider "
                                     f"'{rp_uuid}' in use.")
