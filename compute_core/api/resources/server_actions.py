"""POST /servers/{server_id}/action: the power actions and moves of a server.

The body names one action: ``os-stop``, ``os-start``, ``reboot``
(``{"type": "SOFT"|"HARD"}``), ``pause``, ``unpause``, ``suspend``,
``resume``; the moves ``resize`` (``{"flavorRef": ...}``), ``migrate``
(admin; ``{"host": ...}`` from 2.56, any value ignored before, as in Nova),
``confirmResize`` and ``revertResize``. Accepted actions answer
202 with no body (confirmResize 204) and finish asynchronously.
"""
from __future__ import annotations

import functools

from compute_core import exception
from compute_core.api import policy, schemas
from compute_core.api.resources import servers
from compute_core.api.faults import APIError
from compute_core.api.microversion import ByVersion, VersionRange
from compute_core.api.resources import lifecycle_actions
from compute_core.api.resources import remote_consoles
from compute_core.api.resources import server_images
from compute_core.apispec import operation



def _action(name, check_str, description, key):
    return policy.rule(name, check_str, description,
                       [("POST", f"/servers/{{server_id}}/action ({key})")])


RULES = (
    _action("os_compute_api:servers:stop", policy.PROJECT_MEMBER_OR_ADMIN, "Stop a server",
            "os-stop"),
    _action("os_compute_api:servers:start", policy.PROJECT_MEMBER_OR_ADMIN, "Start a server",
            "os-start"),
    _action("os_compute_api:servers:reboot", policy.PROJECT_MEMBER_OR_ADMIN, "Reboot a server",
            "reboot"),
    _action("os_compute_api:os-pause-server:pause", policy.PROJECT_MEMBER_OR_ADMIN,
            "Pause a server", "pause"),
    _action("os_compute_api:os-pause-server:unpause", policy.PROJECT_MEMBER_OR_ADMIN,
            "Unpause a server", "unpause"),
    _action("os_compute_api:os-suspend-server:suspend", policy.PROJECT_MEMBER_OR_ADMIN,
            "Suspend a server", "suspend"),
    _action("os_compute_api:os-suspend-server:resume", policy.PROJECT_MEMBER_OR_ADMIN,
            "Resume a suspended server", "resume"),
    _action("os_compute_api:servers:resize", policy.PROJECT_MEMBER_OR_ADMIN,
            "Resize a server", "resize"),
    _action("os_compute_api:servers:confirm_resize", policy.PROJECT_MEMBER_OR_ADMIN,
            "Confirm a server's resize or migration", "confirmResize"),
    _action("os_compute_api:servers:revert_resize", policy.PROJECT_MEMBER_OR_ADMIN,
            "Revert a server's resize or migration", "revertResize"),
    _action("os_compute_api:os-migrate-server:migrate", policy.PROJECT_MANAGER_OR_ADMIN,
            "Cold-migrate a server to a host the scheduler picks", "migrate"),
    _action("os_compute_api:os-migrate-server:migrate:host", policy.ADMIN,
            "Cold-migrate a server to a given host (2.56)", "migrate"),
) + server_images.RULES  # createImage, createBackup

# body key -> (the server service's power action it starts, its policy rule)
_ANY = {}  # the other actions take any value (null in practice), as in Nova
_ACTIONS = {
    "os-stop": ("stop", "os_compute_api:servers:stop"),
    "os-start": ("start", "os_compute_api:servers:start"),
    "reboot": ("reboot", "os_compute_api:servers:reboot"),
    "pause": ("pause", "os_compute_api:os-pause-server:pause"),
    "unpause": ("unpause", "os_compute_api:os-pause-server:unpause"),
    "suspend": ("suspend", "os_compute_api:os-suspend-server:suspend"),
    "resume": ("resume", "os_compute_api:os-suspend-server:resume"),
}
_REBOOT = {
    "type": "object",
    "properties": {"type": {"type": "string",
                            "enum": ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]}},
    "required": ["type"],
    "additionalProperties": False,
}


# Before 2.56 any value of "migrate" is ignored, as in Nova; from it, a host.
MIGRATE_TO_HOST = VersionRange("2.56")
_MIGRATE = ByVersion(("2.1", "2.55", _ANY), ("2.56", None, {
    "type": ["object", "null"],
    "properties": {"host": {"type": ["string", "null"], "minLength": 1, "maxLength": 255,
                            "pattern": r"^[a-zA-Z0-9-._]*$"}},
    "additionalProperties": False}))

# The moves: body key -> (schema of its value by version, HTTP status when accepted)
_FLAVOR_REF = {"type": ["string", "integer"], "minLength": 1, "pattern": r"^(?!\s*$).+"}
_MOVES = {
    "resize": (ByVersion(("2.1", None, {
        "type": "object",
        "properties": {"flavorRef": _FLAVOR_REF,
                       "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]}},
        "required": ["flavorRef"], "additionalProperties": False})), 202),
    "migrate": (_MIGRATE, 202),
    "confirmResize": (ByVersion(("2.1", None, {"type": "null"})), 204),
    "revertResize": (ByVersion(("2.1", None, {"type": "null"})), 202),
}


@functools.lru_cache(maxsize=1024)
def action_schema(key, version):
    """The schema of a body naming the action *key* at *version* (what the
    handler validates with and what the OpenAPI document shows)."""
    if key in server_images.SCHEMAS:
        return server_images.SCHEMAS[key]
    if key in _MOVES:
        value = _MOVES[key][0].at(version)
    else:
        value = _REBOOT if key == "reboot" else _ANY
    return {"type": "object", "properties": {key: value}, "required": [key],
            "additionalProperties": False}


@functools.lru_cache(maxsize=256)
def actions_body(version):
    """Every action's body at *version*: one of them (the console actions
    of remote_consoles up to 2.5)."""
    more = [lifecycle_actions.action_schema(key, version) for key in lifecycle_actions.SCHEMAS]
    legacy = [remote_consoles.legacy_action_schema(key) for key in remote_consoles.LEGACY_ACTIONS
              if version in remote_consoles.LEGACY]
    return {"oneOf": [action_schema(key, version)
                      for key in (*_ACTIONS, *_MOVES, *server_images.ACTIONS)] +
            [schema for schema in more if schema is not None] + legacy}


_MOVE_RULES = {"resize": "os_compute_api:servers:resize",
               "migrate": "os_compute_api:os-migrate-server:migrate",
               "confirmResize": "os_compute_api:servers:confirm_resize",
               "revertResize": "os_compute_api:servers:revert_resize"}


def _move(call, server_id, body, key):
    status = _MOVES[key][1]
    schemas.validate(body, action_schema(key, call.version))
    host = None
    if key == "migrate" and call.version in MIGRATE_TO_HOST:
        host = (body["migrate"] or {}).get("host")
    target = servers.server_target(servers.get_server(call, server_id))
    call.authorize(_MOVE_RULES[key], target)
    if host:
        call.authorize(_MOVE_RULES[key] + ":host", target)
    try:
        if key in ("resize", "migrate"):
            flavor = str(body["resize"]["flavorRef"]) if key == "resize" else None
            call.server_service.move(call.ctx, server_id, flavor, host=host)
        else:
            call.server_service.finish_move(call.ctx, server_id, confirm=key == "confirmResize")
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    except exception.QuotaExceeded as exc:
        raise APIError(403, exc.message) from None
    except (exception.Invalid, exception.ComputeHostNotFound) as exc:
        raise APIError(400, exc.message) from None
    except exception.Conflict as exc:
        raise APIError(409, exc.message) from None
    return status, None


@operation("serverAction", "Run an action on a server (power, reboot, resize, migrate, "
           "confirm or revert a resize, lock, rescue, shelve, rebuild, evacuate, live "
           "migration, console log, snapshot or back up...; up to 2.5 get a console)",
           ok={200: {"type": "object"}, 202: None, 204: None},
           errors=(400, 403, 404, 409, 501),
           body=actions_body)
def action(call, server_id):
    body = call.json()
    image_key = next((k for k in body if k in server_images.ACTIONS), None)
    if image_key is not None:  # createImage, createBackup
        return server_images.image_action(call, server_id, body, image_key)
    console = next((k for k in body if k in remote_consoles.LEGACY_ACTIONS), None)
    if console is not None:
        return remote_consoles.legacy_action(call, server_id, body, console)
    move = next((k for k in body if k in _MOVES), None)
    if move is not None:
        return _move(call, server_id, body, move)
    other = next((k for k in body if k in lifecycle_actions.SCHEMAS), None)
    if other is not None:
        return lifecycle_actions.run(call, server_id, body, other)
    key = next((k for k in body if k in _ACTIONS), None)
    if key is None:
        if not body:
            raise APIError(400, "Malformed request body: it names no action.")
        raise APIError(400, f"There is no such action: {next(iter(body))}")
    schemas.validate(body, action_schema(key, call.version))
    name, rule = _ACTIONS[key]
    call.authorize(rule, servers.server_target(servers.get_server(call, server_id)))
    reboot_type = body["reboot"]["type"].upper() if key == "reboot" else "SOFT"
    try:
        call.server_service.power_action(call.ctx, server_id, name, reboot_type=reboot_type)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    except exception.Conflict as exc:
        raise APIError(409, exc.message) from None
    return 202, None


ROUTES = {
    "/servers/{server_id}/action": {"POST": action},
}
