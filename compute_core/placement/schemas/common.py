"""JSON-schema pieces shared by the placement request schemas."""
from __future__ import annotations

# A uuid in a body: checked by body_uuid() (Placement accepts the hyphenless
# form too), the format tells the OpenAPI document's readers.
UUID_STRING = {"type": "string", "format": "uuid"}

GENERATION = {"type": "integer"}
