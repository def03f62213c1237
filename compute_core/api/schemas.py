"""JSON schemas of Compute API request bodies (shapes from the public API
reference), and validation that names the failing field."""
from __future__ import annotations

import functools

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
# Flavor sizes: an integer or a string of digits. "minimum" and "maximum"
# do not apply to the string form: the handler checks the range of both.
FLAVOR_POSITIVE = {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1,
                   "maximum": SQL_INT_MAX}
FLAVOR_NON_NEGATIVE = dict(FLAVOR_POSITIVE, minimum=0)
METADATA = {"type": "object",
            "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string",
                                                               "maxLength": 255}},
            "additionalProperties": False}
IPV4 = {"type": "string", "format": "ipv4"}
IPV6 = {"type": "string", "format": "ipv6"}

_NETWORK = {"type": "object", "properties": {
    "uuid": {"type": "string"}, "port": {"type": ["string", "null"]},
    "fixed_ip": {"type": "string", "oneOf": [IPV4, IPV6]},
    "tag": {"type": "string", "maxLength": 60}},
    "additionalProperties": False}

SERVER_CREATE = {
    "type": "object",
    "properties": {
        "server": {
            "type": "object",
            "properties": {
                "name": NAME,
                "imageRef": {"type": "string", "maxLength": 255},
                "flavorRef": {"type": ["string", "integer"], "minLength": 1,
                              "maxLength": 255},
                # Nova sets no bound, but only echoes it back: a sane one
                "adminPass": {"type": "string", "maxLength": 255},
                "metadata": METADATA,
                "networks": {"oneOf": [{"type": "array", "items": _NETWORK},
                                       {"type": "string", "enum": ["none", "auto"]}]},
                "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
                "accessIPv4": IPV4,
                "accessIPv6": IPV6,
                "personality": {"type": "array"},
                "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
                "block_device_mapping": {"type": "array"},
                "block_device_mapping_v2": {"type": "array"},
                "config_drive": {"type": ["boolean", "string", "null"]},
                "key_name": {"type": "string", "minLength": 1, "maxLength": 255},
                "min_count": POSITIVE_INT,
                "max_count": POSITIVE_INT,
                "return_reservation_id": {"type": ["boolean", "string"]},
                "security_groups": {"type": "array", "maxItems": 100, "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "minLength": 1,
                                            "maxLength": 255}},
                    "required": ["name"], "additionalProperties": False}},
                "user_data": {"type": "string", "maxLength": 65535},
                "description": DESCRIPTION,
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 60,
                                                    "pattern": "^[^,/]*$"}, "maxItems": 50},
                "trusted_image_certificates": {"type": ["array", "null"]},
                "host": {"type": "string", "minLength": 1, "maxLength": 255},
                "hypervisor_hostname": {"type": "string", "minLength": 1, "maxLength": 255},
                "hostname": {"type": "string", "minLength": 1, "maxLength": 255},
            },
            "required": ["name", "flavorRef"],
            "additionalProperties": False,
        },
        "os:scheduler_hints": {"type": "object"},
        "OS-SCH-HNT:scheduler_hints": {"type": "object"},
    },
    "required": ["server"],
    "additionalProperties": False,
}

FLAVOR_CREATE = {
    "type": "object",
    "properties": {
        "flavor": {
            "type": "object",
            "properties": {
                "name": NAME,
                "id": {"type": ["string", "null"], "minLength": 1, "maxLength": 255,
                       "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
                "ram": FLAVOR_POSITIVE,
                "vcpus": FLAVOR_POSITIVE,
                "disk": FLAVOR_NON_NEGATIVE,
                "OS-FLV-EXT-DATA:ephemeral": FLAVOR_NON_NEGATIVE,
                "swap": FLAVOR_NON_NEGATIVE,
                # a positive float a single-precision SQL column can hold
                "rxtx_factor": {"type": ["number", "string"],
                                "pattern": r"^[0-9]+(\.[0-9]+)?$",
                                "exclusiveMinimum": 0, "maximum": SQL_FLOAT_MAX},
                "os-flavor-access:is_public": {"type": ["boolean", "string"]},
                "description": DESCRIPTION,
            },
            "required": ["name", "ram", "vcpus", "disk"],
            "additionalProperties": False,
        },
    },
    "required": ["flavor"],
    "additionalProperties": False,
}

# Fields of a create body by the microversion that brought them (or, for
# "until", the last one that has them), as the API reference gives them.
SERVER_CREATE_SINCE = {"description": "2.19", "tags": "2.52",
                       "trusted_image_certificates": "2.63", "host": "2.74",
                       "hypervisor_hostname": "2.74", "hostname": "2.90"}
SERVER_CREATE_UNTIL = {"personality": "2.56"}
NETWORKS_AUTO_SINCE = "2.37"  # "auto"/"none" accepted, and networks required
FLAVOR_CREATE_SINCE = {"description": "2.55"}


def _at_version(schema, key, version, since, until=None):
    """*schema* with the properties of ``schema[key]`` that *version* lacks
    dropped (a copy; the constant is left alone)."""
    inner = dict(schema["properties"][key])
    props = dict(inner["properties"])
    for name, first in since.items():
        if not version.at_least(first):
            props.pop(name, None)
    for name, last in (until or {}).items():
        if version > last:
            props.pop(name, None)
    inner["properties"] = props
    return dict(schema, properties=dict(schema["properties"], **{key: inner}))


@functools.lru_cache(maxsize=256)  # one per microversion asked: built once
def server_create(version):
    """The schema of a ``POST /servers`` body at *version* (what the handler
    validates with and what the OpenAPI document shows)."""
    schema = _at_version(SERVER_CREATE, "server", version, SERVER_CREATE_SINCE,
                         SERVER_CREATE_UNTIL)
    server = schema["properties"]["server"]
    if version.at_least(NETWORKS_AUTO_SINCE):
        server["required"] = server["required"] + ["networks"]
    else:
        server["properties"]["networks"] = server["properties"]["networks"]["oneOf"][0]
    return schema


@functools.lru_cache(maxsize=256)
def flavor_create(version):
    """The schema of a ``POST /flavors`` body at *version*."""
    return _at_version(FLAVOR_CREATE, "flavor", version, FLAVOR_CREATE_SINCE)


# Scheduler hints are open-ended (a filter plugin may read any), as in
# Nova; they are kept with the server, so their encoded size is bounded.
MAX_SCHEDULER_HINTS_BYTES = 65535

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
