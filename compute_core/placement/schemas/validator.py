"""How a request is held against the schemas, as openstack-placement does it:
jsonschema's latest draft, the most relevant error (``best_match``), rendered
whole (its message, the schema that failed and the instance) in the 400's
detail."""
from __future__ import annotations

import threading
import uuid as uuidlib

import jsonschema
from jsonschema import exceptions

# Bodies: a uuid as oslo's is_uuid_like takes it (hyphens and case free).
BODY_FORMATS = jsonschema.FormatChecker()


@BODY_FORMATS.checks("uuid")
def _uuid_like(value) -> bool:
    try:
        parsed = uuidlib.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    plain = value.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "").lower()
    return parsed.hex == plain


# Query strings: jsonschema's own checker (its "uuid" wants the hyphens).
QUERY_FORMATS = jsonschema.FormatChecker()

_VALIDATORS: dict = {}
_LOCK = threading.Lock()


def first_error(data, schema: dict, formats: jsonschema.FormatChecker) -> str | None:
    """The text of the error jsonschema.validate() would raise, or None.
    Schemas are module constants (or kept by their builders): a validator
    is made once per schema."""
    key = (id(schema), id(formats))
    entry = _VALIDATORS.get(key)
    if entry is None or entry[0] is not schema:
        jsonschema.Draft202012Validator.check_schema(schema)
        entry = (schema, jsonschema.Draft202012Validator(schema, format_checker=formats))
        with _LOCK:
            if len(_VALIDATORS) > 512:
                _VALIDATORS.clear()
            _VALIDATORS[key] = entry
    error = exceptions.best_match(entry[1].iter_errors(data))
    return None if error is None else str(error)
