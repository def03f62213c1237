"""Placement request handlers: parse, check, call the object layer, render.

Each handler takes (req, state, version, **path_args) where *state* is the
:class:`compute_core.placement.PlacementState` of the cloud.
"""
from __future__ import annotations

import datetime
import functools
import json
import re
import uuid as uuidlib

import jsonschema
import webob

from compute_core import validation, wsgi
from compute_core.apispec import keyed, operation
from compute_core.placement import candidates, policy, query
from compute_core.placement import objects as ob
from compute_core.placement.objects import BadRequest, NotFound

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                     r"[0-9a-fA-F]{12}$")
RC_RE = re.compile(r"^[A-Z0-9_]+$")


# A uuid in a body: checked by _uuid() (Placement accepts the hyphenless
# form too), the format tells the OpenAPI document's readers.
_UUID_STRING = {"type": "string", "format": "uuid"}


def _json(data, status=200, headers=None):
    resp = webob.Response(status=status, content_type="application/json", charset="utf-8")
    resp.body = json.dumps(data, allow_nan=False).encode()
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _no_content():
    resp = webob.Response(status=204)
    resp.content_type = None
    return resp


def _can(req, state, action, target=None):
    """403 unless the request's context may do *action* (placement.policy)."""
    ctx = req.environ.get(wsgi.CONTEXT_KEY)
    try:
        if ctx is None:
            raise policy.PolicyNotAuthorized(action)
        policy.authorize(state.policy, ctx, action, target)
    except policy.PolicyNotAuthorized as exc:
        raise _Forbidden(str(exc)) from None


class _Forbidden(ob.PlacementError):
    status = 403
    vary = False  # openstack-placement's dispatcher answers it


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
    except wsgi.BadJSON as exc:
        if exc.field:
            raise BadRequest(f"JSON does not validate: {exc.reason} (at {exc.field})") \
                from None
        raise BadRequest(f"Malformed JSON: {exc.reason}") from None
    try:
        validation.validator_for(schema).validate(data)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "body"
        raise BadRequest(f"JSON does not validate: {exc.message} (at {where})") from None
    return data


def _uuid(value, what="uuid"):
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise BadRequest(f"Malformed {what}: {value!r} is not a valid UUID.")
    return str(uuidlib.UUID(value))


_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _path_uuid(value):
    # Placement looks the path's uuid up exactly as written: any other
    # spelling than the stored one (hyphenless, upper case) names nothing.
    if not _CANONICAL_UUID.match(value or ""):
        raise ob.ProviderNotFound(f"No resource provider with uuid {value} found")
    return value


def _existing_provider(state, value):
    """The path's provider uuid, 404 unless it exists: Placement looks the
    provider up before it reads the body."""
    rp = _path_uuid(value)
    ob.get_provider(state.db, rp)
    return rp


def _reworded_not_found(fmt):
    """A provider's 404 worded as the handler of openstack-placement words
    it (*fmt* with {uuid} and {detail}), answered by the handler (Vary)."""
    def wrap(fn):
        @functools.wraps(fn)
        def handler(req, state, version, uuid, **kw):
            try:
                return fn(req, state, version, uuid, **kw)
            except ob.ProviderNotFound as exc:
                raise NotFound(fmt.format(uuid=uuid, detail=exc.detail)) from None
        return handler
    return wrap


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


def takes_json(fn=None, *, until=None):
    """Mark a handler that reads a JSON body: any other Content-Type is a
    415 before anything else is checked (before *until*, if given)."""
    def mark(f):
        f.takes_json = (lambda v: True) if until is None else (lambda v: v < until)
        return f
    return mark(fn) if fn is not None else mark


def _cached(resp, version, last_modified=True):
    """Placement's cache headers on a write's answer (1.15 and later)."""
    if version >= (1, 15):
        resp.cache_control = "no-cache"
        if last_modified:
            resp.last_modified = datetime.datetime.now(datetime.timezone.utc)
    return resp


def since(version, older_status=404):
    """Mark a handler as served from microversion *version*: older gets
    *older_status* (404 for a new resource, 405 for a new method)."""
    def mark(fn):
        fn.min_version = version
        fn.older_status = older_status
        return fn
    return mark


# -------------------------------------------------------------------- root

@operation("getRoot", "The version document", ok={200: keyed("versions")})
def home(req, state, version):
    from compute_core.placement.app import MAX_VERSION, MIN_VERSION

    return _json({"versions": [{
        "id": "v1.0", "status": "CURRENT",
        "max_version": f"{MAX_VERSION[0]}.{MAX_VERSION[1]}",
        "min_version": f"{MIN_VERSION[0]}.{MIN_VERSION[1]}",
        "links": [{"rel": "self", "href": ""}]}]})


home.checks_accept = False  # GET / answers JSON whatever the Accept


# --------------------------------------------------------------- providers

_PROVIDER_QUERY = {"name": (1, 0), "uuid": (1, 0), "member_of": (1, 3), "resources": (1, 4),
                   "in_tree": (1, 14), "required": (1, 18)}


def provider_query(version):
    return {k: {"type": "string"} for k, since in _PROVIDER_QUERY.items() if version >= since}


_PROVIDER = keyed("uuid", "name", "generation", "links")
_RP_LINKS = {"GetProvider": ("showResourceProvider", {"uuid": "$response.body#/uuid"}),
             "DeleteProvider": ("deleteResourceProvider", {"uuid": "$response.body#/uuid"}),
             "SetInventories": ("replaceInventories", {"uuid": "$response.body#/uuid"}),
             "AddInventory": ("createInventory", {"uuid": "$response.body#/uuid"}),
             "SetTraits": ("replaceProviderTraits", {"uuid": "$response.body#/uuid"}),
             "GetUsages": ("showProviderUsages", {"uuid": "$response.body#/uuid"})}


@operation("listResourceProviders", "List resource providers",
           ok={200: keyed("resource_providers")}, query=provider_query, admin=True)
def list_providers(req, state, version):
    _can(req, state, "placement:resource_providers:list")
    query.check_allowed(req, lambda k: k in _PROVIDER_QUERY and version >= _PROVIDER_QUERY[k])
    kwargs = {"rc_cache": state.rc_cache}
    name = query.single(req, "name")
    if name is not None:
        kwargs["name"] = name
    value = query.single(req, "uuid")
    if value is not None:
        kwargs["uuid"] = query.uuid_value(value, "uuid")
    value = query.single(req, "in_tree")
    if value is not None:
        kwargs["in_tree"] = query.uuid_value(value, "in_tree")
    value = query.single(req, "resources")
    if value is not None:
        kwargs["resources"] = query.resources(value, state.rc_cache)
    if "required" in req.GET:
        kwargs["required"], kwargs["forbidden"] = query.traits(
            req.GET.getall("required"), state.db, version)
    if "member_of" in req.GET:
        kwargs["member_of"], kwargs["forbidden_aggs"] = query.member_of(
            req.GET.getall("member_of"), version)
    providers = ob.list_providers(state.db, **kwargs)
    return _json({"resource_providers": [_provider_view(req, version, p) for p in providers]})


def _provider_schema(version, with_uuid=True):
    props = {"name": {"type": "string", "maxLength": 200, "minLength": 1}}
    if with_uuid:
        props["uuid"] = _UUID_STRING
    if version >= (1, 14):
        props["parent_provider_uuid"] = {"anyOf": [_UUID_STRING, {"type": "null"}]}
    return {"type": "object", "properties": props, "required": ["name"],
            "additionalProperties": False}


def _created_provider(version):
    return {201: None} if version < (1, 20) else {200: _PROVIDER}


@operation("createResourceProvider", "Create a resource provider", ok=_created_provider,
           errors=(409,), body=_provider_schema, admin=True, links=_RP_LINKS)
@takes_json
def create_provider(req, state, version):
    _can(req, state, "placement:resource_providers:create")
    data = _body(req, _provider_schema(version))
    rp_uuid = _uuid(data["uuid"], "uuid") if "uuid" in data else None
    parent = data.get("parent_provider_uuid")
    if parent is not None:
        parent = _uuid(parent, "parent_provider_uuid")
    p = ob.create_provider(state.db, data["name"], rp_uuid, parent)
    location = _link(req, f"/resource_providers/{p['uuid']}")
    if version >= (1, 20):
        return _cached(_json(_provider_view(req, version, p), headers={"Location": location}),
                       version)
    resp = webob.Response(status=201)
    resp.headers["Location"] = location
    resp.content_type = None
    return resp


@operation("showResourceProvider", "Show a resource provider", ok={200: _PROVIDER},
           errors=(404,), admin=True)
def get_provider(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:show")
    return _json(_provider_view(req, version, ob.get_provider(state.db, _path_uuid(uuid))))


def _provider_update_schema(version):
    return _provider_schema(version, with_uuid=False)


@operation("updateResourceProvider", "Rename or re-parent a resource provider",
           ok={200: _PROVIDER}, errors=(404, 409), body=_provider_update_schema, admin=True)
@takes_json
def update_provider(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:update")
    rp = _existing_provider(state, uuid)
    data = _body(req, _provider_update_schema(version))
    kwargs = {}
    if "parent_provider_uuid" in data:
        parent = data["parent_provider_uuid"]
        kwargs["parent_uuid"] = None if parent is None else _uuid(parent, "parent_provider_uuid")
    p = ob.update_provider(state.db, rp, data["name"], allow_reparent=version >= (1, 37),
                           **kwargs)
    # (openstack-placement sends no Last-Modified when it sets a parent: its
    # object's update time is not refreshed on that path)
    return _cached(_json(_provider_view(req, version, p)), version,
                   last_modified=data.get("parent_provider_uuid") is None)


@operation("deleteResourceProvider", "Delete a resource provider", ok={204: None},
           errors=(404, 409), admin=True)
def delete_provider(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:delete")
    try:
        ob.delete_provider(state.db, _path_uuid(uuid))
    except ob.ProviderNotFound:
        raise NotFound(f"No resource provider with uuid {uuid} found for delete") from None
    return _no_content()


# ------------------------------------------------------------- inventories

_INVENTORY_PROPS = {
    "total": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    "reserved": {"type": "integer", "minimum": 0, "maximum": 2147483647},
    "min_unit": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    "max_unit": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    "step_size": {"type": "integer", "minimum": 1, "maximum": 2147483647},
    # no minimum: Placement's schema has none
    "allocation_ratio": {"type": "number", "maximum": 3.40282e38},
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


_ADD_INVENTORY_SCHEMA = dict(
    _ONE_INVENTORY_SCHEMA,
    properties=dict(_ONE_INVENTORY_SCHEMA["properties"],
                    resource_class={"type": "string", "pattern": "^[A-Z0-9_]+$"}),
    # Placement makes the generation optional here (and checks it when given)
    required=["total", "resource_class"])
_INVENTORIES = keyed("resource_provider_generation", "inventories")
_ONE_INVENTORY = keyed("resource_provider_generation", "total")
_INVENTORY_LINKS = {
    "GetInventory": ("showInventory", {"uuid": "$request.path.uuid",
                                       "resource_class": "$request.body#/resource_class"}),
    "UpdateInventory": ("updateInventory", {"uuid": "$request.path.uuid",
                                            "resource_class": "$request.body#/resource_class"}),
    "DeleteInventory": ("deleteInventory", {"uuid": "$request.path.uuid",
                                            "resource_class": "$request.body#/resource_class"})}


def _check_classes(state, names):
    for name in names:
        try:
            state.rc_cache.id_of(name)
        except NotFound:
            raise BadRequest(f"Unknown resource class in inventory for resource provider: "
                             f"{name}") from None


@operation("listInventories", "A resource provider's inventories", ok={200: _INVENTORIES},
           errors=(404,), admin=True)
@_reworded_not_found("{detail} : {detail}")
def get_inventories(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:inventories:list")
    gen, inv = ob.get_inventories(state.db, _path_uuid(uuid), state.rc_cache)
    resp = _json({"resource_provider_generation": gen, "inventories": inv})
    resp.placement_last_modified = bool(inv)  # no inventory, no modification time
    return resp


@operation("replaceInventories", "Replace a resource provider's inventories",
           ok={200: _INVENTORIES}, errors=(404, 409), body=_INVENTORIES_SCHEMA, admin=True,
           links={"GetInventories": ("listInventories", {"uuid": "$request.path.uuid"}),
                  "DeleteInventories": ("deleteInventories", {"uuid": "$request.path.uuid"})})
@takes_json
def set_inventories(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:inventories:update")
    rp = _existing_provider(state, uuid)
    data = _body(req, _INVENTORIES_SCHEMA)
    _check_classes(state, data["inventories"])
    gen, inv = ob.set_inventories(state.db, rp, data["resource_provider_generation"],
                                  data["inventories"], state.rc_cache,
                                  reserved_may_equal_total=version >= (1, 26))
    return _cached(_json({"resource_provider_generation": gen, "inventories": inv}), version,
                   last_modified=bool(inv))


@since((1, 5), older_status=405)
@operation("deleteInventories", "Delete all inventories of a resource provider",
           ok={204: None}, errors=(404, 409), admin=True)
def delete_inventories(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:inventories:delete")
    rp = _path_uuid(uuid)
    gen, _ = ob.get_inventories(state.db, rp, state.rc_cache)
    ob.set_inventories(state.db, rp, gen, {}, state.rc_cache)
    return _no_content()


@operation("createInventory", "Add one inventory to a resource provider",
           ok={201: _ONE_INVENTORY}, errors=(404, 409), body=_ADD_INVENTORY_SCHEMA, admin=True,
           links=_INVENTORY_LINKS)
@takes_json
def add_inventory(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:inventories:create")
    rp = _existing_provider(state, uuid)
    data = _body(req, _ADD_INVENTORY_SCHEMA)
    rc = data.pop("resource_class")
    _check_classes(state, [rc])
    current_gen, existing = ob.get_inventories(state.db, rp, state.rc_cache)
    # Placement reads no generation here: it adds to what it finds
    data.pop("resource_provider_generation", None)
    gen = current_gen
    if rc in existing:
        raise ob.GenerationConflict(f"Update conflict: inventory for {rc} already exists on resource "
                          f"provider {rp}")
    new_gen, inv = ob.set_inventories(state.db, rp, gen, {rc: data}, state.rc_cache,
                                      replace=False, reserved_may_equal_total=version >= (1, 26))
    return _cached(_json(dict(inv[rc], resource_provider_generation=new_gen), status=201,
                         headers={"Location": _link(req,
                                                    f"/resource_providers/{rp}/inventories/{rc}")}),
                   version)


@operation("showInventory", "One inventory of a resource provider", ok={200: _ONE_INVENTORY},
           errors=(404,), admin=True)
@_reworded_not_found("{detail} : {detail}")
def get_inventory(req, state, version, uuid, resource_class):
    _can(req, state, "placement:resource_providers:inventories:show")
    rp = _path_uuid(uuid)
    gen, inv = ob.get_inventories(state.db, rp, state.rc_cache)
    if resource_class not in inv:
        raise NotFound(f"No inventory of class {resource_class} for {rp}")
    return _json(dict(inv[resource_class], resource_provider_generation=gen))


@operation("updateInventory", "Update one inventory of a resource provider",
           ok={200: _ONE_INVENTORY}, errors=(404, 409), body=_ONE_INVENTORY_SCHEMA, admin=True)
@takes_json
def update_inventory(req, state, version, uuid, resource_class):
    _can(req, state, "placement:resource_providers:inventories:update")
    rp = _existing_provider(state, uuid)
    data = _body(req, _ONE_INVENTORY_SCHEMA)
    state.rc_cache.id_of(resource_class)  # an unknown class is a 404 here, as in Placement
    gen = data.pop("resource_provider_generation")
    new_gen, inv = ob.set_inventories(state.db, rp, gen, {resource_class: data},
                                      state.rc_cache, replace=False, must_exist=True,
                                      reserved_may_equal_total=version >= (1, 26))
    return _cached(_json(dict(inv[resource_class], resource_provider_generation=new_gen)),
                   version)


@operation("deleteInventory", "Delete one inventory of a resource provider", ok={204: None},
           errors=(404, 409), admin=True)
def delete_inventory(req, state, version, uuid, resource_class):
    _can(req, state, "placement:resource_providers:inventories:delete")
    rp = _path_uuid(uuid)
    gen, _ = ob.get_inventories(state.db, rp, state.rc_cache)
    try:
        ob.delete_inventory(state.db, rp, resource_class, gen, state.rc_cache)
    except ob.InventoryInUse as exc:
        # Placement's wording and code for this one
        raise ob.GenerationConflict(f"Unable to delete inventory of class {resource_class}: "
                                    f"{exc.detail}") from None
    return _no_content()


# ------------------------------------------------------------------ usages

@operation("showProviderUsages", "A resource provider's usages",
           ok={200: keyed("resource_provider_generation", "usages")}, errors=(404,), admin=True)
@_reworded_not_found("{detail}: {detail}")
def provider_usages(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:usages")
    gen, usages = ob.get_usages(state.db, _path_uuid(uuid), state.rc_cache)
    return _json({"resource_provider_generation": gen, "usages": usages})


@operation("listProviderAllocations", "The allocations against a resource provider",
           ok={200: keyed("resource_provider_generation", "allocations")}, errors=(404,),
           admin=True)
@_reworded_not_found("Resource provider '{uuid}' not found: {detail}")
def provider_allocations(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:allocations:list")
    gen, allocs = ob.provider_allocations(state.db, _path_uuid(uuid), state.rc_cache)
    if version < (1, 28):
        for entry in allocs.values():
            entry.pop("consumer_generation", None)
    return _json({"resource_provider_generation": gen, "allocations": allocs})


def usages_query(version):
    names = ["project_id", "user_id"] + (["consumer_type"] if version >= (1, 38) else [])
    return {name: {"type": "string"} for name in names}


@since((1, 9))
@operation("listUsages", "A project's (and user's) usages", ok={200: keyed("usages")},
           query=usages_query, required_query=("project_id",), admin=True)
def project_usages(req, state, version):
    # a project's reader may see its own project's usages
    _can(req, state, "placement:usages", {"project_id": query.single(req, "project_id")})
    query.check_allowed(req, set(usages_query(version)))
    project = query.single(req, "project_id")
    if not project:
        raise query.bad("'project_id' is a required property" if project is None
                        else "'' should be non-empty")
    for key in ("project_id", "user_id"):
        value = query.single(req, key)
        if value is not None and not 1 <= len(value) <= 255:
            raise query.bad(f"'{value}' is too long" if value else "'' is too short")
    ctype = query.single(req, "consumer_type")
    if ctype is not None and not re.match(r"^([A-Z0-9_]+|all|unknown)$", ctype):
        raise query.bad(f"Invalid consumer_type {ctype!r}: it must match [A-Z0-9_]+, or be "
                        "'all' or 'unknown'.")
    usages = ob.project_usages(state.db, project, query.single(req, "user_id"),
                               state.rc_cache, consumer_type=ctype,
                               by_type=version >= (1, 38))
    return _json({"usages": usages})


# ------------------------------------------------------- resource classes

_CUSTOM_NAME = {"type": "string", "pattern": "^CUSTOM_[A-Z0-9_]+$", "maxLength": 255}
_CUSTOM_RE = re.compile(_CUSTOM_NAME["pattern"])


def _rc_view(req, name):
    return {"name": name, "links": [{"rel": "self",
                                     "href": _link(req, f"/resource_classes/{name}")}]}


@since((1, 2))
@operation("listResourceClasses", "List resource classes",
           ok={200: keyed("resource_classes")}, admin=True)
def list_resource_classes(req, state, version):
    _can(req, state, "placement:resource_classes:list")
    return _json({"resource_classes": [_rc_view(req, n) for n in state.rc_cache.all()]})


_RC_NAME_SCHEMA = {"type": "object", "properties": {"name": {
    "type": "string", "pattern": "^CUSTOM_[A-Z0-9_]+$", "maxLength": 255}},
    "required": ["name"], "additionalProperties": False}
_RC_LINKS = {"GetClass": ("showResourceClass", {"name": "$request.path.name"}),
             "DeleteClass": ("deleteResourceClass", {"name": "$request.path.name"})}


@since((1, 2))
@operation("createResourceClass", "Create a custom resource class", ok={201: None},
           errors=(409,), body=_RC_NAME_SCHEMA, admin=True)
@takes_json
def create_resource_class(req, state, version):
    _can(req, state, "placement:resource_classes:create")
    data = _body(req, _RC_NAME_SCHEMA)
    state.rc_cache.create_custom(data["name"])
    resp = webob.Response(status=201)
    resp.headers["Location"] = _link(req, f"/resource_classes/{data['name']}")
    resp.content_type = None
    return resp


@since((1, 2))
@operation("showResourceClass", "Show a resource class", ok={200: keyed("name", "links")},
           errors=(404,), admin=True)
def get_resource_class(req, state, version, name):
    _can(req, state, "placement:resource_classes:show")
    state.rc_cache.id_of(name)
    return _json(_rc_view(req, name))


def _rc_put_body(version):
    return _RC_NAME_SCHEMA if version < (1, 7) else None


def _rc_put_ok(version):
    return {200: keyed("name", "links")} if version < (1, 7) else {201: None, 204: None}


@since((1, 2))
@operation("putResourceClass", "Rename (before 1.7) or ensure a custom resource class",
           ok=_rc_put_ok, errors=(404, 409), body=_rc_put_body, admin=True, links=_RC_LINKS,
           path={"name": _CUSTOM_NAME})
@takes_json(until=(1, 7))
def put_resource_class(req, state, version, name):
    _can(req, state, "placement:resource_classes:update")
    if version < (1, 7):
        data = _body(req, _RC_NAME_SCHEMA)
        state.rc_cache.rename_custom(name, data["name"])
        return _json(_rc_view(req, data["name"]))
    if not _CUSTOM_RE.match(name) or len(name) > 255:
        raise BadRequest(f"Resource class name {name} must start with CUSTOM_ and use only "
                         "A-Z, 0-9 and _.")
    status = 204
    try:
        state.rc_cache.id_of(name)
    except NotFound:
        try:
            state.rc_cache.create_custom(name)
            status = 201
        except ob.Conflict:
            pass
    resp = webob.Response(status=status)  # Location on both, as Placement
    resp.headers["Location"] = _link(req, f"/resource_classes/{name}")
    resp.content_type = None
    return resp


@since((1, 2))
@operation("deleteResourceClass", "Delete a custom resource class", ok={204: None},
           errors=(404, 409), admin=True)
def delete_resource_class(req, state, version, name):
    _can(req, state, "placement:resource_classes:delete")
    state.rc_cache.delete_custom(name)
    return _no_content()


# ------------------------------------------------------------------ traits

_TRAIT_INVALID = ("The trait is invalid. A valid trait must be no longer than 255 characters, "
                  "start with the prefix \"CUSTOM_\" and use following characters: "
                  "\"A\"-\"Z\", \"0\"-\"9\" and \"_\"")


_TRAITS_QUERY = {"name": {"type": "string"}, "associated": {"type": "string"}}
_TRAIT_LINKS = {"GetTrait": ("showTrait", {"name": "$request.path.name"}),
                "DeleteTrait": ("deleteTrait", {"name": "$request.path.name"})}


@since((1, 6))
@operation("listTraits", "List traits", ok={200: keyed("traits")}, query=_TRAITS_QUERY,
           admin=True)
def list_traits(req, state, version):
    _can(req, state, "placement:traits:list")
    query.check_allowed(req, set(_TRAITS_QUERY))
    assoc = query.single(req, "associated")
    if assoc is not None and assoc.lower() not in ("true", "false"):
        raise query.bad("The query parameter 'associated' only accepts 'true' or 'false'.")
    name = query.single(req, "name")
    if name is not None and not name.startswith(("in:", "startswith:")):
        raise query.bad(f"Badly formatted name parameter. Expected name query string "
                        f"parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. "
                        f"Got: \"{name}\"")
    return _json({"traits": ob.list_traits(
        state.db, name, None if assoc is None else assoc.lower() == "true")})


@since((1, 6))
@operation("showTrait", "Whether a trait exists", ok={204: None}, errors=(404,), admin=True)
def get_trait(req, state, version, name):
    _can(req, state, "placement:traits:show")
    if not RC_RE.match(name) or not ob.list_traits(state.db, "in:" + name):
        raise NotFound(f"No such trait(s): {name}.")
    return _cached(_no_content(), version)


get_trait.checks_accept = False  # a 204: no body to negotiate


@since((1, 6))
@operation("putTrait", "Create a custom trait", ok={201: None, 204: None}, admin=True,
           links=_TRAIT_LINKS, path={"name": _CUSTOM_NAME})
def put_trait(req, state, version, name):
    _can(req, state, "placement:traits:update")
    if not _CUSTOM_RE.match(name) or len(name) > 255:
        raise BadRequest(_TRAIT_INVALID)
    created = ob.create_trait(state.db, name)
    resp = webob.Response(status=201 if created else 204)
    resp.headers["Location"] = _link(req, f"/traits/{name}")
    resp.content_type = None
    return _cached(resp, version)


@since((1, 6))
@operation("deleteTrait", "Delete a custom trait", ok={204: None}, errors=(404, 409),
           admin=True)
def delete_trait(req, state, version, name):
    _can(req, state, "placement:traits:delete")
    ob.delete_trait(state.db, name)
    return _no_content()


_PROVIDER_TRAITS = keyed("traits", "resource_provider_generation")
_PROVIDER_TRAITS_SCHEMA = {"type": "object", "properties": {
    "traits": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z0-9_]+$",
                                          "maxLength": 255}},
    "resource_provider_generation": _GEN},
    "required": ["traits", "resource_provider_generation"], "additionalProperties": False}


@since((1, 6))
@operation("listProviderTraits", "A resource provider's traits", ok={200: _PROVIDER_TRAITS},
           errors=(404,), admin=True)
def get_provider_traits(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:traits:list")
    try:
        gen, names = ob.get_provider_traits(state.db, _path_uuid(uuid))
    except ob.ProviderNotFound as exc:  # the handler's own 404 in Placement
        raise NotFound(f"{exc.detail}: {exc.detail}") from None
    return _json({"traits": names, "resource_provider_generation": gen})


@since((1, 6))
@operation("replaceProviderTraits", "Replace a resource provider's traits",
           ok={200: _PROVIDER_TRAITS}, errors=(404, 409), body=_PROVIDER_TRAITS_SCHEMA,
           admin=True,
           links={"GetTraits": ("listProviderTraits", {"uuid": "$request.path.uuid"}),
                  "DeleteTraits": ("deleteProviderTraits", {"uuid": "$request.path.uuid"})})
@takes_json
def set_provider_traits(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:traits:update")
    rp = _path_uuid(uuid)
    data = _body(req, _PROVIDER_TRAITS_SCHEMA)
    names = sorted(set(data["traits"]))  # a repeated trait counts once, as in Placement
    gen = ob.set_provider_traits(state.db, rp, data["resource_provider_generation"], names)
    return _cached(_json({"traits": names, "resource_provider_generation": gen}),
                   version)


@since((1, 6))
@operation("deleteProviderTraits", "Remove every trait of a resource provider",
           ok={204: None}, errors=(404, 409), admin=True)
def delete_provider_traits(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:traits:delete")
    rp = _path_uuid(uuid)
    gen, _ = ob.get_provider_traits(state.db, rp)
    ob.set_provider_traits(state.db, rp, gen, [])
    return _no_content()


# -------------------------------------------------------------- aggregates

_AGG_LIST = {"type": "array", "items": _UUID_STRING, "uniqueItems": True}


def _aggregates_schema(version):
    if version < (1, 19):
        return _AGG_LIST
    return {"type": "object", "properties": {
        "aggregates": _AGG_LIST, "resource_provider_generation": _GEN},
        "required": ["aggregates", "resource_provider_generation"],
        "additionalProperties": False}


@since((1, 1))
@operation("listProviderAggregates", "A resource provider's aggregates",
           ok={200: keyed("aggregates")}, errors=(404,), admin=True)
def get_provider_aggregates(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:aggregates:list")
    gen, aggs = ob.get_provider_aggregates(state.db, _path_uuid(uuid))
    out = {"aggregates": aggs}
    if version >= (1, 19):
        out["resource_provider_generation"] = gen
    return _json(out)


@since((1, 1))
@operation("replaceProviderAggregates", "Replace a resource provider's aggregates",
           ok={200: keyed("aggregates")}, errors=(404, 409), body=_aggregates_schema,
           admin=True)
@takes_json
def set_provider_aggregates(req, state, version, uuid):
    _can(req, state, "placement:resource_providers:aggregates:update")
    rp = _existing_provider(state, uuid)
    data = _body(req, _aggregates_schema(version))
    if version >= (1, 19):
        aggs, gen = data["aggregates"], data["resource_provider_generation"]
    else:
        aggs, gen = data, None
    aggs = [_uuid(a, "aggregate") for a in aggs]
    # before 1.19 the generation is neither checked nor moved, as in Placement
    new_gen = ob.set_provider_aggregates(state.db, rp, gen, aggs, bump=version >= (1, 19))
    out = {"aggregates": sorted(aggs)}
    if version >= (1, 19):
        out["resource_provider_generation"] = new_gen
    return _cached(_json(out), version)


# ------------------------------------------------------------- allocations

_RESOURCES = {"type": "object", "minProperties": 1,
              "patternProperties": {"^[A-Z0-9_]+$": {"type": "integer", "minimum": 1,
                                                     "maximum": 2147483647}},
              "additionalProperties": False}


@functools.lru_cache(maxsize=64)  # one per microversion: built once
def _alloc_schema(version):
    per_rp = {"type": "object", "properties": {"resources": _RESOURCES, "generation": {}},
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
def _legacy_alloc_schema(version):
    props = {
        "allocations": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "properties": {"resource_provider": {
                "type": "object", "properties": {"uuid": _UUID_STRING},
                "required": ["uuid"], "additionalProperties": False},
                "resources": _RESOURCES},
            "required": ["resource_provider", "resources"], "additionalProperties": False}},
        "project_id": {"type": "string", "minLength": 1, "maxLength": 255},
        "user_id": {"type": "string", "minLength": 1, "maxLength": 255}}
    required = ["allocations"] + (["project_id", "user_id"] if version >= (1, 8) else [])
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


_INCOMPLETE = "00000000-0000-0000-0000-000000000000"


def _claim_from(data, consumer_uuid, version):
    if isinstance(data["allocations"], list):
        allocs = {}
        for a in data["allocations"]:
            rp = _uuid(a["resource_provider"]["uuid"], "resource provider uuid")
            allocs.setdefault(rp, {}).update(a["resources"])
    else:
        allocs = {_uuid(rp, "resource provider uuid"): v["resources"]
                  for rp, v in data["allocations"].items()}
    claim = {"consumer_uuid": consumer_uuid, "allocations": allocs,
             "project_id": data.get("project_id") or _INCOMPLETE,
             "user_id": data.get("user_id") or _INCOMPLETE,
             "consumer_type": data.get("consumer_type")}
    if version >= (1, 28):
        claim["consumer_generation"] = data.get("consumer_generation")
    return claim


def _put_alloc_schema(version):
    return _alloc_schema(version) if version >= (1, 12) else _legacy_alloc_schema(version)


@functools.lru_cache(maxsize=64)
def _post_alloc_schema(version):
    return {"type": "object", "minProperties": 1,
            "patternProperties": {"^.+$": _alloc_schema(version)},
            "additionalProperties": False}


_CONSUMER_LINKS = {
    "GetAllocations": ("showAllocations", {"consumer_uuid": "$request.path.consumer_uuid"}),
    "DeleteAllocations": ("deleteAllocations",
                          {"consumer_uuid": "$request.path.consumer_uuid"})}


@operation("showAllocations", "A consumer's allocations", ok={200: keyed("allocations")},
           admin=True)
def get_allocations(req, state, version, consumer_uuid):
    _can(req, state, "placement:allocations:list")
    # Placement looks any consumer id up as it is: a malformed one has no
    # allocations (an empty answer), not a 400.
    consumer = (str(uuidlib.UUID(consumer_uuid)) if UUID_RE.match(consumer_uuid)
                else consumer_uuid)
    data = ob.get_allocations(state.db, consumer, state.rc_cache)
    if version < (1, 12):
        data = {"allocations": data["allocations"]}
    elif version < (1, 28):
        data.pop("consumer_generation", None)
    if version < (1, 38):
        data.pop("consumer_type", None)
    return _json(data)


@operation("putAllocations", "Replace a consumer's allocations", ok={204: None},
           errors=(409,), body=_put_alloc_schema, admin=True, links=_CONSUMER_LINKS)
@takes_json
def put_allocations(req, state, version, consumer_uuid):
    _can(req, state, "placement:allocations:update")
    consumer = _uuid(consumer_uuid, "consumer uuid")
    data = _body(req, _put_alloc_schema(version))
    claim = _claim_from(data, consumer, version)
    ob.replace_allocations(state.db, [claim], state.rc_cache)
    return _no_content()


@since((1, 13))
@operation("postAllocations", "Replace the allocations of several consumers at once",
           ok={204: None}, errors=(409,), body=_post_alloc_schema, admin=True)
@takes_json
def post_allocations(req, state, version):
    _can(req, state, "placement:allocations:manage")
    data = _body(req, _post_alloc_schema(version))
    claims = [_claim_from(v, _uuid(c, "consumer uuid"), version) for c, v in data.items()]
    ob.replace_allocations(state.db, claims, state.rc_cache)
    return _no_content()


@operation("deleteAllocations", "Delete a consumer's allocations", ok={204: None},
           errors=(404, 409), admin=True)
def delete_allocations(req, state, version, consumer_uuid):
    _can(req, state, "placement:allocations:delete")
    if not UUID_RE.match(consumer_uuid):
        raise NotFound(f"No allocations for consumer '{consumer_uuid}'")
    consumer = str(uuidlib.UUID(consumer_uuid))
    if not ob.has_allocations(state.db, consumer):
        raise NotFound(f"No allocations for consumer '{consumer}'")
    ob.replace_allocations(state.db, [{"consumer_uuid": consumer, "allocations": {}}],
                           state.rc_cache)
    return _no_content()


# --------------------------------------------------- allocation candidates

@since((1, 10))
@operation("listAllocationCandidates", "Allocation candidates for a request",
           ok={200: keyed("allocation_requests", "provider_summaries")},
           query=query.candidate_query, admin=True)
def allocation_candidates(req, state, version):
    _can(req, state, "placement:allocation_candidates:list")
    groups, wide = query.candidate_request(req, version, state)
    result = candidates.find(state.db, groups, wide, state.rc_cache)
    if isinstance(result, candidates.FlatCandidates):
        resp = webob.Response(status=200, content_type="application/json", charset="utf-8")
        resp.body = result.json(version).encode()
        return resp
    return _json(candidates_at_version(result, version,
                                       set().union(*(g.resources for g in groups))))


def candidates_at_version(result: dict, version, requested: set) -> dict:
    """:func:`candidates.find`'s document (latest microversion) trimmed to
    what *version* shows (the flat path's :class:`candidates.FlatCandidates`
    renders the same trimming itself)."""
    requests = result["allocation_requests"]
    if version < (1, 12):
        requests = [{"allocations": [{"resource_provider": {"uuid": rp},
                                      "resources": v["resources"]}
                                     for rp, v in ar["allocations"].items()]}
                    for ar in requests]
    elif version < (1, 34):
        requests = [{"allocations": ar["allocations"]} for ar in requests]
    for summary in result["provider_summaries"].values():
        if version < (1, 27):
            summary["resources"] = {k: v for k, v in summary["resources"].items()
                                    if k in requested}
        if version < (1, 17):
            summary.pop("traits")
        if version < (1, 29):
            summary.pop("parent_provider_uuid")
            summary.pop("root_provider_uuid")
    return {"allocation_requests": requests,
            "provider_summaries": result["provider_summaries"]}


# ---------------------------------------------------------------- reshaper

@functools.lru_cache(maxsize=64)
def _reshape_schema(version):
    per_rp = {"type": "object", "properties": {
        "resource_provider_generation": _GEN,
        "inventories": {"type": "object", "patternProperties": {"^[A-Z0-9_]+$": _INVENTORY},
                        "additionalProperties": False}},
        "required": ["resource_provider_generation", "inventories"],
        "additionalProperties": False}
    schema = {"type": "object", "properties": {
        # at least one provider, as Placement's schema says
        "inventories": {"type": "object", "patternProperties": {"^[0-9a-fA-F-]{36}$": per_rp},
                        "minProperties": 1, "additionalProperties": False},
        "allocations": {"type": "object", "patternProperties": {"^.+$": _alloc_schema(
            max(version, (1, 28)))}, "additionalProperties": False}},
        "required": ["inventories", "allocations"], "additionalProperties": False}
    return schema


@since((1, 30))
@operation("reshape", "Move inventories and allocations between providers atomically",
           ok={204: None}, errors=(409,), body=_reshape_schema, admin=True)
@takes_json
def reshape(req, state, version):
    _can(req, state, "placement:reshaper:reshape")
    data = _body(req, _reshape_schema(version))
    inventories = {}
    for rp, body in data["inventories"].items():
        # Placement's checks, in its order: the provider, its generation
        try:
            current = ob.get_provider(state.db, rp)
        except ob.ProviderNotFound as exc:
            raise BadRequest(f"Resource provider {rp} in inventories not found: {exc.detail}",
                             code="placement.resource_provider.not_found") from None
        given = body["resource_provider_generation"]
        if given != current["generation"]:
            raise ob.GenerationConflict(
                f"resource provider generation conflict for provider {rp}: actual: "
                f"{current['generation']}, given: {given}")
        for name in body["inventories"]:
            try:
                state.rc_cache.id_of(name)
            except NotFound as exc:
                raise BadRequest(f"malformed reshaper data: {exc.detail}") from None
        inventories[rp] = (given, body["inventories"])
    claims = [_claim_from(v, _uuid(c, "consumer uuid"), max(version, (1, 28)))
              for c, v in data["allocations"].items()]
    ob.reshape(state.db, inventories, claims, state.rc_cache)
    return _no_content()
