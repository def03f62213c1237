"""Request schemas of /resource_providers: the query it takes per microversion
and the body of a create or an update.
"""
from __future__ import annotations

from compute_core.placement.schemas.common import UUID_STRING

PROVIDER_QUERY = {"name": (1, 0), "uuid": (1, 0), "member_of": (1, 3), "resources": (1, 4),
                  "in_tree": (1, 14), "required": (1, 18)}


def provider_query(version):
    return {k: {"type": "string"} for k, since in PROVIDER_QUERY.items() if version >= since}


def provider_schema(version, with_uuid=True):
    props = {"name": {"type": "string", "maxLength": 200, "minLength": 1}}
    if with_uuid:
        props["uuid"] = UUID_STRING
    if version >= (1, 14):
        props["parent_provider_uuid"] = {"anyOf": [UUID_STRING, {"type": "null"}]}
    return {"type": "object", "properties": props, "required": ["name"],
            "additionalProperties": False}


def provider_update_schema(version):
    return provider_schema(version, with_uuid=False)
