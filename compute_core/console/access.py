"""Handing out a console: what the Compute API's remote-console requests do.

:func:`get_console` checks the request against the configuration and the
instance, asks the instance's compute host (RPC ``get_console_connection``)
where the guest's console listens, records a token for that address in the
instance's cell database and returns the URL of the proxy with the token.
:func:`find_token` is the admin's look-up of a token
(``GET /os-console-auth-tokens/{token}``).
"""
from __future__ import annotations

import oslo_messaging as messaging

from compute_core import exception
from compute_core.compute import states
from compute_core.console import tokens

# Remote console protocol -> the console types the Compute API accepts for it.
PROTOCOL_TYPES = {
    "vnc": ("novnc", "xvpvnc"),
    "spice": ("spice-html5",),
    "rdp": ("rdp-html5",),
    "serial": ("serial",),
    "mks": ("webmks",),
}
# Console type -> (option group, base URL option, driver capability).
SERVED_TYPES = {
    "novnc": ("vnc", "novncproxy_base_url", "supports_console_vnc"),
    "spice-html5": ("spice", "html5proxy_base_url", "supports_console_spice"),
    "serial": ("serial_console", "base_url", "supports_console_serial"),
}
READY_VM_STATES = (states.ACTIVE, states.PAUSED, states.RESCUED, states.RESIZED)
RPC_TIMEOUT = 30


ConsoleTypeUnavailable = exception.ConsoleTypeUnavailable


class InstanceNotReady(exception.Conflict):
    msg_fmt = "Instance %(instance_id)s is not ready: %(reason)s"


class ConsoleNotSupported(exception.NotImplementedByDriver):
    """The instance's host's driver cannot give this console type (Nova
    answers a driver's NotImplementedError with 501)."""


def console_url(base_url: str, console_type: str, token: str) -> str:
    """The URL a user opens. noVNC's pages take the websocket path in a
    ``path`` parameter, so the token goes inside it (``?token=`` quoted);
    the others read ``token`` themselves."""
    joiner = "&" if "?" in base_url else "?"
    if console_type == "novnc":
        return f"{base_url}{joiner}path=%3Ftoken%3D{token}"
    return f"{base_url}{joiner}token={token}"


def check_type(conf, protocol: str, console_type: str) -> None:
    """Refuse (400) a protocol/type pair the API does not know, or a type
    this deployment does not serve."""
    if protocol not in PROTOCOL_TYPES:
        raise exception.Invalid(f"Invalid protocol {protocol!r}: one of "
                                f"{', '.join(sorted(PROTOCOL_TYPES))}.")
    if console_type not in PROTOCOL_TYPES[protocol]:
        raise exception.Invalid(f"Invalid type {console_type!r} for protocol {protocol}: "
                                f"{', '.join(PROTOCOL_TYPES[protocol])}.")
    served = SERVED_TYPES.get(console_type)
    if served is None or not conf[served[0]].enabled:
        raise ConsoleTypeUnavailable(console_type=console_type)


def get_console(services, compute_api, ctxt, uuid: str, protocol: str,
                console_type: str) -> dict:
    """``{"protocol", "type", "url"}`` of a new console of instance *uuid*.

    *services* are the API's (its conf, cells and compute RPC client);
    *compute_api* finds the instance as the caller may see it (404
    otherwise). 400: unknown or unavailable type (here or on the
    instance's host, as Nova's compute manager checks it); 409: the instance has no
    running guest; 501 (:class:`ConsoleNotSupported`): its host's driver
    cannot give that console type."""
    conf = services.conf
    check_type(conf, protocol, console_type)
    group, url_option, capability = SERVED_TYPES[console_type]
    inst = compute_api.get(ctxt, uuid)
    if not inst.get("host") or inst.get("vm_state") not in READY_VM_STATES \
            or inst.get("task_state") in (states.DELETING,):
        raise InstanceNotReady(instance_id=uuid,
                               reason=f"it is {inst.get('vm_state')} (task "
                                      f"{inst.get('task_state')}) on host "
                                      f"{inst.get('host')}")
    _, db = services.cells.for_instance(uuid)
    if db is None:
        raise InstanceNotReady(instance_id=uuid, reason="it is not in a cell yet")
    check = getattr(compute_api, "_check_driver_supports", None)
    if check is not None:
        try:
            check(db, inst, f"get {console_type} console", capability)
        except exception.NotSupportedByDriver as exc:
            raise ConsoleNotSupported(exc.message) from None
    try:
        info = services.compute_rpc.get_console_connection(
            ctxt, inst["host"], inst, console_type, timeout=RPC_TIMEOUT)
    except messaging.MessagingTimeout:
        raise InstanceNotReady(instance_id=uuid,
                               reason=f"its host {inst['host']} did not answer") from None
    if info.get("error") == "NotSupportedByDriver":
        raise ConsoleNotSupported(info["message"])
    if info.get("error") == "ConsoleTypeUnavailable":
        raise ConsoleTypeUnavailable(info["message"])
    if info.get("error"):
        raise InstanceNotReady(instance_id=uuid, reason=info.get("message", info["error"]))
    base_url = conf[group][url_option]
    token, _ = tokens.create(db, uuid, console_type, info["host"], info["port"],
                             ttl=conf.consoleauth.token_ttl,
                             internal_access_path=info.get("internal_access_path"),
                             access_url_base=base_url)
    return {"protocol": protocol, "type": console_type,
            "url": console_url(base_url, console_type, token)}


def find_token(services, token: str) -> dict:
    """The live record of *token* in any cell (404 otherwise)."""
    for cell in services.cells.cells(include_cell0=False):
        try:
            return tokens.validate(services.cells.get(cell["uuid"]), token)
        except tokens.InvalidToken:
            continue
    raise exception.NotFound("Token not found")
