"""The request schema of POST /reshaper."""
from __future__ import annotations

from compute_core.placement.schemas.allocation import consumers_schema, put_alloc_schema
from compute_core.placement.schemas.common import UUID_PATTERN
from compute_core.placement.schemas.inventory import INVENTORIES_SCHEMA


def _reshape(version):
    return {
        "type": "object",
        "properties": {
            # at least one provider, as Placement's schema says
            "inventories": {"type": "object",
                            "patternProperties": {UUID_PATTERN: INVENTORIES_SCHEMA},
                            "minProperties": 1, "additionalProperties": False},
            "allocations": consumers_schema(put_alloc_schema(version), min_consumers=0),
        },
        "required": ["inventories", "allocations"],
        "additionalProperties": False,
    }


_RESHAPE = {version: _reshape(version) for version in ((1, 28), (1, 34), (1, 38))}


def reshape_schema(version):
    return _RESHAPE[max(v for v in _RESHAPE if version >= v)]
