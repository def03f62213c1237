"""POST /servers/{server_id}/action: the server actions beyond power and
moves (lock, unlock, rescue, unrescue, shelve, shelveOffload, unshelve,
rebuild, os-resetState, changePassword, os-getConsoleOutput,
trigger_crash_dump, restore, forceDelete, evacuate, os-migrateLive,
addSecurityGroup, removeSecurityGroup) and GET
/servers/{server_id}/os-security-groups.

Each action's body schema by microversion follows Nova's request schemas;
the work is :class:`compute_core.api.server_lifecycle.ServerLifecycle`'s.
"""
from __future__ import annotations

import uuid as uuidlib

from compute_core import exception
from compute_core.api import policy, query, schemas
from compute_core.api.faults import APIError
from compute_core.api.microversion import ByVersion, VersionRange, versioned
from compute_core.api.resources import servers
from compute_core.api.server_lifecycle import ServerLifecycle
from compute_core.api.server_service import decode_user_data
from compute_core.apispec import keyed, operation
from compute_core.db import server_groups as groups_db


def _action(name, check_str, description, key):
    return policy.rule(name, check_str, description,
                       [("POST", f"/servers/{{server_id}}/action ({key})")])


RULES = (
    _action("os_compute_api:os-lock-server:lock", policy.PROJECT_MEMBER_OR_ADMIN,
            "Lock a server", "lock"),
    _action("os_compute_api:os-lock-server:unlock", policy.PROJECT_MEMBER_OR_ADMIN,
            "Unlock a server", "unlock"),
    _action("os_compute_api:os-lock-server:unlock:unlock_override", policy.ADMIN,
            "Unlock a server locked by someone else (an admin's lock, the owner's)",
            "unlock"),
    _action("os_compute_api:os-admin-actions:reset_state", policy.ADMIN,
            "Reset a server's state (active or error)", "os-resetState"),
    _action("os_compute_api:os-rescue", policy.PROJECT_MEMBER_OR_ADMIN,
            "Rescue a server", "rescue"),
    _action("os_compute_api:os-unrescue", policy.PROJECT_MEMBER_OR_ADMIN,
            "Unrescue a server", "unrescue"),
    _action("os_compute_api:os-shelve:shelve", policy.PROJECT_MEMBER_OR_ADMIN,
            "Shelve a server", "shelve"),
    _action("os_compute_api:os-shelve:shelve_offload", policy.ADMIN,
            "Offload a shelved server from its host", "shelveOffload"),
    _action("os_compute_api:os-shelve:unshelve", policy.PROJECT_MEMBER_OR_ADMIN,
            "Unshelve a server", "unshelve"),
    _action("os_compute_api:os-shelve:unshelve_to_host", policy.ADMIN,
            "Unshelve an offloaded server to a given host (2.91)", "unshelve"),
    _action("os_compute_api:servers:rebuild", policy.PROJECT_MEMBER_OR_ADMIN,
            "Rebuild a server", "rebuild"),
    _action("os_compute_api:servers:rebuild:trusted_certs", policy.PROJECT_MEMBER_OR_ADMIN,
            "Rebuild a server with trusted image certificates (2.63)", "rebuild"),
    _action("os_compute_api:os-admin-password", policy.PROJECT_MEMBER_OR_ADMIN,
            "Change a server's administrator password", "changePassword"),
    _action("os_compute_api:os-console-output", policy.PROJECT_MEMBER_OR_ADMIN,
            "Show a server's console log", "os-getConsoleOutput"),
    _action("os_compute_api:servers:trigger_crash_dump", policy.PROJECT_MEMBER_OR_ADMIN,
            "Trigger a crash dump in a server (2.17)", "trigger_crash_dump"),
    _action("os_compute_api:os-deferred-delete:restore", policy.PROJECT_MEMBER_OR_ADMIN,
            "Restore a soft-deleted server", "restore"),
    _action("os_compute_api:os-deferred-delete:force", policy.PROJECT_MEMBER_OR_ADMIN,
            "Delete a server at once, soft-deleted or not", "forceDelete"),
    _action("os_compute_api:os-evacuate", policy.ADMIN,
            "Rebuild the server of a down host on another host", "evacuate"),
    _action("os_compute_api:os-migrate-server:migrate_live", policy.PROJECT_MANAGER_OR_ADMIN,
            "Live-migrate a server to a host the scheduler picks", "os-migrateLive"),
    _action("os_compute_api:os-migrate-server:migrate_live:host", policy.ADMIN,
            "Live-migrate a server to a given host", "os-migrateLive"),
    _action("os_compute_api:os-security-groups:add", policy.PROJECT_MEMBER_OR_ADMIN,
            "Add a security group to a server", "addSecurityGroup"),
    _action("os_compute_api:os-security-groups:remove", policy.PROJECT_MEMBER_OR_ADMIN,
            "Remove a security group from a server", "removeSecurityGroup"),
    policy.rule("os_compute_api:os-security-groups:list", policy.PROJECT_READER_OR_ADMIN,
                "List the security groups of a server",
                [("GET", "/servers/{server_id}/os-security-groups")]),
    policy.rule("os_compute_api:os-security-groups:get", policy.PROJECT_READER_OR_ADMIN,
                "List security groups (the proxy, to 2.35)", [("GET", "/os-security-groups")]),
    policy.rule("os_compute_api:os-security-groups:show", policy.PROJECT_READER_OR_ADMIN,
                "Show a security group (the proxy, to 2.35)",
                [("GET", "/os-security-groups/{security_group_id}")]),
)

# Behaviours that start (or stop) at a version
LOCK_REASON = VersionRange("2.73")
UNSHELVE_ZONE = VersionRange("2.77")
UNSHELVE_HOST = VersionRange("2.91")
REBUILD_DESCRIPTION = VersionRange("2.19")
REBUILD_KEY_NAME = VersionRange("2.54")
REBUILD_USER_DATA = VersionRange("2.57")
REBUILD_TRUSTED_CERTS = VersionRange("2.63")
REBUILD_ALL_FIELDS = VersionRange("2.75")
REBUILD_HOSTNAME = VersionRange("2.90")
EVACUATE_PASSWORD_ANSWERED = VersionRange(None, "2.13")
EVACUATE_FORCE = VersionRange("2.29", "2.67")
EVACUATE_STOPPED = VersionRange("2.95")
LIVE_FORCE = VersionRange("2.30", "2.67")

_ANY = {}
_NULL = {"type": "null"}
_BOOLEAN = {"type": ["boolean", "string"],
            "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes",
                     "yes", False, "False", "FALSE", "false", "0", "OFF", "Off", "off",
                     "NO", "No", "no"]}
_HOST = {"type": ["string", "null"], "minLength": 1, "maxLength": 255,
         "pattern": r"^[a-zA-Z0-9-._]*$"}
_FQDN = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[a-zA-Z0-9-._]*$"}
_NAME = {"type": "string", "minLength": 1, "maxLength": 255,
         "pattern": r"^(?! )[\S ]*(?<! )$"}
_PASSWORD = {"type": "string"}
_METADATA = {"type": "object",
             "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string",
                                                                "maxLength": 255}},
             "additionalProperties": False}
_HOSTNAME = {"type": "string", "pattern": r"^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$",
             "minLength": 2, "maxLength": 63}


def _obj(properties, required=(), nullable=False):
    out = {"type": ["object", "null"] if nullable else "object", "properties": properties,
           "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


def _with(schema, **props):
    return dict(schema, properties={**schema["properties"], **props})


def _without(schema, *names, required=None):
    out = dict(schema, properties={k: v for k, v in schema["properties"].items()
                                   if k not in names})
    if required is not None:
        out["required"] = list(required)
        if not required:
            out.pop("required")
    return out


_LOCK = ByVersion(("2.1", "2.72", _ANY),
                  ("2.73", None, _obj({"locked_reason": {"type": "string", "minLength": 1,
                                                         "maxLength": 255}},
                                      nullable=True)))
_RESCUE = _obj({"adminPass": _PASSWORD, "rescue_image_ref": {"type": "string",
                                                             "format": "uuid"}},
               nullable=True)
_UNSHELVE = ByVersion(
    ("2.1", "2.76", _ANY),
    ("2.77", "2.90", _obj({"availability_zone": _NAME}, required=["availability_zone"],
                          nullable=True)),
    ("2.91", None, _obj({"availability_zone": {"type": ["string", "null"]},
                         "host": {"type": "string"}}, nullable=True)))
_RESET_STATE = _obj({"state": {"type": "string", "enum": ["active", "error"]}},
                    required=["state"])
_CHANGE_PASSWORD = _obj({"adminPass": _PASSWORD}, required=["adminPass"])
_CONSOLE_OUTPUT = _obj({"length": {"type": ["integer", "string", "null"],
                                   "pattern": "^-?[0-9]+$", "minimum": -1}})
_EVACUATE_21 = _obj({"host": _FQDN, "onSharedStorage": _BOOLEAN, "adminPass": _PASSWORD},
                    required=["onSharedStorage"])
_EVACUATE_214 = _without(_EVACUATE_21, "onSharedStorage", required=[])
_EVACUATE = ByVersion(("2.1", "2.13", _EVACUATE_21), ("2.14", "2.28", _EVACUATE_214),
                      ("2.29", "2.67", _with(_EVACUATE_214, force=_BOOLEAN)),
                      ("2.68", None, _EVACUATE_214))
_LIVE_21 = _obj({"block_migration": _BOOLEAN, "disk_over_commit": _BOOLEAN, "host": _HOST},
                required=["block_migration", "disk_over_commit", "host"])
_LIVE_225 = _obj({"block_migration": dict(_BOOLEAN, enum=[*_BOOLEAN["enum"], "auto"]),
                  "host": _HOST}, required=["block_migration", "host"])
_LIVE = ByVersion(("2.1", "2.24", _LIVE_21), ("2.25", "2.29", _LIVE_225),
                  ("2.30", "2.67", _with(_LIVE_225, force=_BOOLEAN)),
                  ("2.68", None, _LIVE_225))
_SECURITY_GROUP = _obj({"name": {"type": "string", "minLength": 1}}, required=["name"])
_REBUILD_21 = _obj({
    "name": _NAME, "imageRef": {"type": "string", "format": "uuid"}, "adminPass": _PASSWORD,
    "metadata": _METADATA, "preserve_ephemeral": _BOOLEAN,
    "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
    "accessIPv4": {"type": "string", "format": "ipv4"},
    "accessIPv6": {"type": "string", "format": "ipv6"},
    "personality": {"type": "array"}}, required=["imageRef"])
_REBUILD_219 = _with(_REBUILD_21, description={"type": ["string", "null"], "maxLength": 255})
_REBUILD_254 = _with(_REBUILD_219, key_name={"type": ["string", "null"], "minLength": 1,
                                             "maxLength": 255})
_REBUILD_257 = _with(_without(_REBUILD_254, "personality"),
                     user_data={"type": ["string", "null"], "maxLength": 65535})
_REBUILD_263 = _with(_REBUILD_257, trusted_image_certificates={
    "type": ["array", "null"], "minItems": 1, "maxItems": 50, "uniqueItems": True,
    "items": {"type": "string", "minLength": 1}})
_REBUILD_290 = _with(_REBUILD_263, hostname=_HOSTNAME)
_REBUILD_294 = _with(_REBUILD_263, hostname=_FQDN)
_REBUILD = ByVersion(("2.1", "2.18", _REBUILD_21), ("2.19", "2.53", _REBUILD_219),
                     ("2.54", "2.56", _REBUILD_254), ("2.57", "2.62", _REBUILD_257),
                     ("2.63", "2.89", _REBUILD_263), ("2.90", "2.93", _REBUILD_290),
                     ("2.94", None, _REBUILD_294))


def _fixed(schema, since="2.1"):
    return ByVersion((since, None, schema))


# body key -> (value schema by version: None where the action does not
# exist, its policy rule)
SCHEMAS = {
    "lock": (_LOCK, "os_compute_api:os-lock-server:lock"),
    "unlock": (_fixed(_ANY), "os_compute_api:os-lock-server:unlock"),
    "rescue": (_fixed(_RESCUE), "os_compute_api:os-rescue"),
    "unrescue": (_fixed(_ANY), "os_compute_api:os-unrescue"),
    "shelve": (_fixed(_ANY), "os_compute_api:os-shelve:shelve"),
    "shelveOffload": (_fixed(_ANY), "os_compute_api:os-shelve:shelve_offload"),
    "unshelve": (_UNSHELVE, "os_compute_api:os-shelve:unshelve"),
    "rebuild": (_REBUILD, "os_compute_api:servers:rebuild"),
    "os-resetState": (_fixed(_RESET_STATE), "os_compute_api:os-admin-actions:reset_state"),
    "changePassword": (_fixed(_CHANGE_PASSWORD), "os_compute_api:os-admin-password"),
    "os-getConsoleOutput": (_fixed(_CONSOLE_OUTPUT), "os_compute_api:os-console-output"),
    "trigger_crash_dump": (_fixed(_NULL, "2.17"), "os_compute_api:servers:trigger_crash_dump"),
    "restore": (_fixed(_ANY), "os_compute_api:os-deferred-delete:restore"),
    "forceDelete": (_fixed(_ANY), "os_compute_api:os-deferred-delete:force"),
    "evacuate": (_EVACUATE, "os_compute_api:os-evacuate"),
    "os-migrateLive": (_LIVE, "os_compute_api:os-migrate-server:migrate_live"),
    "addSecurityGroup": (_fixed(_SECURITY_GROUP), "os_compute_api:os-security-groups:add"),
    "removeSecurityGroup": (_fixed(_SECURITY_GROUP),
                            "os_compute_api:os-security-groups:remove"),
}


def action_schema(key, version):
    """The whole body's schema of action *key* at *version*, or None when
    the action does not exist at that version."""
    value = SCHEMAS[key][0].at(version)
    if value is None:
        return None
    return {"type": "object", "properties": {key: value}, "required": [key],
            "additionalProperties": key in ("addSecurityGroup", "removeSecurityGroup")}


def _bool(value) -> bool:
    return str(value).lower() in ("true", "1", "on", "yes")


def run(call, server_id, body, key):
    """Validate and run the action *key* of *body* on the server."""
    schema = action_schema(key, call.version)
    if schema is None:
        raise APIError(404, f"There is no such action: {key}")
    schemas.validate(body, schema)
    target = servers.server_target(servers.authorized_server(call, server_id,
                                                             SCHEMAS[key][1]))
    life = ServerLifecycle(call.server_service)
    try:
        return _HANDLERS[key](call, life, server_id, body[key], target)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    except exception.QuotaExceeded as exc:
        raise APIError(403, exc.message) from None
    except exception.Forbidden as exc:
        raise APIError(403, exc.message) from None
    except (exception.Invalid, exception.ImageNotFound) as exc:
        raise APIError(400, exc.message) from None
    except exception.Conflict as exc:
        raise APIError(409, exc.message) from None


def _plain(method):
    """The handler of an action with no body to read: *method* of the
    lifecycle on the server, 202."""
    def handler(call, life, server_id, value, target):
        getattr(life, method)(call.ctx, server_id)
        return 202, None
    return handler


def _lock(call, life, server_id, value, target):
    reason = (value or {}).get("locked_reason") if call.version in LOCK_REASON else None
    life.lock(call.ctx, server_id, reason)
    return 202, None


def _unlock(call, life, server_id, value, target):
    life.unlock(call.ctx, server_id, may_override=lambda: call.allowed(
        "os_compute_api:os-lock-server:unlock:unlock_override", target))
    return 202, None


def _image(call, image_ref, message=None):
    image_id = str(image_ref).rsplit("/", 1)[-1]
    try:
        uuidlib.UUID(image_id)
        image = call.services.images.get(image_id)
    except (ValueError, exception.ImageNotFound):
        raise APIError(400, message or f"Image {image_id} could not be found.") from None
    if image.get("status") != "active":
        raise APIError(400, f"Image {image_id} is not active.")
    return image


def _rescue(call, life, server_id, value, target):
    value = value or {}
    image = None
    if value.get("rescue_image_ref"):
        image = _image(call, value["rescue_image_ref"])
    password = life.rescue(call.ctx, server_id, value.get("adminPass"), image)
    return 200, {"adminPass": password}


def _unshelve(call, life, server_id, value, target):
    kwargs = {}
    if value and call.version in UNSHELVE_ZONE and "availability_zone" in value:
        kwargs["availability_zone"] = value["availability_zone"]
    if value and call.version in UNSHELVE_HOST and value.get("host"):
        call.authorize("os_compute_api:os-shelve:unshelve_to_host", target)
        kwargs["host"] = value["host"]
    try:
        life.unshelve(call.ctx, server_id, **kwargs)
    except exception.ComputeHostNotFound as exc:
        raise APIError(400, exc.message) from None
    return 202, None


def _reset_state(call, life, server_id, value, target):
    life.reset_state(call.ctx, server_id, value["state"])
    return 202, None


def _change_password(call, life, server_id, value, target):
    try:
        life.change_password(call.ctx, server_id, value["adminPass"])
    except exception.NotImplementedByDriver as exc:
        raise APIError(501, exc.message) from None
    return 202, None


def _console_output(call, life, server_id, value, target):
    length = value.get("length")
    if length is not None:
        length = int(length)
        if length < -1:
            raise APIError(400, f"Invalid input for field/attribute length. Value: {length}. "
                                f"{length} is less than the minimum of -1")
        if length == -1:
            length = None
    try:
        output = life.console_output(call.ctx, server_id, length)
    except exception.NotImplementedByDriver as exc:
        raise APIError(501, exc.message) from None
    except exception.NotFound as exc:
        if isinstance(exc, exception.InstanceNotFound):
            raise
        raise APIError(404, exc.message) from None
    # Nova strips what a JSON document cannot carry (control characters).
    output = "".join(ch for ch in output if ch in "\n\r\t" or ch >= " ")
    return 200, {"output": output}


def _evacuate(call, life, server_id, value, target):
    version = call.version
    host = value.get("host")
    force = False
    if version in EVACUATE_FORCE:
        force = _bool(value.get("force", False))
        if force and not host:
            raise APIError(400, "Can't force to a non-provided destination")
    password = value.get("adminPass")
    if version in EVACUATE_PASSWORD_ANSWERED:
        if _bool(value["onSharedStorage"]) and password:
            raise APIError(400, "admin password can't be changed on existing disk")
        password = password or (None if _bool(value["onSharedStorage"]) else
                                uuidlib.uuid4().hex[:12])
    final = "stopped" if version in EVACUATE_STOPPED else None
    try:
        life.evacuate(call.ctx, server_id, host, force, password, final)
    except exception.ComputeHostNotFound:
        raise APIError(404, f"Compute host {host} not found.") from None
    if version in EVACUATE_PASSWORD_ANSWERED:
        return 200, {"adminPass": password} if password else None
    return 200, None


def _migrate_live(call, life, server_id, value, target):
    host = value.get("host")
    force = False
    if call.version in LIVE_FORCE:
        force = _bool(value.get("force", False))
        if force and not host:
            raise APIError(400, "Can't force to a non-provided destination")
    if host:
        call.authorize("os_compute_api:os-migrate-server:migrate_live:host", target)
    try:
        life.live_migrate(call.ctx, server_id, host, force)
    except exception.ComputeHostNotFound as exc:
        raise APIError(400, exc.message) from None
    return 202, None


def _security_group_name(value):
    name = value["name"]
    if not name.strip():
        raise APIError(400, "Security group name cannot be empty")
    return name


def _add_security_group(call, life, server_id, value, target):
    try:
        life.add_security_group(call.ctx, server_id, _security_group_name(value))
    except exception.SecurityGroupNotFound as exc:
        raise APIError(404, exc.message) from None
    return 202, None


def _remove_security_group(call, life, server_id, value, target):
    try:
        life.remove_security_group(call.ctx, server_id, _security_group_name(value))
    except exception.SecurityGroupNotFound as exc:
        raise APIError(404, exc.message) from None
    return 202, None


# What a rebuild's answer leaves out before 2.75 (Nova shows them from it).
_REBUILD_HIDDEN_UNTIL_275 = ("OS-EXT-AZ:availability_zone", "config_drive",
                             "OS-SRV-USG:launched_at", "OS-SRV-USG:terminated_at",
                             "security_groups", "OS-EXT-STS:task_state",
                             "OS-EXT-STS:vm_state", "OS-EXT-STS:power_state",
                             "os-extended-volumes:volumes_attached", "host_status")


def _rebuild(call, life, server_id, value, target):
    version = call.version
    image = _image(call, value["imageRef"], "Cannot find image for rebuild")
    changes = {}
    if "name" in value:
        changes["display_name"] = value["name"]
    if "metadata" in value:
        changes["metadata"] = value["metadata"]
    if "accessIPv4" in value:
        changes["access_ip_v4"] = value["accessIPv4"]
    if "accessIPv6" in value:
        changes["access_ip_v6"] = value["accessIPv6"]
    if version in REBUILD_DESCRIPTION and "description" in value:
        changes["display_description"] = value["description"]
    if version in REBUILD_KEY_NAME and "key_name" in value:
        changes["key_name"] = value["key_name"]
    if version in REBUILD_USER_DATA and "user_data" in value:
        if value["user_data"] is not None:
            try:
                decode_user_data(value["user_data"])
            except exception.Invalid as exc:
                raise APIError(400, exc.message) from None
        changes["user_data"] = value["user_data"]
    if version in REBUILD_TRUSTED_CERTS and value.get("trusted_image_certificates"):
        call.authorize("os_compute_api:servers:rebuild:trusted_certs", target)
        raise APIError(400, "Image certificate validation is not supported.")
    if version in REBUILD_HOSTNAME and "hostname" in value:
        changes["hostname"] = value["hostname"]
    password = value.get("adminPass") or uuidlib.uuid4().hex[:12]
    life.rebuild(call.ctx, server_id, image, password, **changes)
    inst = call.server_service.get(call.ctx, server_id)
    server = servers.server_detail(call.req, version, servers._viewer(call, target), inst)
    if version not in REBUILD_ALL_FIELDS:
        for key in _REBUILD_HIDDEN_UNTIL_275:
            server.pop(key, None)
        for key in [k for k in server if k.startswith("OS-EXT-SRV-ATTR:")]:
            server.pop(key)
        server["addresses"] = {net: [{"addr": a["addr"], "version": a["version"]}
                                     for a in addrs]
                               for net, addrs in (server.get("addresses") or {}).items()}
        if version not in REBUILD_KEY_NAME:
            server.pop("key_name", None)
    if version in servers.SERVER_GROUPS:
        group = groups_db.groups_of(call.services.api_db, [server_id]).get(server_id)
        server["server_groups"] = [group] if group else []
    server["adminPass"] = password
    if version in REBUILD_USER_DATA:
        server["user_data"] = inst.get("user_data")
    return 202, {"server": server}


_HANDLERS = {
    "lock": _lock, "unlock": _unlock, "rescue": _rescue, "unrescue": _plain("unrescue"),
    "shelve": _plain("shelve"), "shelveOffload": _plain("shelve_offload"),
    "unshelve": _unshelve,
    "rebuild": _rebuild, "os-resetState": _reset_state, "changePassword": _change_password,
    "os-getConsoleOutput": _console_output, "trigger_crash_dump": _plain("trigger_crash_dump"),
    "restore": _plain("restore"), "forceDelete": _plain("force_delete"), "evacuate": _evacuate,
    "os-migrateLive": _migrate_live, "addSecurityGroup": _add_security_group,
    "removeSecurityGroup": _remove_security_group,
}


@operation("listServerSecurityGroups", "List the security groups of a server",
           ok={200: keyed("security_groups")}, errors=(404,))
def server_security_groups(call, server_id):
    """GET /servers/{server_id}/os-security-groups."""
    servers.authorized_server(call, server_id, "os_compute_api:os-security-groups:list")
    life = ServerLifecycle(call.server_service)
    try:
        groups = life.security_groups(call.ctx, server_id)
    except (exception.InstanceNotFound, exception.SecurityGroupNotFound) as exc:
        raise APIError(404, exc.message) from None
    groups.sort(key=lambda g: (g["tenant_id"], g["name"]))
    return 200, {"security_groups": groups}


# The security group proxy (what OpenStackClient's server add/remove
# security group looks the group up with when there is no network service)
SECGROUP_PROXY_GONE = ("The security group proxy API is removed after microversion 2.35; "
                       "use the network service.")


@versioned(high="2.35", outside=SECGROUP_PROXY_GONE)
@operation("listSecurityGroups", "List the project's security groups (proxy)",
           ok={200: keyed("security_groups")},
           query={"limit": {"type": "integer", "minimum": 0},
                  "offset": {"type": "integer", "minimum": 0},
                  "all_tenants": {"type": "string"}})
def list_security_groups(call):
    """GET /os-security-groups: the caller's project's groups."""
    call.authorize("os_compute_api:os-security-groups:get",
                   {"project_id": call.ctx.project_id})
    limit, offset = query.integer(call, "limit"), query.integer(call, "offset") or 0
    network, project = call.services.network, call.ctx.project_id
    groups = sorted((network.get_security_group(project, name)
                     for name in network.security_group_names(project)),
                    key=lambda g: g["name"])
    groups = groups[offset:] if limit is None else groups[offset:offset + limit]
    return 200, {"security_groups": groups}


@versioned(high="2.35", outside=SECGROUP_PROXY_GONE)
@operation("showSecurityGroup", "Show a security group (proxy)",
           ok={200: keyed("security_group")}, errors=(404,))
def show_security_group(call, security_group_id):
    """GET /os-security-groups/{security_group_id}, by id (or name)."""
    call.authorize("os_compute_api:os-security-groups:show",
                   {"project_id": call.ctx.project_id})
    try:
        group = call.services.network.get_security_group(call.ctx.project_id,
                                                         security_group_id)
    except exception.SecurityGroupNotFound as exc:
        raise APIError(404, exc.message) from None
    return 200, {"security_group": group}


ROUTES = {
    "/servers/{server_id}/os-security-groups": {"GET": server_security_groups},
    "/os-security-groups": {"GET": list_security_groups},
    "/os-security-groups/{security_group_id}": {"GET": show_security_group},
}
