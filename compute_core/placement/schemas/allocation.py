"""Request schemas of allocations: PUT /allocations/{consumer} (the list form
before 1.12) and POST /allocations, per microversion.
"""
from __future__ import annotations

import functools

from compute_core.placement.schemas.common import UUID_STRING

RESOURCES = {"type": "object", "minProperties": 1,
             "patternProperties": {"^[A-Z0-9_]+$": {"type": "integer", "minimum": 1,
                                                    "maximum": 2147483647}},
             "additionalProperties": False}


@functools.lru_cache(maxsize=64)  # one per microversion: built once
def alloc_schema(version):
    per_rp = {"type": "object", "properties": {"resources": RESOURCES, "generation": {}},
              "required": ["resources"], "additionalProperties": False}
    allocs = {"type": "object", "patternProperties": {"^.+$": per_rp},
              "additionalProperties": False}
    if version < (1, 28):
        allocs["minProperties"] = 1
    props = {"allocations": allocs,
             "project_id": {"type": "string", "minLength": 1, "maxLength": 255},
             "user_id": {"type": "string", "minLength": 1, "maxLength": 255}}
    required = ["allocations", "project_id", "user_id"]
    if version >= (1, 28):
        props["consumer_generation"] = {"type": ["integer", "null"]}
        required.append("consumer_generation")
    if version >= (1, 34):
        props["mappings"] = {"type": "object", "minProperties": 1, "additionalProperties": {
            "type": "array", "items": {"type": "string"}, "minItems": 1}}
    if version >= (1, 38):
        props["consumer_type"] = {"type": "string", "pattern": "^[A-Z0-9_]+$", "maxLength": 255}
        required.append("consumer_type")
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


@functools.lru_cache(maxsize=64)
def legacy_alloc_schema(version):
    props = {
        "allocations": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "properties": {"resource_provider": {
                "type": "object", "properties": {"uuid": UUID_STRING},
                "required": ["uuid"], "additionalProperties": False},
                           "resources": RESOURCES},
            "required": ["resource_provider", "resources"], "additionalProperties": False}},
        "project_id": {"type": "string", "minLength": 1, "maxLength": 255},
        "user_id": {"type": "string", "minLength": 1, "maxLength": 255}}
    required = ["allocations"] + (["project_id", "user_id"] if version >= (1, 8) else [])
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


def put_alloc_schema(version):
    return alloc_schema(version) if version >= (1, 12) else legacy_alloc_schema(version)


@functools.lru_cache(maxsize=64)
def post_alloc_schema(version):
    return {"type": "object", "minProperties": 1,
            "patternProperties": {"^.+$": alloc_schema(version)},
            "additionalProperties": False}
