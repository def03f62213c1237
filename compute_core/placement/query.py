"""Parsing of placement query strings: resources, required traits,
member_of, in_tree and the granular request groups of
GET /allocation_candidates. Every malformed value is a 400 naming the key and
the offending part; nothing here touches the database except the checks that
classes and traits exist.
"""
from __future__ import annotations

import re
import uuid as uuidlib

from compute_core.placement.exception import (
    BadRequest, NotFound, PlacementError, TraitNotFound)
from compute_core.placement.objects import trait as trait_obj
from compute_core.placement.objects.candidate_filters import RequestGroup, RequestWide
from compute_core.placement.schemas import validator
from compute_core.placement.schemas.allocation_candidate import candidates_query_schema

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                     r"[0-9a-fA-F]{12}$")
NAME_RE = re.compile(r"^[A-Z0-9_]+$")
SUFFIX_NUMERIC = r"[1-9][0-9]*"
SUFFIX_STRING = r"[a-zA-Z0-9_-]{1,64}"
GROUP_KEYS = ("resources", "required", "member_of", "in_tree")
# An allocation's amount is an INT column, as an inventory's total is (and
# the largest number SQL's LIMIT surely takes).
MAX_AMOUNT = 0x7FFFFFFF

BAD_VALUE = "placement.query.bad_value"
MISSING_VALUE = "placement.query.missing_value"
DUPLICATE_KEY = "placement.query.duplicate_key"


def bad(detail, code=PlacementError.code):
    return BadRequest(f"Invalid query string parameters: {detail}", code=code)


# A uuid in the query string: jsonschema's "uuid" format, as Placement
# checks it (the hyphens are required there).
_HYPHENATED_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                              r"[0-9a-fA-F]{12}$")


def uuid_value(value, key):
    if not isinstance(value, str) or not _HYPHENATED_UUID.match(value):
        raise bad(f"Expected '{key}' parameter to be a valid UUID. Got: {value!r}.")
    return str(uuidlib.UUID(value))


def in_tree_value(value):
    """A request group's in_tree: a uuid, hyphens optional (Placement's)."""
    stripped = value.strip()
    if not UUID_RE.match(stripped):
        raise bad(f"Expected 'in_tree' parameter to be a format of uuid. Got: {value}")
    return str(uuidlib.UUID(stripped))


def validate(req, schema):
    """400 unless the query string, read as openstack-placement reads it (a
    dict: the last value of a repeated key), is valid under *schema*."""
    error = validator.first_error(dict(req.GET), schema, validator.QUERY_FORMATS)
    if error is not None:
        raise bad(error)


def single(req, key):
    """The value of *key*: the last one when it is repeated, as
    openstack-placement (which reads the query string into a dict) takes."""
    values = req.GET.getall(key)
    return values[-1] if values else None


def resources(value, rc_cache, key="resources") -> dict:
    """'VCPU:1,MEMORY_MB:512' -> {'VCPU': 1, 'MEMORY_MB': 512}; classes
    checked to exist when *rc_cache* is given."""
    out = {}
    form = ("Badly formed resources parameter. Expected resources query string parameter "
            "in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: ")
    if not value.strip():
        raise BadRequest(form + "empty string.")
    for part in value.split(","):
        pieces = part.split(":")
        if len(pieces) != 2:
            raise BadRequest(f"{form}{part}.")
        name, amount = pieces
        if not NAME_RE.match(name.strip()):
            # no such class (none is named so); Placement looks it up
            raise BadRequest(f"Invalid resource class in resources parameter: No such "
                             f"resource class {name}.")
        name = name.strip()
        try:
            n = int(amount)
        except ValueError:
            raise BadRequest(f"Requested resource {name} expected positive integer amount. "
                             f"Got: {amount}.") from None
        if n < 1:
            raise BadRequest(f"Requested resource {name} requires amount >= 1. Got: {n}.")
        # More than any max_unit can hold: nothing can match (an empty
        # answer, as openstack-placement gives), and the number stays one
        # the databases can bind.
        if n > 2 ** 63 - 1:  # no database binds it
            raise bad(f"Requested resource {name} in {key} requires amount <= {MAX_AMOUNT} "
                      f"(no allocation can be larger). Got: {n}.")
        n = min(n, MAX_AMOUNT + 1)
        if name in out:
            raise bad(f"Resource class {name} appears more than once in {key}.")
        if rc_cache is not None:
            check_class(rc_cache, name, key)
        out[name] = n
    return out


def check_class(rc_cache, name, key):
    try:
        rc_cache.id_of(name)
    except NotFound:
        raise BadRequest(f"Invalid resource class in resources parameter: No such resource "
                         f"class {name}.") from None


def traits(values, version, key="required"):
    """The values of one or more *key* params -> ([frozenset any-of], forbidden);
    their form only (:func:`check_traits` looks them up)."""
    if len(values) > 1 and version < (1, 39):
        values = values[-1:]  # repeated before 1.39: the last one, as Placement takes it
    required, forbidden = [], set()
    for value in values:
        if value.startswith("in:"):
            if version < (1, 39):
                raise bad(f"The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' only supported "
                          f"since microversion 1.39. Got: {value}")
            items = [v.strip() for v in value[3:].split(",")]
            if not all(items):
                raise bad(f"Expected 'required' parameter value of the form: "
                          f"in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait in: {value}")
            if any(i.startswith("!") for i in items):
                raise bad(f"The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' does not support "
                          f"forbidden traits. Got: {value}")
            for item in items:
                _check_trait_name(item, key, value)
            required.append(frozenset(items))
            continue
        items = [v.strip() for v in value.split(",")]
        if not all(items) or not all(i.lstrip("!") for i in items):
            form = ("HW_CPU_X86_VMX,!CUSTOM_MAGIC" if version >= (1, 22)
                    else "HW_CPU_X86_VMX,CUSTOM_MAGIC")
            raise bad(f"Expected 'required' parameter value of the form: {form}. Got an "
                      f"empty trait in: {value}")
        if version < (1, 22) and any(i.startswith("!") for i in items):
            raise bad(f"Expected 'required' parameter value of the form: "
                      f"HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: {value}")
        for item in items:
            name = item
            if item.startswith("!"):
                name = item.lstrip("!")
                forbidden.add(name)
            else:
                required.append(frozenset([name]))
            _check_trait_name(name, key, value)
    conflicting = [any_of for any_of in required if any_of <= forbidden]
    if conflicting and key == "root_required":
        raise BadRequest(f"Conflicting required and forbidden traits found in root_required: "
                         f"{', '.join(sorted(set().union(*conflicting)))}", code=BAD_VALUE)
    if conflicting:
        found = sorted(f"{key}: ({', '.join(sorted(any_of))})" for any_of in conflicting)
        raise BadRequest(f"Conflicting required and forbidden traits found in the following "
                         f"traits keys: {', '.join(found)}")
    return required, forbidden


def check_traits(db, required, forbidden):
    """TraitNotFound unless every trait named exists (looked up after the
    query's form and its classes, in openstack-placement's order)."""
    names = set(forbidden).union(*required)
    if not names:
        return
    unknown = sorted(names - set(trait_obj.list_traits(db, name_filter="in:" + ",".join(names))))
    if unknown:
        raise TraitNotFound(f"No such trait(s): {', '.join(unknown)}.")


def _check_trait_name(name, key, value):
    if not NAME_RE.match(name) or len(name) > 255:
        raise bad(f"Invalid trait name {name!r} in '{key}'. Got: {value}")


def member_of(values, version, key="member_of"):
    """The values of *key* params -> ([set any-of agg uuids], forbidden set)."""
    if len(values) > 1 and version < (1, 24):
        raise BadRequest(f"Multiple {key} parameters are not supported")
    required, forbidden = [], set()
    for value in values:
        negate = value.startswith("!")
        if negate:
            if version < (1, 32):
                raise BadRequest(f"Forbidden {key} parameters are not supported in the "
                                 "specified microversion")
            value = value[1:]
        any_of = value.startswith("in:")
        raw = value[3:] if any_of else value
        items = raw.split(",")
        if len(items) > 1 and not any_of:
            raise bad(f"Multiple values for '{key}' must be prefixed with the 'in:' "
                      f"keyword. Got: {value}")
        uuids = set()
        for item in items:
            if item.startswith("!"):
                raise bad(f"Forbidden aggregate {item!r} may not appear inside 'in:' in "
                          f"'{key}'; use '!in:' instead.")
            if not UUID_RE.match(item):
                raise bad(f"Expected 'member_of' parameter to contain valid UUID(s). Got: "
                          f"{item}")
            uuids.add(str(uuidlib.UUID(item)))
        if negate:
            forbidden |= uuids
        else:
            required.append(uuids)
    return required, forbidden


# ------------------------------------------------- allocation candidates

def _group_key_re(version):
    if version >= (1, 33):
        suffix = SUFFIX_STRING
    elif version >= (1, 25):
        suffix = SUFFIX_NUMERIC
    else:
        return None
    return re.compile(rf"^(resources|required|member_of|in_tree)({suffix})?$")


# The request-wide keys and the (unsuffixed) group keys, by the microversion
# that brought them; from 1.25 the group keys may carry a suffix.
CANDIDATE_WIDE_KEYS = {"limit": (1, 16), "group_policy": (1, 25), "root_required": (1, 35),
                       "same_subtree": (1, 36)}
CANDIDATE_GROUP_KEYS = {"resources": (1, 10), "required": (1, 17), "member_of": (1, 21),
                        "in_tree": (1, 31)}


def candidate_query(version):
    """The unsuffixed query parameters of GET /allocation_candidates at *version*."""
    out = {k: {"type": "string"} for keys in (CANDIDATE_GROUP_KEYS, CANDIDATE_WIDE_KEYS)
           for k, since in keys.items() if version >= since}
    if "limit" in out:
        out["limit"] = {"type": "integer", "minimum": 1}
    if "group_policy" in out:
        out["group_policy"] = {"type": "string", "enum": ["none", "isolate"]}
    return out


def candidate_request(req, version, state):
    """Parse GET /allocation_candidates -> ([RequestGroup], RequestWide)."""
    validate(req, candidates_query_schema(version))
    wide_keys, plain = CANDIDATE_WIDE_KEYS, CANDIDATE_GROUP_KEYS
    key_re = _group_key_re(version)
    raw: dict[str, dict[str, list]] = {}
    for key in req.GET:
        if key in wide_keys and version >= wide_keys[key]:
            continue
        kind = suffix = None
        if key in plain and version >= plain[key]:
            kind, suffix = key, ""
        elif key_re is not None:
            m = key_re.match(key)
            if m and m.group(2) and not (m.group(1) == "in_tree" and version < (1, 31)):
                kind, suffix = m.group(1), m.group(2)
        if kind is None:
            raise bad(f"Additional properties are not allowed ('{key}' was unexpected)")
        raw.setdefault(suffix, {})[kind] = req.GET.getall(key)
    groups = []
    for suffix, params in raw.items():
        g = RequestGroup(suffix=suffix)
        if "resources" in params:
            # repeated: the last one, as openstack-placement takes it
            # the classes are looked up after the groups are checked (below)
            g.resources = resources(params["resources"][-1], None,
                                    "resources" + suffix)
        if "required" in params:
            g.required, g.forbidden = traits(params["required"], version,
                                             "required" + suffix)
        if "member_of" in params:
            g.member_of, g.forbidden_aggs = member_of(params["member_of"], version,
                                                      "member_of" + suffix)
        if "in_tree" in params:
            g.in_tree = in_tree_value(params["in_tree"][-1])
        groups.append(g)
    wide = RequestWide(nested_aware=version >= (1, 29))
    # repeated limit and group_policy: Placement uses the first one
    limit = (req.GET.getall("limit") or [None])[0]
    if limit is not None:
        if not re.match(r"^[1-9][0-9]*$", limit):
            raise bad(f"Failed validating 'pattern' in 'limit': {limit!r} is not a positive "
                      "integer")
        # Beyond any number of candidates, and of what SQL's LIMIT takes
        wide.limit = min(int(limit), MAX_AMOUNT)
    policy = (req.GET.getall("group_policy") or [None])[0]
    if policy is not None and policy not in ("none", "isolate"):
        raise bad(f"'group_policy' must be one of 'none' or 'isolate'. Got: {policy!r}")
    wide.group_policy = policy
    root_req = req.GET.getall("root_required")
    if len(root_req) > 1:
        raise bad("Query parameter 'root_required' may be specified only once.",
                  code=DUPLICATE_KEY)
    if root_req and root_req[0].startswith("in:"):
        # root_required takes no any-of list, at any microversion
        raise bad(f"The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' only supported since "
                  f"microversion 1.39. Got: {root_req[0]}")
    if root_req:
        req_sets, wide.root_forbidden = traits(root_req, max(version, (1, 22)),
                                               "root_required")
        wide.root_required = req_sets
    for value in req.GET.getall("same_subtree"):
        suffixes = [v.strip() for v in value.split(",")]
        if not all(suffixes):
            raise BadRequest("Empty string (unsuffixed group) can not be specified in "
                             "`same_subtree` ", code=BAD_VALUE)
        wide.same_subtree.append(suffixes)
    _check_groups(groups, wide, version)
    for g in groups:
        for name in g.resources:
            check_class(state.rc_cache, name, "resources" + g.suffix)
    for g in groups:
        check_traits(state.db, g.required, g.forbidden)
    check_traits(state.db, wide.root_required, wide.root_forbidden)
    return groups, wide


def _check_groups(groups, wide, version):
    """Placement's checks of the groups, in its order: from 1.36 at least one
    group with resources, resourceless groups named in same_subtree, and
    same_subtree naming real groups; before, no orphaned required/member_of."""
    by_suffix = {g.suffix: g for g in groups}
    if version >= (1, 36):
        resourceless = [g.suffix for g in groups if not g.resources]
        if len(resourceless) == len(groups):
            raise BadRequest("There must be at least one resources or resources[$S] "
                             "parameter.", code=MISSING_VALUE)
        in_subtree = {sfx for ss in wide.same_subtree for sfx in ss}
        bad_groups = [sfx for sfx in resourceless if sfx not in in_subtree]
        if bad_groups:
            raise BadRequest(f"Resourceless suffixed group request should be specified in "
                             f"`same_subtree` query param: bad group(s) - {bad_groups}.",
                             code=BAD_VALUE)
        # each suffix once (Placement's is a set: its order is the hash's)
        missing = list(dict.fromkeys(sfx for ss in wide.same_subtree for sfx in ss
                                     if sfx not in by_suffix))
        if missing:
            raise BadRequest(f"Real suffixes should be specified in `same_subtree`: "
                             f"{missing} not found in {list(by_suffix)}.", code=BAD_VALUE)
    else:
        for what, orphaned in (
                ("traits", [f"required{g.suffix}" for g in groups
                            if (g.required or g.forbidden) and not g.resources]),
                ("member_of", [f"member_of{g.suffix}" for g in groups
                               if (g.member_of or g.forbidden_aggs) and not g.resources])):
            if orphaned and what == "traits":
                raise BadRequest("All traits parameters must be associated with resources.  "
                                 "Found the following orphaned traits keys: "
                                 + ", ".join(orphaned))
            if orphaned:
                raise BadRequest("All member_of parameters must be associated with "
                                 "resources. Found the following orphaned member_of keys: "
                                 + ", ".join(orphaned))
        if not all(g.resources for g in groups):
            raise BadRequest("All request groups must specify resources.")
        if not groups:
            raise BadRequest("At least one request group (`resources` or `resources{$S}`) "
                             "is required.")
    numbered = [g for g in groups if g.suffix and g.resources]
    if len(numbered) > 1 and wide.group_policy is None:
        raise BadRequest("The \"group_policy\" parameter is required when specifying more "
                         "than one \"resources{N}\" parameter.")
