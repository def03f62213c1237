"""Request schemas of a provider's aggregates (a bare list before 1.19)."""
from __future__ import annotations

from compute_core.placement.schemas.common import GENERATION, UUID_STRING

AGGREGATE_LIST = {"type": "array", "items": UUID_STRING, "uniqueItems": True}


def aggregates_schema(version):
    if version < (1, 19):
        return AGGREGATE_LIST
    return {"type": "object", "properties": {
        "aggregates": AGGREGATE_LIST, "resource_provider_generation": GENERATION},
        "required": ["aggregates", "resource_provider_generation"],
        "additionalProperties": False}
