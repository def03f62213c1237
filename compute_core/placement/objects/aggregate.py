"""A provider's aggregates."""
from __future__ import annotations

import sqlalchemy as sa

from compute_core.placement import tables as s
from compute_core.placement.exception import GenerationConflict
from compute_core.placement.objects.base import (
    bump_generation, external_row_id, lookup_provider, now)


def get_provider_aggregates(db, rp_uuid: str) -> tuple[int, list[str]]:
    rpa, agg = s.resource_provider_aggregates, s.placement_aggregates
    with db.connect() as conn:
        rp_id, gen = lookup_provider(conn, rp_uuid)
        uuids = conn.execute(sa.select(agg.c.uuid).join(rpa, rpa.c.aggregate_id == agg.c.id)
                             .where(rpa.c.resource_provider_id == rp_id)).scalars().all()
    return gen, sorted(uuids)


def set_provider_aggregates(db, rp_uuid: str, generation, uuids: list[str],
                            bump: bool = True) -> int:
    rpa, agg = s.resource_provider_aggregates, s.placement_aggregates
    with db.connect() as conn:
        lookup_provider(conn, rp_uuid)
    ids = [external_row_id(db, agg, u, "uuid") for u in uuids]
    with db.begin() as conn:
        rp_id, gen = lookup_provider(conn, rp_uuid)
        if generation is not None and gen != generation:
            raise GenerationConflict("Resource provider's generation already changed. Please "
                                     "update the generation and try again.")
        conn.execute(rpa.delete().where(rpa.c.resource_provider_id == rp_id))
        if ids:
            conn.execute(rpa.insert(), [{"resource_provider_id": rp_id, "aggregate_id": i,
                                         "created_at": now()} for i in set(ids)])
        return bump_generation(conn, rp_id, gen) if bump else gen
