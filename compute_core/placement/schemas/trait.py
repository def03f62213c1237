"""Request schemas of /traits and a provider's traits."""
from __future__ import annotations

from compute_core.placement.schemas.common import GENERATION

TRAITS_QUERY = {"name": {"type": "string"}, "associated": {"type": "string"}}

PROVIDER_TRAITS_SCHEMA = {"type": "object", "properties": {
    "traits": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z0-9_]+$",
                                          "maxLength": 255}},
    "resource_provider_generation": GENERATION},
    "required": ["traits", "resource_provider_generation"], "additionalProperties": False}
