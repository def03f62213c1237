"""Placement request handlers: parse, check, call the object layer, render.

Each handler takes (req, state, version, **path_args) where *state* is the
:class:`compute_core.placement.PlacementState` of the cloud.
"""
from __future__ import annotations

import json
import re
import uuid as uuidlib

import jsonschema
import webob

from compute_core import wsgi
from compute_core.placement import objects as ob
from compute_core.placement.objects import BadRequest, NotFound

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                     r"[0-9a-fA-F]{12}$")
RC_RE = re.compile(r"^[A-Z0-9_]+$")


def _json(data, status=200, headers=None):
    resp = webob.Response(status=status, content_type="application/json", charset="utf-8")
    resp.body = json.dumps(data).encode()
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _no_content():
    resp = webob.Response(status=204)
    resp.content_type = None
    return resp


def _admin(req):
    ctx = req.environ.get(wsgi.CONTEXT_KEY)
    if ctx is None or not ctx.is_admin:
        raise _Forbidden("Policy does not allow this action to be performed.")


class _Forbidden(ob.PlacementError):
    status = 403


def _body(req, schema):
    if req.content_type != "application/json":
        e = ob.PlacementError("The media type None is not supported, use application/json"
                              if not req.content_type else
                              f"The media type {req.content_type} is not supported, use "
                              "application/json")
        e.status = 415
        raise e
    try:
        data = wsgi.json_body(req)
    except ValueError as exc:
        raise BadRequest(f"Malformed JSON: {exc}") from None
    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "body"
        raise BadRequest(f"JSON does not validate: {exc.message} (at {where})") from None
    return data


def _uuid(value, what="uuid"):
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise BadRequest(f"Invalid {what}: {value!r} is not a valid UUID.")
    return str(uuidlib.UUID(value))


def _path_uuid(value):
    # A malformed path uuid can never name a provider: Placement says 404.
    if not UUID_RE.match(value or ""):
        raise NotFound(f"No resource provider with uuid {value} found",
                       code="placement.resource_provider.not_found")
    return str(uuidlib.UUID(value))


def _link(req, path):
    return req.script_name + path


def _provider_view(req, version, p):
    out = {"uuid": p["uuid"], "name": p["name"], "generation": p["generation"]}
    if version >= (1, 14):
        out["parent_provider_uuid"] = p["parent_provider_uuid"]
        out["root_provider_uuid"] = p["root_provider_uuid"]
    base = f"/resource_providers/{p['uuid']}"
    links = [{"rel": "self", "href": _link(req, base)},
             {"rel": "inventories", "href": _link(req, base + "/inventories")},
             {"rel": "usages", "href": _link(req, base + "/usages")}]
    if version >= (1, 1):
        links.append({"rel": "aggregates", "href": _link(req, base + "/aggregates")})
    if version >= (1, 6):
        links.append({"rel": "traits", "href": _link(req, base + "/traits")})
    if version >= (1, 11):
        links.append({"rel": "allocations", "href": _link(req, base + "/allocations")})
    out["links"] = links
    return out


# -------------------------------------------------------------------- root

def home(req, state, version):
    from compute_core.placement.app import MAX_VERSION, MIN_VERSION

    return _json({"versions": [{
        "id": "v1.0", "status": "CURRENT",
        "max_version": f"{MAX_VERSION[0]}.{MAX_VERSION[1]}",
        "min_version": f"{MIN_VERSION[0]}.{MIN_VERSION[1]}",
        "links": [{"rel": "self", "href": ""}]}]})


# --------------------------------------------------------------- providers

def _parse_resources(value, rc_cache):
    """'VCPU:1,MEMORY_MB:512' -> {'VCPU': 1, 'MEMORY_MB': 512}, or 400."""
    out = {}
    for part in value.split(","):
        name, sep, amount = part.strip().partition(":")
        if not sep or not name or not RC_RE.match(name):
            raise BadRequest(f"Badly formed resources parameter. Expected resources query "
                             f"string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: "
                             f"{value}.")
        try:
            n = int(amount)
        except ValueError:
            raise BadRequest(f"Requested resource {name} expected positive integer amount. "
                             f"Got: {amount}.") from None
        if n < 1:
            raise BadRequest(f"Requested resource {name} requires amount >= 1. Got: {n}.")
        if name in out:
            raise BadRequest(f"Resource class {name} appears more than once in {value}.")
        try:
            rc_cache.id_of(name)
        except NotFound:
            raise BadRequest(f"Invalid resource class in resources parameter: No such "
                             f"resource class {name}.") from None
        out[name] = n
    return out


def _parse_required(value, state):
    names = [n.strip() for n in value.split(",") if n.strip()]
    known = set(ob.list_traits(state.db, name_filter="in:" + ",".join(
        n.lstrip("!") for n in names)))
    unknown = [n.lstrip("!") for n in names if n.lstrip("!") not in known]
    if not names or unknown:
        raise BadRequest(f"Invalid query string parameters: No such trait(s): "
                         f"{', '.join(unknown) or value}.")
    return names


def _parse_member_of(values):
    out = []
    for v in values:
        v = v[3:] if v.startswith("in:") else v
        out.append([_uuid(u, "member_of") for u in v.split(",")])
    return out


_PROVIDER_QUERY = {"name", "uuid", "member_of", "resources", "in_tree", "required"}


def _check_query(req, allowed):
    unknown = sorted(set(req.GET) - allowed)
    if unknown:
        raise BadRequest(f"Invalid query string parameters: '{unknown[0]}' was unexpected")


def list_providers(req, state, version):
    _admin(req)
    _check_query(req, _PROVIDER_QUERY)
    q = req.GET
    kwargs = {"name": q.get("name"), "rc_cache": state.rc_cache}
    if "uuid" in q:
        kwargs["uuid"] = _uuid(q["uuid"])
    if "in_tree" in q:
        kwargs["in_tree"] = _uuid(q["in_tree"], "in_tree")
    if "resources" in q:
        kwargs["resources"] = _parse_resources(q["resources"], state.rc_cache)
    if "required" in q:
        kwargs["required"] = _parse_required(q["required"], state)
    if "member_of" in q:
        kwargs["member_of"] = _parse_member_of(q.getall("member_of"))
    providers = ob.list_providers(state.db, **kwargs)
    return _json({"resource_providers": [_provider_view(req, version, p) for p in providers]})


_PROVIDER_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 200, "minLength": 1},
        "uuid": {"type": "string", "format": "uuid"},
        "parent_provider_uuid": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["name"],
    "additionalProperties": False,
}


def create_provider(req, state, version):
    _admin(req)
    data = _body(req, _PROVIDER_SCHEMA)
    rp_uuid = _uuid(data["uuid"]) if "uuid" in data else None
    parent = data.get("parent_provider_uuid")
    if parent is not None:
        parent = _uuid(parent, "parent_provider_uuid")
    p = ob.create_provider(state.db, data["name"], rp_uuid, parent)
    location = _link(req, f"/resource_providers/{p['uuid']}")
    if version >= (1, 20):
        return _json(_provider_view(req, version, p), headers={"Location": location})
    resp = webob.Response(status=201)
    resp.headers["Location"] = location
    resp.content_type = None
    return resp


def get_provider(req, state, version, uuid):
    _admin(req)
    return _json(_provider_view(req, version, ob.get_provider(state.db, _path_uuid(uuid))))


def update_provider(req, state, version, uuid):
    _admin(req)
    schema = dict(_PROVIDER_SCHEMA, properties={k: v for k, v in _PROVIDER_SCHEMA["properties"].items()
                                                if k != "uuid"})
    data = _body(req, schema)
    kwargs = {}
    if version >= (1, 14) and "parent_provider_uuid" in data:
        parent = data["parent_provider_uuid"]
        kwargs["parent_uuid"] = None if parent is None else _uuid(parent, "parent_provider_uuid")
    p = ob.update_provider(state.db, _path_uuid(uuid), data["name"], **kwargs)
    return _json(_provider_view(req, version, p))


def delete_provider(req, state, version, uuid):
    _admin(req)
    ob.delete_provider(state.db, _path_uuid(uuid))
    return _no_content()


# ------------------------------------------------------------- inventories

_INVENTORY_PROPS = {
    "total": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    "reserved": {"type": "integer", "minimum": 0, "maximum": 2147483647},
    "min_unit": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    "max_unit": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    "step_size": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    "allocation_ratio": {"type": "number", "minimum": 0, "maximum": 3.40282e38,
                         "exclusiveMinimum": 0},
}
_INVENTORY = {"type": "object", "properties": _INVENTORY_PROPS, "required": ["total"],
              "additionalProperties": False}
_GEN = {"type": "integer"}
_INVENTORIES_SCHEMA = {
    "type": "object",
    "properties": {"resource_provider_generation": _GEN,
                   "inventories": {"type": "object",
                                   "patternProperties": {"^[A-Z0-9_]+$": _INVENTORY},
                                   "additionalProperties": False}},
    "required": ["resource_provider_generation", "inventories"],
    "additionalProperties": False,
}
_ONE_INVENTORY_SCHEMA = {
    "type": "object",
    "properties": dict(_INVENTORY_PROPS, resource_provider_generation=_GEN),
    "required": ["total", "resource_provider_generation"],
    "additionalProperties": False,
}


def _check_classes(state, names):
    for name in names:
        try:
            state.rc_cache.id_of(name)
        except NotFound:
            raise BadRequest(f"Unknown resource class in inventory for resource provider: "
                             f"{name}", code="placement.undefined_code") from None


def get_inventories(req, state, version, uuid):
    _admin(req)
    gen, inv = ob.get_inventories(state.db, _path_uuid(uuid), state.rc_cache)
    return _json({"resource_provider_generation": gen, "inventories": inv})


def set_inventories(req, state, version, uuid):
    _admin(req)
    data = _body(req, _INVENTORIES_SCHEMA)
    _check_classes(state, data["inventories"])
    gen, inv = ob.set_inventories(state.db, _path_uuid(uuid), data["resource_provider_generation"],
                                  data["inventories"], state.rc_cache)
    return _json({"resource_provider_generation": gen, "inventories": inv})


def delete_inventories(req, state, version, uuid):
    _admin(req)
    rp = _path_uuid(uuid)
    gen, _ = ob.get_inventories(state.db, rp, state.rc_cache)
    ob.set_inventories(state.db, rp, gen, {}, state.rc_cache)
    return _no_content()


def add_inventory(req, state, version, uuid):
    _admin(req)
    schema = dict(_ONE_INVENTORY_SCHEMA)
    schema["properties"] = dict(schema["properties"], resource_class={"type": "string",
                                                                      "pattern": "^[A-Z0-9_]+$"})
    schema["required"] = ["total", "resource_provider_generation", "resource_class"]
    data = _body(req, schema)
    rc = data.pop("resource_class")
    _check_classes(state, [rc])
    rp = _path_uuid(uuid)
    gen, existing = ob.get_inventories(state.db, rp, state.rc_cache)
    if rc in existing:
        raise ob.Conflict(f"Update conflict: inventory for {rc} already exists")
    data.pop("resource_provider_generation")
    new_gen, inv = ob.set_inventories(state.db, rp, gen, {rc: data}, state.rc_cache, replace=False)
    return _json(dict(inv[rc], resource_provider_generation=new_gen), status=201,
                 headers={"Location": _link(req, f"/resource_providers/{rp}/inventories/{rc}")})


def get_inventory(req, state, version, uuid, resource_class):
    _admin(req)
    gen, inv = ob.get_inventories(state.db, _path_uuid(uuid), state.rc_cache)
    if resource_class not in inv:
        raise NotFound(f"No inventory of class {resource_class} for {uuid}")
    return _json(dict(inv[resource_class], resource_provider_generation=gen))


def update_inventory(req, state, version, uuid, resource_class):
    _admin(req)
    data = _body(req, _ONE_INVENTORY_SCHEMA)
    _check_classes(state, [resource_class])
    gen = data.pop("resource_provider_generation")
    new_gen, inv = ob.set_inventories(state.db, _path_uuid(uuid), gen, {resource_class: data},
                                      state.rc_cache, replace=False)
    return _json(dict(inv[resource_class], resource_provider_generation=new_gen))


def delete_inventory(req, state, version, uuid, resource_class):
    _admin(req)
    _check_classes(state, [resource_class])
    rp = _path_uuid(uuid)
    gen, _ = ob.get_inventories(state.db, rp, state.rc_cache)
    ob.delete_inventory(state.db, rp, resource_class, gen, state.rc_cache)
    return _no_content()


def provider_usages(req, state, version, uuid):
    _admin(req)
    gen, usages = ob.get_usages(state.db, _path_uuid(uuid), state.rc_cache)
    return _json({"resource_provider_generation": gen, "usages": usages})


def provider_allocations(req, state, version, uuid):
    _admin(req)
    gen, allocs = ob.provider_allocations(state.db, _path_uuid(uuid), state.rc_cache)
    return _json({"resource_provider_generation": gen, "allocations": allocs})


def project_usages(req, state, version):
    _admin(req)
    _check_query(req, {"project_id", "user_id", "consumer_type"})
    if "project_id" not in req.GET:
        raise BadRequest("Invalid query string parameters: 'project_id' is a required property")
    usages = ob.project_usages(state.db, req.GET["project_id"], req.GET.get("user_id"),
                               state.rc_cache)
    return _json({"usages": usages})


# ------------------------------------------------------ classes and traits

def list_resource_classes(req, state, version):
    _admin(req)
    return _json({"resource_classes": [
        {"name": n, "links": [{"rel": "self", "href": _link(req, f"/resource_classes/{n}")}]}
        for n in state.rc_cache.all()]})


def create_resource_class(req, state, version):
    _admin(req)
    data = _body(req, {"type": "object", "properties": {"name": {
        "type": "string", "pattern": "^CUSTOM_[A-Z0-9_]+$", "maxLength": 255}},
        "required": ["name"], "additionalProperties": False})
    state.rc_cache.create_custom(data["name"])
    resp = webob.Response(status=201)
    resp.headers["Location"] = _link(req, f"/resource_classes/{data['name']}")
    resp.content_type = None
    return resp


def get_resource_class(req, state, version, name):
    _admin(req)
    state.rc_cache.id_of(name)
    return _json({"name": name, "links": [{"rel": "self",
                                           "href": _link(req, f"/resource_classes/{name}")}]})


def put_resource_class(req, state, version, name):
    _admin(req)
    if not re.match(r"^CUSTOM_[A-Z0-9_]+$", name):
        raise BadRequest(f"Resource class name {name} must match ^CUSTOM_[A-Z0-9_]+$")
    try:
        state.rc_cache.id_of(name)
        return _no_content()
    except NotFound:
        state.rc_cache.create_custom(name)
    resp = webob.Response(status=201)
    resp.headers["Location"] = _link(req, f"/resource_classes/{name}")
    resp.content_type = None
    return resp


def list_traits(req, state, version):
    _admin(req)
    _check_query(req, {"name", "associated"})
    assoc = req.GET.get("associated")
    if assoc is not None and assoc.lower() not in ("true", "false"):
        raise BadRequest("The query parameter 'associated' only accepts 'true' or 'false'.")
    name = req.GET.get("name")
    if name and not name.startswith(("in:", "startswith:")):
        raise BadRequest(f"Badly formatted name parameter. Expected name query string parameter "
                         f"in form: ?name=[in|startswith]:[name1,name2|prefix]. Got: \"{name}\"")
    return _json({"traits": ob.list_traits(
        state.db, name, None if assoc is None else assoc.lower() == "true")})


def get_trait(req, state, version, name):
    _admin(req)
    if not ob.list_traits(state.db, "in:" + name):
        raise NotFound(f"No such trait(s): {name}.", code="placement.trait.not_found")
    return _no_content()


def put_trait(req, state, version, name):
    _admin(req)
    if not re.match(r"^CUSTOM_[A-Z0-9_]+$", name):
        raise BadRequest("The trait is invalid. A valid trait must be no longer than 255 "
                         "characters, start with the prefix \"CUSTOM_\" and use following "
                         "characters: \"A\"-\"Z\", \"0\"-\"9\" and \"_\"")
    created = ob.create_trait(state.db, name)
    resp = webob.Response(status=201 if created else 204)
    resp.headers["Location"] = _link(req, f"/traits/{name}")
    resp.content_type = None
    return resp


def get_provider_traits(req, state, version, uuid):
    _admin(req)
    gen, names = ob.get_provider_traits(state.db, _path_uuid(uuid))
    return _json({"traits": names, "resource_provider_generation": gen})


def set_provider_traits(req, state, version, uuid):
    _admin(req)
    data = _body(req, {"type": "object", "properties": {
        "traits": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z0-9_]+$"},
                   "uniqueItems": True},
        "resource_provider_generation": _GEN},
        "required": ["traits", "resource_provider_generation"], "additionalProperties": False})
    rp = _path_uuid(uuid)
    gen = ob.set_provider_traits(state.db, rp, data["resource_provider_generation"], data["traits"])
    return _json({"traits": sorted(data["traits"]), "resource_provider_generation": gen})


def delete_provider_traits(req, state, version, uuid):
    _admin(req)
    rp = _path_uuid(uuid)
    gen, _ = ob.get_provider_traits(state.db, rp)
    ob.set_provider_traits(state.db, rp, gen, [])
    return _no_content()


def get_provider_aggregates(req, state, version, uuid):
    _admin(req)
    gen, aggs = ob.get_provider_aggregates(state.db, _path_uuid(uuid))
    out = {"aggregates": aggs}
    if version >= (1, 19):
        out["resource_provider_generation"] = gen
    return _json(out)


def set_provider_aggregates(req, state, version, uuid):
    _admin(req)
    agg_list = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    if version >= (1, 19):
        data = _body(req, {"type": "object", "properties": {
            "aggregates": agg_list, "resource_provider_generation": _GEN},
            "required": ["aggregates", "resource_provider_generation"],
            "additionalProperties": False})
        aggs, gen = data["aggregates"], data["resource_provider_generation"]
    else:
        aggs, gen = _body(req, agg_list), None
    aggs = [_uuid(a, "aggregate") for a in aggs]
    new_gen = ob.set_provider_aggregates(state.db, _path_uuid(uuid), gen, aggs)
    out = {"aggregates": sorted(aggs)}
    if version >= (1, 19):
        out["resource_provider_generation"] = new_gen
    return _json(out)


# ------------------------------------------------------------- allocations

_RESOURCES = {"type": "object", "minProperties": 1,
              "patternProperties": {"^[A-Z0-9_]+$": {"type": "integer", "minimum": 1,
                                                     "maximum": 2147483647}},
              "additionalProperties": False}
_ALLOC_DICT = {"type": "object",
               "patternProperties": {"^.+$": {
                   "type": "object", "properties": {"resources": _RESOURCES,
                                                    "generation": {}},
                   "required": ["resources"], "additionalProperties": False}}}


def _alloc_schema(version, with_consumer=True):
    props = {"allocations": _ALLOC_DICT,
             "project_id": {"type": "string", "minLength": 1, "maxLength": 255},
             "user_id": {"type": "string", "minLength": 1, "maxLength": 255}}
    required = ["allocations", "project_id", "user_id"]
    if version >= (1, 28):
        props["consumer_generation"] = {"type": ["integer", "null"]}
        required.append("consumer_generation")
    if version >= (1, 38):
        props["consumer_type"] = {"type": "string", "pattern": "^[A-Z0-9_]+$", "maxLength": 255}
        required.append("consumer_type")
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


_LEGACY_ALLOC_SCHEMA = {
    "type": "object",
    "properties": {
        "allocations": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "properties": {"resource_provider": {"type": "object", "properties": {
                "uuid": {"type": "string"}}, "required": ["uuid"]},
                "resources": _RESOURCES},
            "required": ["resource_provider", "resources"]}},
        "project_id": {"type": "string"}, "user_id": {"type": "string"}},
    "required": ["allocations"],
}


def _claim_from(data, consumer_uuid, version):
    if isinstance(data["allocations"], list):
        allocs = {_uuid(a["resource_provider"]["uuid"], "resource provider"): a["resources"]
                  for a in data["allocations"]}
    else:
        allocs = {_uuid(rp, "resource provider"): v["resources"]
                  for rp, v in data["allocations"].items()}
    claim = {"consumer_uuid": consumer_uuid, "allocations": allocs,
             "project_id": data.get("project_id") or "00000000-0000-0000-0000-000000000000",
             "user_id": data.get("user_id") or "00000000-0000-0000-0000-000000000000",
             "consumer_type": data.get("consumer_type")}
    if version >= (1, 28):
        claim["consumer_generation"] = data.get("consumer_generation")
    return claim


def _check_alloc_classes(state, claims):
    for claim in claims:
        for rp, resources in claim["allocations"].items():
            for name in resources:
                try:
                    state.rc_cache.id_of(name)
                except NotFound:
                    raise BadRequest(f"Unable to allocate inventory: No such resource class "
                                     f"{name}.") from None


def get_allocations(req, state, version, consumer_uuid):
    _admin(req)
    data = ob.get_allocations(state.db, _uuid(consumer_uuid, "consumer uuid"), state.rc_cache)
    if version < (1, 12):
        data = {"allocations": data["allocations"]}
    elif version < (1, 28):
        data.pop("consumer_generation", None)
    if version < (1, 38):
        data.pop("consumer_type", None)
    return _json(data)


def put_allocations(req, state, version, consumer_uuid):
    _admin(req)
    consumer = _uuid(consumer_uuid, "consumer uuid")
    data = _body(req, _alloc_schema(version) if version >= (1, 12) else _LEGACY_ALLOC_SCHEMA)
    if version < (1, 26):
        if not data["allocations"]:
            raise BadRequest("JSON does not validate: allocations must not be empty")
    claim = _claim_from(data, consumer, version)
    _check_alloc_classes(state, [claim])
    ob.replace_allocations(state.db, [claim], state.rc_cache)
    return _no_content()


def post_allocations(req, state, version):
    _admin(req)
    if version < (1, 13):
        raise NotFound("The resource could not be found.")
    schema = {"type": "object", "minProperties": 1,
              "patternProperties": {"^.+$": _alloc_schema(version)},
              "additionalProperties": False}
    data = _body(req, schema)
    claims = [_claim_from(v, _uuid(c, "consumer uuid"), version) for c, v in data.items()]
    _check_alloc_classes(state, claims)
    ob.replace_allocations(state.db, claims, state.rc_cache)
    return _no_content()


def delete_allocations(req, state, version, consumer_uuid):
    _admin(req)
    consumer = _uuid(consumer_uuid, "consumer uuid")
    if not ob.get_allocations(state.db, consumer, state.rc_cache)["allocations"]:
        raise NotFound(f"No allocations for consumer '{consumer}'")
    ob.replace_allocations(state.db, [{"consumer_uuid": consumer, "allocations": {}}],
                           state.rc_cache)
    return _no_content()


def allocation_candidates(req, state, version):
    _admin(req)
    if version < (1, 10):
        raise NotFound("The resource could not be found.")
    allowed = {"resources", "limit", "required", "member_of", "in_tree", "group_policy"}
    _check_query(req, allowed)
    if "resources" not in req.GET:
        raise BadRequest("Invalid query string parameters: 'resources' is a required property")
    resources = _parse_resources(req.GET["resources"], state.rc_cache)
    limit = None
    if "limit" in req.GET:
        try:
            limit = int(req.GET["limit"])
            if limit < 1:
                raise ValueError
        except ValueError:
            raise BadRequest(f"Invalid query string parameters: limit must be a positive "
                             f"integer, got {req.GET['limit']!r}") from None
    kwargs = {}
    if "required" in req.GET:
        kwargs["required"] = _parse_required(req.GET["required"], state)
    if "member_of" in req.GET:
        kwargs["member_of"] = _parse_member_of(req.GET.getall("member_of"))
    if "in_tree" in req.GET:
        kwargs["in_tree"] = _uuid(req.GET["in_tree"], "in_tree")
    result = ob.allocation_candidates(state.db, resources, state.rc_cache, limit=limit, **kwargs)
    if version < (1, 12):
        result["allocation_requests"] = [
            {"allocations": [{"resource_provider": {"uuid": rp}, "resources": v["resources"]}
                             for rp, v in ar["allocations"].items()]}
            for ar in result["allocation_requests"]]
    for summary in result["provider_summaries"].values():
        if version < (1, 17):
            summary.pop("traits")
        if version < (1, 29):
            summary.pop("parent_provider_uuid")
            summary.pop("root_provider_uuid")
    return _json(result)
