"""The query GET /usages takes per microversion."""
from __future__ import annotations

from compute_core.placement.schemas.common import NAME_PATTERN, extended

_ID = {"type": "string", "minLength": 1, "maxLength": 255}
_USAGES_QUERY = {
    "type": "object",
    "properties": {"project_id": _ID, "user_id": _ID},
    "required": ["project_id"],
    "additionalProperties": False,
}
# "all" and "unknown" besides the types (the pattern as Placement writes it)
_USAGES_QUERY_1_38 = extended(_USAGES_QUERY, "properties", consumer_type={
    "type": "string", "pattern": f"{NAME_PATTERN}|^all|^unknown$", "minLength": 1,
    "maxLength": 255})


def usages_query_schema(version) -> dict:
    return _USAGES_QUERY_1_38 if version >= (1, 38) else _USAGES_QUERY


def usages_query(version):
    """The parameters (OpenAPI's view: name -> schema)."""
    return dict(usages_query_schema(version)["properties"])
