"""Request schemas of /resource_classes: a custom class's name."""
from __future__ import annotations

import re

CUSTOM_NAME = {"type": "string", "pattern": "^CUSTOM_[A-Z0-9_]+$", "maxLength": 255}
CUSTOM_RE = re.compile(CUSTOM_NAME["pattern"])

RC_NAME_SCHEMA = {"type": "object", "properties": {"name": {
    "type": "string", "pattern": "^CUSTOM_[A-Z0-9_]+$", "maxLength": 255}},
    "required": ["name"], "additionalProperties": False}


def rc_put_body(version):
    return RC_NAME_SCHEMA if version < (1, 7) else None
