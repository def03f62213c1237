"""POST /servers/{server_id}/action: the power actions of a server.

The body names one action: ``os-stop``, ``os-start``, ``reboot``
(``{"type": "SOFT"|"HARD"}``), ``pause``, ``unpause``, ``suspend``,
``resume``. Accepted actions answer 202 with no body and finish
asynchronously on the server's host.
"""
from __future__ import annotations

from compute_core import exception
from compute_core.api import schemas
from compute_core.api.faults import APIError

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


def _schema(key):
    return {"type": "object",
            "properties": {key: _REBOOT if key == "reboot" else _ANY},
            "required": [key], "additionalProperties": False}


def action(call, server_id):
    body = call.json()
    key = next((k for k in body if k in _ACTIONS), None)
    if key is None:
        if not body:
            raise APIError(400, "Malformed request body: it names no action.")
        raise APIError(400, f"There is no such action: {next(iter(body))}")
    schemas.validate(body, _schema(key))
    name = _ACTIONS[key]
    reboot_type = body["reboot"]["type"].upper() if key == "reboot" else "SOFT"
    try:
        call.compute.power_action(call.ctx, server_id, name, reboot_type=reboot_type)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    except exception.Conflict as exc:
        raise APIError(409, exc.message) from None
    return 202, None
