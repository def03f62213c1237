"""Pieces of JSON schema that several resources' request schemas use (shapes
from the public API reference), and the validation that names the failing
field. Each resource module keeps its own schemas."""
from __future__ import annotations

import jsonschema

from compute_core import validation
from compute_core.api.faults import APIError

NAME = {"type": "string", "minLength": 1, "maxLength": 255,
        "pattern": r"^(?! )[\S ]*(?<! )$"}
DESCRIPTION = {"type": ["string", "null"], "maxLength": 255}
# "minimum" does not apply to the string form ("0"): the handler checks it.
POSITIVE_INT = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1,
                "minLength": 1}
UUID = {"type": "string", "format": "uuid"}
# The largest values the databases' INT and single-precision FLOAT columns hold.
SQL_INT_MAX = 0x7FFFFFFF
SQL_FLOAT_MAX = 3.40282e38
METADATA = {"type": "object",
            "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string",
                                                               "maxLength": 255}},
            "additionalProperties": False}
IPV4 = {"type": "string", "format": "ipv4"}
IPV6 = {"type": "string", "format": "ipv6"}

_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value):
    import uuid

    if isinstance(value, str):
        uuid.UUID(value)
    return True


def validate(body, schema):
    validator = validation.validator_for(schema, _FORMATS)
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is None:
        return
    path = "/".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        raise APIError(400, f"Invalid input for field/attribute {path or 'body'}. "
                            f"Value: {error.instance!r}. {error.message}")
    if error.validator == "required":
        raise APIError(400, f"Invalid input for field/attribute {path or 'body'}. "
                            f"{error.message}")
    raise APIError(400, f"Invalid input for field/attribute {path or 'body'}. "
                        f"Value: {error.instance!r}. {error.message}")
