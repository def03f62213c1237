"""Request schemas of a provider's aggregates (a bare list before 1.19)."""
from __future__ import annotations

from compute_core.placement.schemas.common import GENERATION, UUID_STRING

AGGREGATE_LIST = {"type": "array", "items": UUID_STRING, "uniqueItems": True}
_AGGREGATES_1_19 = {
    "type": "object",
    "properties": {"aggregates": AGGREGATE_LIST, "resource_provider_generation": GENERATION},
    "required": ["aggregates", "resource_provider_generation"],
    "additionalProperties": False,
}


def aggregates_schema(version):
    return _AGGREGATES_1_19 if version >= (1, 19) else AGGREGATE_LIST
