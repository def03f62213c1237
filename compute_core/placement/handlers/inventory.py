"""/resource_providers/{uuid}/inventories[/{resource_class}]: a provider's
inventories, all at once or one class at a time.
"""
from __future__ import annotations

from compute_core.apispec import keyed, operation
from compute_core.placement.exception import (
    BadRequest, GenerationConflict, InvalidInventoryCapacity, InventoryInUse, NotFound,
    ProviderNotFound)
from compute_core.placement.handlers.base import (
    cached, check_policy, existing_provider, json_body, json_response, link, no_content,
    path_uuid, reworded_not_found, since, takes_json)
from compute_core.placement.objects import inventory as inv_obj
from compute_core.placement.schemas.inventory import (
    ADD_INVENTORY_SCHEMA, INVENTORIES_SCHEMA, ONE_INVENTORY_SCHEMA)

_INVENTORIES = keyed("resource_provider_generation", "inventories")
_ONE_INVENTORY = keyed("resource_provider_generation", "total")

_INVENTORY_LINKS = {
    "GetInventory": ("showInventory", {"uuid": "$request.path.uuid",
                                       "resource_class": "$request.body#/resource_class"}),
    "UpdateInventory": ("updateInventory", {"uuid": "$request.path.uuid",
                                            "resource_class": "$request.body#/resource_class"}),
    "DeleteInventory": ("deleteInventory", {"uuid": "$request.path.uuid",
                                            "resource_class": "$request.body#/resource_class"})}


def _check_classes(state, names, refusal):
    """400 (*refusal* followed by the lookup's words) for an unknown class."""
    for name in names:
        try:
            state.rc_cache.id_of(name)
        except NotFound as exc:
            raise BadRequest(f"{refusal}: {exc.detail}") from None


@operation("listInventories", "A resource provider's inventories", ok={200: _INVENTORIES},
           errors=(404,), admin=True)
@reworded_not_found("{detail} : {detail}")
def get_inventories(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:inventories:list")
    gen, inv = inv_obj.get_inventories(state.db, path_uuid(uuid), state.rc_cache)
    resp = json_response({"resource_provider_generation": gen, "inventories": inv})
    resp.placement_last_modified = bool(inv)  # no inventory, no modification time
    return resp


@operation("replaceInventories", "Replace a resource provider's inventories",
           ok={200: _INVENTORIES}, errors=(404, 409), body=INVENTORIES_SCHEMA, admin=True,
           links={"GetInventories": ("listInventories", {"uuid": "$request.path.uuid"}),
                  "DeleteInventories": ("deleteInventories", {"uuid": "$request.path.uuid"})})
@takes_json
def set_inventories(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:inventories:update")
    rp = existing_provider(state, uuid)
    data = json_body(req, INVENTORIES_SCHEMA)
    _check_classes(state, data["inventories"],
                   f"Unknown resource class in inventory for resource provider {rp}")
    try:
        gen, inv = inv_obj.set_inventories(state.db, rp, data["resource_provider_generation"],
                                           data["inventories"], state.rc_cache,
                                           reserved_may_equal_total=version >= (1, 26))
    except InventoryInUse as exc:
        raise InventoryInUse(f"update conflict: {exc.detail}") from None
    return cached(json_response({"resource_provider_generation": gen, "inventories": inv}),
                  version, last_modified=bool(inv))


@since((1, 5), older_status=405)
@operation("deleteInventories", "Delete all inventories of a resource provider",
           ok={204: None}, errors=(404, 409), admin=True)
def delete_inventories(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:inventories:delete")
    rp = path_uuid(uuid)
    gen, _ = inv_obj.get_inventories(state.db, rp, state.rc_cache)
    inv_obj.set_inventories(state.db, rp, gen, {}, state.rc_cache)
    return no_content()


@operation("createInventory", "Add one inventory to a resource provider",
           ok={201: _ONE_INVENTORY}, errors=(404, 409), body=ADD_INVENTORY_SCHEMA, admin=True,
           links=_INVENTORY_LINKS)
@takes_json
def add_inventory(req, state, version, uuid):
    check_policy(req, state, "placement:resource_providers:inventories:create")
    rp = existing_provider(state, uuid)
    data = json_body(req, ADD_INVENTORY_SCHEMA)
    rc = data.pop("resource_class")
    refusal = f"Unable to create inventory for resource provider {rp}"
    _check_classes(state, [rc], refusal)
    current_gen, existing = inv_obj.get_inventories(state.db, rp, state.rc_cache)
    # Placement reads no generation here: it adds to what it finds
    data.pop("resource_provider_generation", None)
    gen = current_gen
    if rc in existing:
        raise GenerationConflict(f"Update conflict: inventory for {rc} already exists on "
                                 f"resource provider {rp}")
    try:
        new_gen, inv = inv_obj.set_inventories(state.db, rp, gen, {rc: data}, state.rc_cache,
                                               replace=False,
                                               reserved_may_equal_total=version >= (1, 26))
    except InvalidInventoryCapacity as exc:
        raise BadRequest(f"{refusal}: {exc.reason}") from None
    location = link(req, f"/resource_providers/{rp}/inventories/{rc}")
    return cached(json_response(dict(inv[rc], resource_provider_generation=new_gen), status=201,
                                headers={"Location": location}),
                  version)


@operation("showInventory", "One inventory of a resource provider", ok={200: _ONE_INVENTORY},
           errors=(404,), admin=True)
@reworded_not_found("{detail} : {detail}")
def get_inventory(req, state, version, uuid, resource_class):
    check_policy(req, state, "placement:resource_providers:inventories:show")
    rp = path_uuid(uuid)
    gen, inv = inv_obj.get_inventories(state.db, rp, state.rc_cache)
    if resource_class not in inv:
        raise NotFound(f"No inventory of class {resource_class} for {rp}")
    return json_response(dict(inv[resource_class], resource_provider_generation=gen))


@operation("updateInventory", "Update one inventory of a resource provider",
           ok={200: _ONE_INVENTORY}, errors=(404, 409), body=ONE_INVENTORY_SCHEMA, admin=True)
@takes_json
def update_inventory(req, state, version, uuid, resource_class):
    check_policy(req, state, "placement:resource_providers:inventories:update")
    rp = existing_provider(state, uuid)
    data = json_body(req, ONE_INVENTORY_SCHEMA)
    state.rc_cache.id_of(resource_class)  # an unknown class is a 404 here, as in Placement
    gen = data.pop("resource_provider_generation")
    new_gen, inv = inv_obj.set_inventories(state.db, rp, gen, {resource_class: data},
                                           state.rc_cache, replace=False, must_exist=True,
                                           reserved_may_equal_total=version >= (1, 26))
    return cached(json_response(dict(inv[resource_class], resource_provider_generation=new_gen)),
                  version)


@operation("deleteInventory", "Delete one inventory of a resource provider", ok={204: None},
           errors=(404, 409), admin=True)
def delete_inventory(req, state, version, uuid, resource_class):
    check_policy(req, state, "placement:resource_providers:inventories:delete")
    rp = path_uuid(uuid)
    gen, _ = inv_obj.get_inventories(state.db, rp, state.rc_cache)
    try:
        inv_obj.delete_inventory(state.db, rp, resource_class, gen, state.rc_cache)
    except InventoryInUse as exc:
        # Placement's wording and code for this one
        raise GenerationConflict(f"Unable to delete inventory of class {resource_class}: "
                                 f"{exc.detail}") from None
    except ProviderNotFound:
        raise
    except NotFound as exc:
        raise NotFound(f"No inventory of class {resource_class} found for delete: "
                       f"{exc.detail}") from None
    return no_content()
