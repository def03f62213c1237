"""JSON schema validators, built once per schema.

jsonschema.validate() checks the schema itself against its meta-schema on
every call, which costs more than validating a request body; the APIs ask
here instead and get a validator made the first time a schema is seen.
"""
from __future__ import annotations

import json
import threading

import jsonschema

_LOCK = threading.Lock()
_CACHE: dict = {}
_BY_ID: dict = {}
_MAX = 512  # schemas are a small fixed set; the bound only guards mistakes


def validator_for(schema: dict, format_checker=None):
    """A Draft 7 validator for *schema* (checked once, then reused). A
    schema must not be changed once it has been used."""
    # Most schemas are module constants: found by identity without
    # serialising them (the entry keeps the schema alive, so its id cannot
    # be reused by another object while the entry exists).
    by_id = (id(schema), id(format_checker))
    entry = _BY_ID.get(by_id)
    if entry is not None and entry[0] is schema:
        return entry[1]
    key = (json.dumps(schema, sort_keys=True), id(format_checker))
    found = _CACHE.get(key)
    if found is None:
        jsonschema.Draft7Validator.check_schema(schema)
        found = jsonschema.Draft7Validator(schema, format_checker=format_checker)
    with _LOCK:
        for cache, k, v in ((_CACHE, key, found), (_BY_ID, by_id, (schema, found))):
            if len(cache) >= _MAX:
                cache.clear()
            cache[k] = v
    return found
