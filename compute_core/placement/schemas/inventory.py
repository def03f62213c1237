"""Request schemas of a provider's inventories."""
from __future__ import annotations

from compute_core.placement.schemas.common import GENERATION

INVENTORY_PROPS = {
    "total": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    "reserved": {"type": "integer", "minimum": 0, "maximum": 2147483647},
    "min_unit": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    "max_unit": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    "step_size": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    # no minimum: Placement's schema has none
    "allocation_ratio": {"type": "number", "maximum": 3.40282e38},
}

INVENTORY = {"type": "object", "properties": INVENTORY_PROPS, "required": ["total"],
             "additionalProperties": False}

INVENTORIES_SCHEMA = {
    "type": "object",
    "properties": {"resource_provider_generation": GENERATION,
                   "inventories": {"type": "object",
                                   "patternProperties": {"^[A-Z0-9_]+$": INVENTORY},
                                   "additionalProperties": False}},
    "required": ["resource_provider_generation", "inventories"],
    "additionalProperties": False,
}

ONE_INVENTORY_SCHEMA = {
    "type": "object",
    "properties": dict(INVENTORY_PROPS, resource_provider_generation=GENERATION),
    "required": ["total", "resource_provider_generation"],
    "additionalProperties": False,
}

ADD_INVENTORY_SCHEMA = dict(
    ONE_INVENTORY_SCHEMA,
    properties=dict(ONE_INVENTORY_SCHEMA["properties"],
                    resource_class={"type": "string", "pattern": "^[A-Z0-9_]+$"}),
    # Placement makes the generation optional here (and checks it when given)
    required=["total", "resource_class"])
