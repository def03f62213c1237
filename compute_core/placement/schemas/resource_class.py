"""Request schemas of /resource_classes: a custom class's name."""
from __future__ import annotations

import re

from compute_core.placement.schemas.common import CUSTOM_NAME_PATTERN

CUSTOM_NAME = {"type": "string", "pattern": CUSTOM_NAME_PATTERN, "maxLength": 255}
CUSTOM_RE = re.compile(CUSTOM_NAME_PATTERN)
RC_NAME_SCHEMA = {"type": "object", "properties": {"name": CUSTOM_NAME}, "required": ["name"],
                  "additionalProperties": False}


def rc_put_body(version):
    return RC_NAME_SCHEMA if version < (1, 7) else None
