"""Request schemas of allocations: PUT /allocations/{consumer} (the list form
before 1.12) and POST /allocations, per microversion."""
from __future__ import annotations

from compute_core.placement.schemas.common import (
    GROUP_SUFFIX_1_33, NAME_PATTERN, UUID_PATTERN, UUID_STRING, extended)

RESOURCES = {"type": "object", "minProperties": 1,
             "patternProperties": {NAME_PATTERN: {"type": "integer", "minimum": 1}},
             "additionalProperties": False}
_ID = {"type": "string", "minLength": 1, "maxLength": 255}

# Before 1.12: a list of {resource_provider: {uuid}, resources}
_LIST_FORM = {
    "type": "object",
    "properties": {"allocations": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "properties": {
                "resource_provider": {"type": "object", "properties": {"uuid": UUID_STRING},
                                      "additionalProperties": False, "required": ["uuid"]},
                "resources": RESOURCES,
            },
            "required": ["resource_provider", "resources"],
            "additionalProperties": False,
        }}},
    "required": ["allocations"],
    "additionalProperties": False,
}
_LIST_FORM_1_8 = extended(_LIST_FORM, "properties", project_id=_ID, user_id=_ID)
_LIST_FORM_1_8["required"] += ["project_id", "user_id"]

# From 1.12: {provider uuid: {resources, generation}}
_BY_PROVIDER = {
    "type": "object",
    "properties": {
        "allocations": {
            "type": "object",
            "minProperties": 1,
            "patternProperties": {UUID_PATTERN: {
                "type": "object",
                "properties": {"generation": {"type": "integer"}, "resources": RESOURCES},
                "required": ["resources"],
                "additionalProperties": False}},
            "additionalProperties": False},
        "project_id": _ID,
        "user_id": _ID,
    },
    "additionalProperties": False,
    "required": ["allocations", "project_id", "user_id"],
}
# Empty allocations (a consumer emptied) from POST 1.13 and PUT 1.28
_EMPTIABLE = extended(_BY_PROVIDER, "properties", "allocations", minProperties=0)
_BY_PROVIDER_1_28 = extended(_EMPTIABLE, "properties", consumer_generation={
    "type": ["integer", "null"], "additionalProperties": False})
_BY_PROVIDER_1_28["required"].append("consumer_generation")
_BY_PROVIDER_1_34 = extended(_BY_PROVIDER_1_28, "properties", mappings={
    "type": "object", "minProperties": 1, "patternProperties": {GROUP_SUFFIX_1_33: {
        "type": "array", "minItems": 1, "items": UUID_STRING}}})
_BY_PROVIDER_1_38 = extended(_BY_PROVIDER_1_34, "properties", consumer_type={
    "type": "string", "pattern": NAME_PATTERN, "minLength": 1, "maxLength": 255})
_BY_PROVIDER_1_38["required"].append("consumer_type")

_PUT = (((1, 38), _BY_PROVIDER_1_38), ((1, 34), _BY_PROVIDER_1_34), ((1, 28), _BY_PROVIDER_1_28),
        ((1, 12), _BY_PROVIDER), ((1, 8), _LIST_FORM_1_8), ((1, 0), _LIST_FORM))


def alloc_schema(version):
    """One consumer's allocations at *version* (1.12 and later)."""
    return put_alloc_schema(max(version, (1, 12)))


def put_alloc_schema(version):
    return next(schema for since, schema in _PUT if version >= since)


def consumers_schema(per_consumer, min_consumers=1):
    """{consumer uuid: *per_consumer*}: POST /allocations, and the
    allocations of a reshape."""
    return {"type": "object", "minProperties": min_consumers, "additionalProperties": False,
            "patternProperties": {UUID_PATTERN: per_consumer}}


_POST = {version: consumers_schema(_EMPTIABLE if version < (1, 28) else put_alloc_schema(version))
         for version in ((1, 13), (1, 28), (1, 34), (1, 38))}


def post_alloc_schema(version):
    return _POST[max(v for v in _POST if version >= v)]
