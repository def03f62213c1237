"""The request schema of POST /reshaper."""
from __future__ import annotations

import functools

from compute_core.placement.schemas.allocation import alloc_schema
from compute_core.placement.schemas.common import GENERATION
from compute_core.placement.schemas.inventory import INVENTORY


@functools.lru_cache(maxsize=64)
def reshape_schema(version):
    per_rp = {"type": "object", "properties": {
        "resource_provider_generation": GENERATION,
        "inventories": {"type": "object", "patternProperties": {"^[A-Z0-9_]+$": INVENTORY},
                        "additionalProperties": False}},
        "required": ["resource_provider_generation", "inventories"],
        "additionalProperties": False}
    schema = {"type": "object", "properties": {
        # at least one provider, as Placement's schema says
        "inventories": {"type": "object", "patternProperties": {"^[0-9a-fA-F-]{36}$": per_rp},
                        "minProperties": 1, "additionalProperties": False},
        "allocations": {"type": "object", "patternProperties": {"^.+$": alloc_schema(
            max(version, (1, 28)))}, "additionalProperties": False}},
        "required": ["inventories", "allocations"], "additionalProperties": False}
    return schema
