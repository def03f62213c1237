"""JSON-schema pieces shared by the placement request schemas.

The request schemas are openstack-placement's, key for key and in its order:
a 400 quotes the schema that failed (see :mod:`.validator`), so the same
schema makes the same answer.
"""
from __future__ import annotations

import copy

UUID_PATTERN = "^[0-9a-fA-F-]{36}$"  # a provider's or a consumer's uuid as a key
NAME_PATTERN = "^[A-Z0-9_]+$"  # a resource class, a trait, a consumer type
CUSTOM_NAME_PATTERN = "^CUSTOM_[A-Z0-9_]+$"
GROUP_SUFFIX = "[1-9][0-9]*"  # request groups' suffixes before 1.33
GROUP_SUFFIX_1_33 = "[a-zA-Z0-9_-]{1,64}"

# A uuid in a body: the "uuid" format (hyphens optional, as Placement's
# checker takes it); body_uuid() then makes it canonical.
UUID_STRING = {"type": "string", "format": "uuid"}
GENERATION = {"type": "integer"}


def extended(schema: dict, *path, **members) -> dict:
    """A deep copy of *schema* whose object at *path* (keys) gets *members*
    (added last, or changed in place keeping their order)."""
    out = copy.deepcopy(schema)
    node = out
    for key in path:
        node = node[key]
    node.update(copy.deepcopy(members))
    return out
