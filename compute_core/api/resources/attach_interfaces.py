"""/servers/{server_id}/os-interface: the ports of a server (its addresses
as the network backend records them), attached and detached one at a time.

An attach binds a port (a new one of the server's project on ``net_id``,
with ``fixed_ips`` when asked, or the free port ``port_id``, which must be
the server's project's: Nova's 400 otherwise), then has the server's host
plug the NIC (a call: the answer is the attached port, as Nova's up to 2.x);
the server's ``network_info`` (its ``addresses``) follows. A detach unplugs it,
then frees the port. Both need the server ACTIVE, PAUSED or SHUTOFF with no
task running and unlocked, and a host driver with
``supports_attach_interface``; each is recorded as the instance action
``attach_interface`` / ``detach_interface`` with the host's event.
"""
from __future__ import annotations

import contextlib

from compute_core import exception
from compute_core.api import policy, schemas, views
from compute_core.api.faults import APIError
from compute_core.api.microversion import SchemaField, VersionedSchemas
from compute_core.api.resources import servers
from compute_core.api.server_lifecycle import ServerLifecycle
from compute_core.api.server_service import ServerService
from compute_core.apispec import keyed, operation
from compute_core.compute import states
from compute_core.db import cell_db

_ROOT = "os_compute_api:os-attach-interfaces:"
_ALL = "/servers/{server_id}/os-interface"
_ONE = _ALL + "/{port_id}"
RULES = (
    policy.rule(_ROOT + "list", policy.PROJECT_READER_OR_ADMIN,
                "List port interfaces attached to a server", [("GET", _ALL)]),
    policy.rule(_ROOT + "show", policy.PROJECT_READER_OR_ADMIN,
                "Show details of a port interface attached to a server", [("GET", _ONE)]),
    policy.rule(_ROOT + "create", policy.PROJECT_MEMBER_OR_ADMIN,
                "Attach an interface to a server", [("POST", _ALL)]),
    policy.rule(_ROOT + "delete", policy.PROJECT_MEMBER_OR_ADMIN,
                "Detach an interface from a server", [("DELETE", _ONE)]),
)

#: The vm_states an attach or detach starts from (Nova's), with no task running.
ATTACHABLE = (states.ACTIVE, states.PAUSED, states.STOPPED)

_UUID = {"type": "string", "format": "uuid"}
_IP = {"type": "string", "oneOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
_CREATE_BASE = {
    "type": "object",
    "properties": {"interfaceAttachment": {
        "type": "object",
        "properties": {
            "net_id": _UUID,
            "port_id": _UUID,
            "fixed_ips": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
                "type": "object", "properties": {"ip_address": _IP},
                "required": ["ip_address"], "additionalProperties": False}},
        },
        "additionalProperties": False}},
    "additionalProperties": False,
}
CREATE = VersionedSchemas.of_fields(_CREATE_BASE, "interfaceAttachment", (
    SchemaField("tag", {"type": "string", "pattern": "^[^,/]*$", "minLength": 1,
                        "maxLength": 60}, since="2.49"),
))

FIELDS = views.ViewFields(
    ("tag", "2.70", None, lambda port: port.get("tag")),
)


def _view(call, port) -> dict:
    out = {"net_id": port["network_id"], "port_id": port["id"],
           "mac_addr": port["mac_address"], "port_state": port["status"],
           "fixed_ips": [{"subnet_id": ip["subnet_id"], "ip_address": ip["ip_address"]}
                         for ip in port.get("fixed_ips") or []]}
    return FIELDS.add(out, call.version, port)


@contextlib.contextmanager
def _ports_managed():
    """A network backend that manages no ports one by one: 501, as Nova
    answers when its network API cannot."""
    try:
        yield
    except exception.PortsNotSupported as exc:
        raise APIError(501, exc.message) from None


def _port_of(call, inst, port_id):
    """The port *port_id* of the server (404 when it is not one of its)."""
    try:
        with _ports_managed():
            port = call.services.network.get_port(port_id)
    except exception.PortNotFound:
        port = None
    if port is None or port["device_id"] != inst["uuid"]:
        raise APIError(404, f"Instance {inst['uuid']} does not have a port with id "
                            f"{port_id}")
    return port


def _ready(call, inst, action):
    """Check what Nova checks before an attach or detach (lock, state, the
    host's driver); returns the server's cell database."""
    try:
        ServerLifecycle.check_lock(call.ctx, inst)
        ServerLifecycle._check_state(inst, action, ATTACHABLE)
        if not inst.get("host") or inst.get("cell_uuid") is None:
            raise exception.Conflict(f"Instance {inst['uuid']} is not ready")
        db = call.services.cells.get(inst["cell_uuid"])
        ServerService._check_driver_supports(db, inst, action, "supports_attach_interface")
    except exception.Conflict as exc:
        raise APIError(409, exc.message) from None
    return db


def _refused(answer, uuid, what):
    """The API error of a host's refusal *answer* (RPC 1.10)."""
    if answer.get("error") == "NotSupportedByDriver":
        return APIError(409, answer["message"])
    if answer.get("error") == "InstanceNotFound":
        return APIError(404, f"Instance {uuid} could not be found.")
    return APIError(500, f"Failed to {what} {uuid}: {answer.get('message')}")


@operation("listServerInterfaces", "List the port interfaces of a server",
           ok={200: keyed("interfaceAttachments")}, errors=(403, 404, 501))
def index(call, server_id):
    inst = servers.authorized_server(call, server_id, _ROOT + "list")
    with _ports_managed():
        ports = call.services.network.ports(inst["uuid"])
    return 200, {"interfaceAttachments": [_view(call, p) for p in ports]}


@operation("showServerInterface", "Show a port interface of a server",
           ok={200: keyed("interfaceAttachment")}, errors=(403, 404, 501))
def show(call, server_id, port_id):
    inst = servers.authorized_server(call, server_id, _ROOT + "show")
    return 200, {"interfaceAttachment": _view(call, _port_of(call, inst, port_id))}


@operation("createServerInterface", "Attach a port interface to a server",
           ok={200: keyed("interfaceAttachment")}, errors=(400, 403, 404, 409, 501),
           body=CREATE)
def create(call, server_id):
    body = call.json()
    schemas.validate(body, CREATE.at(call.version))
    asked = body.get("interfaceAttachment") or {}
    net_id, port_id = asked.get("net_id"), asked.get("port_id")
    fixed_ip = (asked.get("fixed_ips") or [{}])[0].get("ip_address")
    if net_id and port_id:
        raise APIError(400, "Must not input both network_id and port_id "
                            "(interfaceAttachment net_id, port_id)")
    if fixed_ip and not net_id:
        raise APIError(400, "Must input network_id when request IP address "
                            "(interfaceAttachment fixed_ips needs net_id)")
    inst = servers.authorized_server(call, server_id, _ROOT + "create")
    uuid = inst["uuid"]
    db = _ready(call, inst, "attach_interface")
    network = call.services.network
    cell_db.start_action(db, uuid, "attach_interface", call.ctx)
    try:
        with _ports_managed():
            port = network.allocate_port(uuid, network_id=net_id, fixed_ip=fixed_ip,
                                         port_id=port_id, tag=asked.get("tag"),
                                         project_id=inst["project_id"])
    except (exception.NoMoreFixedIps, exception.PortNotUsable) as exc:  # Nova's 400s
        raise APIError(400, exc.message) from None
    answer = call.services.compute_rpc.attach_interface(
        call.ctx, inst["host"], cell_db.get_instance(db, uuid), port)
    if answer:
        network.deallocate_port(uuid, port["id"])
        raise _refused(answer, uuid, "attach network adapter device to")
    return 200, {"interfaceAttachment": _view(call, network.get_port(port["id"]))}


@operation("deleteServerInterface", "Detach a port interface from a server",
           ok={202: None}, errors=(403, 404, 409, 501))
def delete(call, server_id, port_id):
    inst = servers.authorized_server(call, server_id, _ROOT + "delete")
    uuid = inst["uuid"]
    db = _ready(call, inst, "detach_interface")
    port = _port_of(call, inst, port_id)
    cell_db.start_action(db, uuid, "detach_interface", call.ctx)
    answer = call.services.compute_rpc.detach_interface(
        call.ctx, inst["host"], cell_db.get_instance(db, uuid), port)
    if answer:
        raise _refused(answer, uuid, "detach network adapter device from")
    call.services.network.deallocate_port(uuid, port_id)
    return 202, None


ROUTES = {
    _ALL: {"GET": index, "POST": create},
    _ONE: {"GET": show, "DELETE": delete},
}
