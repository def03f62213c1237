"""Request schemas of a provider's inventories."""
from __future__ import annotations

from compute_core.placement.schemas.common import GENERATION, NAME_PATTERN, extended

MAX_INT = 2147483647
MAX_FLOAT = 3.40282e38  # the largest single-precision float SQL stores

ONE_INVENTORY_SCHEMA = {
    "type": "object",
    "properties": {
        "resource_provider_generation": GENERATION,
        "total": {"type": "integer", "maximum": MAX_INT, "minimum": 1},
        "reserved": {"type": "integer", "maximum": MAX_INT, "minimum": 0},
        "min_unit": {"type": "integer", "maximum": MAX_INT, "minimum": 1},
        "max_unit": {"type": "integer", "maximum": MAX_INT, "minimum": 1},
        "step_size": {"type": "integer", "maximum": MAX_INT, "minimum": 1},
        # no minimum: Placement's schema has none
        "allocation_ratio": {"type": "number", "maximum": MAX_FLOAT},
    },
    "required": ["total", "resource_provider_generation"],
    "additionalProperties": False,
}
# POST: a class, and the generation optional (checked when given)
ADD_INVENTORY_SCHEMA = extended(ONE_INVENTORY_SCHEMA, "properties",
                                resource_class={"type": "string", "pattern": NAME_PATTERN})
ADD_INVENTORY_SCHEMA["required"] = ["total", "resource_class"]
# One class of PUT .../inventories (the generation is the body's)
INVENTORY = extended(ONE_INVENTORY_SCHEMA, required=["total"])
INVENTORIES_SCHEMA = {
    "type": "object",
    "properties": {
        "resource_provider_generation": GENERATION,
        "inventories": {"type": "object", "patternProperties": {NAME_PATTERN: INVENTORY}},
    },
    "required": ["resource_provider_generation", "inventories"],
    "additionalProperties": False,
}
