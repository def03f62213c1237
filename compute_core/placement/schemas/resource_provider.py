"""Request schemas of /resource_providers: the query it takes per microversion
and the body of a create or an update."""
from __future__ import annotations

from compute_core.placement.schemas.common import UUID_STRING, extended

_CREATE = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 200}, "uuid": UUID_STRING},
    "required": ["name"],
    "additionalProperties": False,
}
_CREATE_1_14 = extended(_CREATE, "properties",
                        parent_provider_uuid={"anyOf": [UUID_STRING, {"type": "null"}]})


def _without_uuid(schema):
    out = extended(schema)
    del out["properties"]["uuid"]
    return out


_UPDATE, _UPDATE_1_14 = _without_uuid(_CREATE), _without_uuid(_CREATE_1_14)


def provider_schema(version, with_uuid=True):
    if with_uuid:
        return _CREATE_1_14 if version >= (1, 14) else _CREATE
    return _UPDATE_1_14 if version >= (1, 14) else _UPDATE


def provider_update_schema(version):
    return provider_schema(version, with_uuid=False)


# GET /resource_providers: each parameter from its microversion on.
_QUERY_PARAMETERS = (("name", (1, 0), {"type": "string"}),
                     ("uuid", (1, 0), UUID_STRING),
                     ("member_of", (1, 3), {"type": "string"}),
                     ("resources", (1, 4), {"type": "string"}),
                     ("in_tree", (1, 14), UUID_STRING),
                     ("required", (1, 18), {"type": "string"}))
_QUERY_SCHEMAS = {}


def provider_query(version):
    """The parameters (OpenAPI's view: name -> schema)."""
    return {name: dict(schema) for name, since, schema in _QUERY_PARAMETERS
            if version >= since}


def provider_query_schema(version) -> dict:
    """The schema the query string (as a dict) is held against."""
    key = max(since for _, since, _ in _QUERY_PARAMETERS if version >= since)
    if key not in _QUERY_SCHEMAS:
        _QUERY_SCHEMAS[key] = {"type": "object", "properties": provider_query(key),
                               "additionalProperties": False}
    return _QUERY_SCHEMAS[key]
