"""Remote consoles of a server: a URL with a token that a console proxy
accepts (the work is :mod:`compute_core.console.access`'s).

``POST /servers/{server_id}/remote-consoles`` (2.6+)
    ``{"remote_console": {"protocol", "type"}}`` (``mks``/``webmks`` from
    2.8, ``spice-direct`` from 2.99) answers ``{"remote_console":
    {"protocol", "type", "url"}}``.
legacy server actions (2.1–2.5), handed here by :mod:`.server_actions`
    ``os-getVNCConsole``, ``os-getSPICEConsole``, ``os-getSerialConsole``
    with ``{"type": ...}`` answer ``{"console": {"type", "url"}}``.

400: a type the protocol does not have, or one this deployment does not
serve (``[vnc]``/``[spice]``/``[serial_console] enabled``; xvpvnc, RDP and
MKS never); 404: no such server (for the caller); 409: no running guest
(Nova's InstanceNotReady); 501: its host's driver cannot give that console
type (Nova answers a driver's NotImplementedError so).
"""
from __future__ import annotations

import functools

from compute_core import exception
from compute_core.api import policy, schemas
from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionRange, versioned
from compute_core.api.resources.server_metadata import server
from compute_core.apispec import operation
from compute_core.console import access

RULE = "os_compute_api:os-remote-consoles"
RULES = (
    policy.rule(RULE, policy.PROJECT_MEMBER_OR_ADMIN, "Get a console of a server",
                [("POST", "/servers/{server_id}/remote-consoles"),
                 ("POST", "/servers/{server_id}/action (os-getVNCConsole)"),
                 ("POST", "/servers/{server_id}/action (os-getSPICEConsole)"),
                 ("POST", "/servers/{server_id}/action (os-getSerialConsole)")]),
)

REMOTE_CONSOLES = VersionRange("2.6")
MKS = VersionRange("2.8")
SPICE_DIRECT = VersionRange("2.99")
LEGACY = VersionRange("2.1", "2.5")


@functools.lru_cache(maxsize=256)
def remote_console_body(version):
    protocols = ["vnc", "spice", "serial", "rdp"]
    types = ["novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial"]
    if version in MKS:
        protocols.append("mks")
        types.append("webmks")
    if version in SPICE_DIRECT:
        types.append("spice-direct")
    return {"type": "object",
            "properties": {"remote_console": {
                "type": "object",
                "properties": {"protocol": {"type": "string", "enum": protocols},
                               "type": {"type": "string", "enum": types}},
                "required": ["protocol", "type"], "additionalProperties": False}},
            "required": ["remote_console"], "additionalProperties": False}


# legacy action -> (its protocol, the console types its body may name)
LEGACY_ACTIONS = {
    "os-getVNCConsole": ("vnc", ("novnc", "xvpvnc")),
    "os-getSPICEConsole": ("spice", ("spice-html5",)),
    "os-getSerialConsole": ("serial", ("serial",)),
}


@functools.lru_cache(maxsize=8)
def legacy_action_schema(key):
    return {"type": "object",
            "properties": {key: {
                "type": "object",
                "properties": {"type": {"type": "string",
                                        "enum": list(LEGACY_ACTIONS[key][1])}},
                "required": ["type"], "additionalProperties": False}},
            "required": [key], "additionalProperties": False}


def _console(call, server_id, protocol, console_type) -> dict:
    inst = server(call, server_id, RULE)
    try:
        access.check_type(call.services.conf, protocol, console_type)
        return access.get_console(call.services, call.server_service, call.ctx, inst["uuid"],
                                  protocol, console_type)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    except exception.Invalid as exc:
        raise APIError(400, exc.message) from None
    except access.ConsoleNotSupported as exc:
        raise APIError(501, exc.message) from None
    except exception.Conflict as exc:
        raise APIError(409, exc.message) from None


_CONSOLE = {"type": "object",
            "properties": {"protocol": {"type": "string"}, "type": {"type": "string"},
                           "url": {"type": "string", "format": "uri"}},
            "required": ["type", "url"]}


@versioned("2.6")
@operation("createRemoteConsole", "Create a remote console of a server: a URL with a token "
           "a console proxy accepts", ok={200: {"type": "object",
                                                "properties": {"remote_console": _CONSOLE},
                                                "required": ["remote_console"]}},
           errors=(400, 403, 404, 409, 501), body=remote_console_body)
def create(call, server_id):
    body = call.json()
    schemas.validate(body, remote_console_body(call.version))
    wanted = body["remote_console"]
    return 200, {"remote_console": _console(call, server_id, wanted["protocol"],
                                            wanted["type"])}


def legacy_action(call, server_id, body, key):
    """A legacy console action of ``POST /servers/{server_id}/action``."""
    if call.version not in LEGACY:
        raise APIError(404, f"The action {key} is served up to microversion 2.5; use POST "
                            f"/servers/{{server_id}}/remote-consoles.")
    schemas.validate(body, legacy_action_schema(key))
    console = _console(call, server_id, LEGACY_ACTIONS[key][0], body[key]["type"])
    return 200, {"console": {"type": console["type"], "url": console["url"]}}


ROUTES = {
    "/servers/{server_id}/remote-consoles": {"POST": create},
}
