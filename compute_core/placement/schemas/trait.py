"""Request schemas of /traits and a provider's traits."""
from __future__ import annotations

from compute_core.placement.schemas.common import GENERATION

TRAITS_QUERY = {"name": {"type": "string"}, "associated": {"type": "string"}}
TRAITS_QUERY_SCHEMA = {"type": "object", "properties": TRAITS_QUERY,
                       "additionalProperties": False}
_TRAIT = {"type": "string", "minLength": 1, "maxLength": 255}
PROVIDER_TRAITS_SCHEMA = {
    "type": "object",
    "properties": {"traits": {"type": "array", "items": _TRAIT},
                   "resource_provider_generation": GENERATION},
    "required": ["traits", "resource_provider_generation"],
    "additionalProperties": False,
}
