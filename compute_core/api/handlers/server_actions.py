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
from compute_core.apispec import operation
from compute_core.api import schemas
from compute_core.api.faults import APIError
from compute_core.api.handlers import lifecycle_actions

# body key -> the compute API action it starts
_ANY = {}  # the other actions take any value (null in practice), as in Nova
_ACTIONS = {
    "os-stop": "stop",
    "os-start": "start",
    "reboot": "reboot",
    "pause": "pause",
    "unpause": "unpause",
    "suspend": "suspend",
    "resume": "resume",
}
_REBOOT = {
    "type": "object",
    "properties": {"type": {"type": "string",
                            "enum": ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]}},
    "required": ["type"],
    "additionalProperties": False,
}


# The moves: body key -> (schema of its value, HTTP status when accepted)
_FLAVOR_REF = {"type": ["string", "integer"], "minLength": 1, "pattern": r"^(?!\s*$).+"}
_MOVES = {
    "resize": ({"type": "object",
                "properties": {"flavorRef": _FLAVOR_REF,
                               "OS-DCF:diskConfig": {"type": "string",
                                                     "enum": ["AUTO", "MANUAL"]}},
                "required": ["flavorRef"], "additionalProperties": False}, 202),
    "migrate": ({"type": ["object", "null"],
                 "properties": {"host": {"type": ["string", "null"], "minLength": 1,
                                         "maxLength": 255,
                                         "pattern": r"^[a-zA-Z0-9-._]*$"}},
                 "additionalProperties": False}, 202),
    "confirmResize": ({"type": "null"}, 204),
    "revertResize": ({"type": "null"}, 202),
}


MIGRATE_HOST_SINCE = "2.56"  # before it, any value of "migrate" is ignored, as in Nova


@functools.lru_cache(maxsize=1024)
def action_schema(key, version):
    """The schema of a body naming the action *key* at *version* (what the
    handler validates with and what the OpenAPI document shows)."""
    if key in _MOVES:
        value = _MOVES[key][0]
        if key == "migrate" and not version.at_least(MIGRATE_HOST_SINCE):
            value = {}
    else:
        value = _REBOOT if key == "reboot" else _ANY
    return {"type": "object", "properties": {key: value}, "required": [key],
            "additionalProperties": False}


@functools.lru_cache(maxsize=256)
def actions_body(version):
    """Every action's body at *version*: one of them."""
    more = [lifecycle_actions.action_schema(key, version) for key in lifecycle_actions.SCHEMAS]
    return {"oneOf": [action_schema(key, version) for key in (*_ACTIONS, *_MOVES)] +
            [schema for schema in more if schema is not None]}


def _move(call, server_id, body, key):
    status = _MOVES[key][1]
    schemas.validate(body, action_schema(key, call.version))
    host = None
    if key == "migrate" and call.version.at_least(MIGRATE_HOST_SINCE):
        host = (body["migrate"] or {}).get("host")
    if key == "migrate" and not call.ctx.is_admin:
        rule = "migrate:host" if host else "migrate"
        raise APIError(403, f"Policy doesn't allow os_compute_api:os-migrate-server:{rule} "
                            "to be performed.")
    try:
        if key in ("resize", "migrate"):
            flavor = str(body["resize"]["flavorRef"]) if key == "resize" else None
            call.compute.move(call.ctx, server_id, flavor, host=host)
        else:
            call.compute.finish_move(call.ctx, server_id, confirm=key == "confirmResize")
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
           "migration, console log...)", ok={200: None, 202: None, 204: None},
           errors=(400, 403, 404, 409, 501),
           body=actions_body)
def action(call, server_id):
    body = call.json()
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
    name = _ACTIONS[key]
    reboot_type = body["reboot"]["type"].upper() if key == "reboot" else "SOFT"
    try:
        call.compute.power_action(call.ctx, server_id, name, reboot_type=reboot_type)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    except exception.Conflict as exc:
        raise APIError(409, exc.message) from None
    return 202, None
