"""The query GET /allocation_candidates takes, per microversion (the request
groups' keys by pattern from 1.25)."""
from __future__ import annotations

import copy

from compute_core.placement.schemas.common import GROUP_SUFFIX, GROUP_SUFFIX_1_33

_STRING = {"type": "string"}
_STRINGS = {"type": ["string"]}


def _group_keys(suffix, kinds):
    return {f"^{kind}({suffix})?$": dict(_STRING) for kind in kinds}


def _build() -> list:
    """[(first microversion, schema)], newest first."""
    out = []
    schema = {"type": "object", "properties": {"resources": dict(_STRING)},
              "required": ["resources"], "additionalProperties": False}
    out.append(((1, 10), schema))
    schema = copy.deepcopy(schema)
    # a query value is a string; Placement's schema takes an integer too
    schema["properties"]["limit"] = {"type": ["integer", "string"], "pattern": "^[1-9][0-9]*$",
                                     "minimum": 1, "minLength": 1}
    out.append(((1, 16), schema))
    schema = copy.deepcopy(schema)
    schema["properties"]["required"] = dict(_STRINGS)
    out.append(((1, 17), schema))
    schema = copy.deepcopy(schema)
    schema["properties"]["member_of"] = dict(_STRINGS)
    out.append(((1, 21), schema))
    schema = copy.deepcopy(schema)
    for key in ("resources", "required", "member_of"):
        del schema["properties"][key]
    del schema["required"]
    schema["patternProperties"] = _group_keys(GROUP_SUFFIX, ("resources", "required",
                                                             "member_of"))
    schema["properties"]["group_policy"] = {"type": "string", "enum": ["none", "isolate"]}
    out.append(((1, 25), schema))
    schema = copy.deepcopy(schema)
    schema["patternProperties"].update(_group_keys(GROUP_SUFFIX, ("in_tree",)))
    out.append(((1, 31), schema))
    schema = copy.deepcopy(schema)
    schema["patternProperties"] = _group_keys(GROUP_SUFFIX_1_33, ("resources", "required",
                                                                  "member_of", "in_tree"))
    out.append(((1, 33), schema))
    schema = copy.deepcopy(schema)
    schema["properties"]["root_required"] = dict(_STRINGS)
    out.append(((1, 35), schema))
    schema = copy.deepcopy(schema)
    schema["properties"]["same_subtree"] = dict(_STRINGS)
    out.append(((1, 36), schema))
    return out[::-1]


_SCHEMAS = _build()


def candidates_query_schema(version) -> dict:
    return next(schema for since, schema in _SCHEMAS if version >= since)
