"""/servers: create, list, list detail, show, delete.

The server views are :mod:`.server_views`'s and the listings' query
:mod:`.server_listing`'s; their names stay importable from here."""
from __future__ import annotations

import json
import uuid as uuidlib

from compute_core import exception
from compute_core.api import policy, schemas, views
from compute_core.api.faults import APIError
from compute_core.api.microversion import SchemaField, VersionedSchemas, VersionRange
from compute_core.api.resources.server_listing import (  # noqa: F401
    BAD_STATUS_IS_400, CHANGES_BEFORE, SORT_DIRS, SORT_KEYS, STRICT_LIST_QUERY, TAG_FILTERS,
    _list_filters, list_query, list_servers)
from compute_core.api.resources.server_views import (  # noqa: F401
    DETAIL_FIELDS, EXTENDED_FIELDS, FLAVOR_IN_SERVER, HOST_STATUS, IMAGE_FIELDS, Viewer,
    _hosts_up, _viewer, _zone_of_host, canonical_ip, server_brief, server_detail)
from compute_core.api.server_service import decode_user_data
from compute_core.apispec import keyed, operation
from compute_core.db import api_db
from compute_core.db import server_groups as groups_db

# ------------------------------------------------------------------ policy

RULES = (
    policy.rule("os_compute_api:servers:index", policy.PROJECT_READER_OR_ADMIN, "List servers",
                [("GET", "/servers")]),
    policy.rule("os_compute_api:servers:detail", policy.PROJECT_READER_OR_ADMIN, "List servers with details",
                [("GET", "/servers/detail")]),
    policy.rule("os_compute_api:servers:index:get_all_tenants", policy.ADMIN,
                "List the servers of every project (all_tenants)", [("GET", "/servers")]),
    policy.rule("os_compute_api:servers:detail:get_all_tenants", policy.ADMIN,
                "List with details the servers of every project (all_tenants)",
                [("GET", "/servers/detail")]),
    policy.rule("os_compute_api:servers:allow_all_filters", policy.ADMIN,
                "Filter server listings by the administrator's filters (host, node, "
                "deleted)", [("GET", "/servers"), ("GET", "/servers/detail")]),
    policy.rule("os_compute_api:servers:show", policy.PROJECT_READER_OR_ADMIN, "Show a server",
                [("GET", "/servers/{server_id}")]),
    policy.rule("os_compute_api:servers:show:host_status", policy.ADMIN,
                "Show host_status, the state of the server's compute service (2.16)",
                [("GET", "/servers/{server_id}"), ("GET", "/servers/detail")]),
    policy.rule("os_compute_api:os-extended-server-attributes", policy.ADMIN,
                "Show the OS-EXT-SRV-ATTR fields of a server (its host, node, instance "
                "name; from 2.3 its reservation, launch index, hostname, user data ...)",
                [("GET", "/servers/{server_id}"), ("GET", "/servers/detail")]),
    policy.rule("os_compute_api:servers:create", policy.PROJECT_MEMBER_OR_ADMIN, "Create a server",
                [("POST", "/servers")]),
    policy.rule("os_compute_api:servers:create:forced_host", policy.ADMIN,
                "Create a server on a host or node given in its availability zone "
                "(zone:host:node), skipping the scheduler's filters", [("POST", "/servers")]),
    policy.rule("compute:servers:create:requested_destination", policy.ADMIN,
                "Create a server on a host or node given with host / hypervisor_hostname "
                "(2.74), which the filters still judge", [("POST", "/servers")]),
    policy.rule("os_compute_api:servers:delete", policy.PROJECT_MEMBER_OR_ADMIN, "Delete a server",
                [("DELETE", "/servers/{server_id}")]),
    policy.rule("os_compute_api:servers:update", policy.PROJECT_MEMBER_OR_ADMIN,
                "Rename a server, change its description, hostname or access addresses",
                [("PUT", "/servers/{server_id}")]),
)

# ----------------------------------------------------------------- schemas

NAME = schemas.NAME


def _networks_schema(uuid_format=False, tag=False):
    """The ``networks`` list of a create: a ``tag`` on each NIC at 2.32 to
    2.36 and from 2.42 (Nova's schemas dropped it at 2.37 and brought it
    back), a network ``uuid`` checked by the schema from 2.37."""
    network = {"type": "object", "properties": {
        "uuid": dict(schemas.UUID) if uuid_format else {"type": "string"},
        "port": {"type": ["string", "null"], "format": "uuid"},
        "fixed_ip": {"type": "string", "oneOf": [schemas.IPV4, schemas.IPV6]}},
        "additionalProperties": False}
    if tag:
        network["properties"]["tag"] = {"type": "string", "pattern": "^[^,/]*$",
                                        "minLength": 1, "maxLength": 60}
    listed = {"type": "array", "items": network}
    if not uuid_format:
        return listed
    # "auto" / "none" accepted from 2.37, and networks required
    return {"oneOf": [listed, {"type": "string", "enum": ["none", "auto"]}]}


_CREATE_BASE = {
    "type": "object",
    "properties": {
        "server": {
            "type": "object",
            "properties": {
                "name": NAME,
                "imageRef": {"type": "string", "maxLength": 255},
                "flavorRef": {"type": ["string", "integer"], "minLength": 1,
                              "maxLength": 255},
                # Nova sets no bound, but only echoes it back: a sane one
                "adminPass": {"type": "string", "maxLength": 255},
                "metadata": schemas.METADATA,
                "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
                "accessIPv4": schemas.IPV4,
                "accessIPv6": schemas.IPV6,
                "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
                "block_device_mapping": {"type": "array"},
                "block_device_mapping_v2": {"type": "array"},
                "config_drive": {"type": ["boolean", "string", "null"]},
                "key_name": {"type": "string", "minLength": 1, "maxLength": 255},
                "min_count": schemas.POSITIVE_INT,
                "max_count": schemas.POSITIVE_INT,
                "return_reservation_id": {"type": ["boolean", "string"]},
                "security_groups": {"type": "array", "maxItems": 100, "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "minLength": 1,
                                            "maxLength": 255}},
                    "required": ["name"], "additionalProperties": False}},
                "user_data": {"type": "string", "maxLength": 65535},
            },
            "required": ["name", "flavorRef"],
            "additionalProperties": False,
        },
        "os:scheduler_hints": {"type": "object"},
        "OS-SCH-HNT:scheduler_hints": {"type": "object"},
    },
    "required": ["server"],
    "additionalProperties": False,
}
_HOST = {"type": "string", "minLength": 1, "maxLength": 255}

# The body of POST /servers by version: the fields that come and go (from
# the API reference).
CREATE = VersionedSchemas.of_fields(_CREATE_BASE, "server", (
    SchemaField("networks", _networks_schema(), until="2.31"),
    SchemaField("networks", _networks_schema(tag=True), since="2.32", until="2.36"),
    SchemaField("networks", _networks_schema(uuid_format=True), since="2.37", until="2.41",
                required=True),
    SchemaField("networks", _networks_schema(uuid_format=True, tag=True), since="2.42",
                required=True),
    SchemaField("personality", {"type": "array"}, until="2.56"),
    SchemaField("description", schemas.DESCRIPTION, since="2.19"),
    SchemaField("tags", {"type": "array", "items": {"type": "string", "maxLength": 60,
                                                    "pattern": "^[^,/]*$"}, "maxItems": 50},
                since="2.52"),
    SchemaField("trusted_image_certificates", {"type": ["array", "null"]}, since="2.63"),
    SchemaField("host", _HOST, since="2.74"),
    SchemaField("hypervisor_hostname", _HOST, since="2.74"),
    SchemaField("hostname", _HOST, since="2.90"),
))

# Scheduler hints are open-ended (a filter plugin may read any), as in
# Nova; they are kept with the server, so their encoded size is bounded.
MAX_SCHEDULER_HINTS_BYTES = 65535

# Behaviours that start at a version
SERVER_GROUPS = VersionRange("2.71")
# PUT /servers/{id} answers with the whole server body from 2.75; before, without
# the fields of the old extensions
FULL_UPDATE_BODY = VersionRange("2.75")
_EXTENSION_PREFIXES = ("OS-EXT-", "OS-SRV-USG:", "os-extended-volumes:")
_EXTENSION_FIELDS = {"config_drive", "key_name", "security_groups", "host_status"}  # tags, tags-any, not-tags, not-tags-any  # the server's group in its body (show only)

# ---------------------------------------------------------------- handlers

@operation("listServers", "List servers", ok={200: keyed("servers")}, query=list_query)
def index(call):
    call.authorize("os_compute_api:servers:index")
    return list_servers(call, detail=False)


@operation("listServersDetailed", "List servers with details", ok={200: keyed("servers")},
           query=list_query)
def detail(call):
    call.authorize("os_compute_api:servers:detail")
    return list_servers(call, detail=True)


@operation("showServer", "Show a server", ok={200: keyed("server")}, errors=(404,))
def show(call, server_id):
    inst = _get(call, server_id)
    target = server_target(inst)
    call.authorize("os_compute_api:servers:show", target)
    viewer = _viewer(call, target)
    up = None
    if viewer.host_status and inst.get("host"):
        up = _hosts_up(call).get(inst["host"])
    body = server_detail(call.req, call.version, viewer, inst, up)
    if call.version in SERVER_GROUPS:
        group = groups_db.groups_of(call.services.api_db, [inst["uuid"]]).get(inst["uuid"])
        body["server_groups"] = [group] if group else []
    return 200, {"server": body}


def _get(call, server_id, read_deleted=False):
    try:
        return call.server_service.get(call.ctx, server_id, read_deleted=read_deleted)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None


def get_server(call, server_id):
    """The server *server_id* as the caller may see it (404 otherwise, as
    Nova answers a server of another project), for another resource's
    handler (server actions, and those to come: metadata, tags ...)."""
    return _get(call, server_id)


def server_target(inst) -> dict:
    """The policy target of a server: its project and user."""
    return {"project_id": inst.get("project_id"), "user_id": inst.get("user_id")}


def authorized_server(call, server_id, rule, read_deleted=False):
    """The server *server_id* (:func:`get_server`, a deleted one too when
    *read_deleted*) once the caller passes the policy *rule* on it: 404 for
    a server the caller may not see, then 403."""
    inst = _get(call, server_id, read_deleted)
    call.authorize(rule, server_target(inst))
    return inst


@operation("deleteServer", "Delete a server", ok={204: None}, errors=(404, 409))
def delete(call, server_id):
    inst = _get(call, server_id)
    call.authorize("os_compute_api:servers:delete", server_target(inst))
    try:
        call.server_service.delete(call.ctx, server_id, current=inst)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    except exception.Conflict as exc:
        raise APIError(409, exc.message) from None
    return 204, None


def _forced_destination(az):
    """(zone, forced host, forced node) of an availability zone written
    ``zone:host``, ``zone:host:node`` or ``zone::node`` (an admin's forced
    destination), as Nova reads it."""
    if not az or ":" not in az:
        return az, None, None
    parts = az.split(":")
    if len(parts) == 2:
        return parts[0], parts[1] or None, None
    if len(parts) == 3:
        return parts[0], parts[1] or None, parts[2] or None
    raise exception.Invalid("Invalid input received: Unable to parse availability_zone")


def _networks(call, value):
    # The schema of the version has checked the type (and presence from 2.37).
    if value is None:
        return "auto"
    if isinstance(value, str):
        return value
    out = []
    backend_ids = {n["id"] for n in call.services.network.networks()}
    ports = set()
    for net in value:
        if net.get("port"):
            # Nova's checks of the request itself; whether the port exists
            # and is free is _check_ports'.
            port = net["port"]
            if port in ports:
                raise APIError(400, f"Port ID '{port}' was specified twice: you cannot "
                                    f"attach a port multiple times.")
            if net.get("fixed_ip") is not None:
                raise APIError(400, f"Specified Fixed IP '{net['fixed_ip']}' cannot be used "
                                    f"with port '{port}': the two cannot be specified "
                                    f"together.")
            ports.add(port)
            # A network uuid beside a port is ignored: the port's network counts.
            out.append({"port": port, "tag": net.get("tag")})
            continue
        if "uuid" not in net:
            raise APIError(400, "Bad network format: missing 'uuid'")
        try:
            uuidlib.UUID(net["uuid"])
        except ValueError:
            raise APIError(400, f"Bad networks format: network uuid is not in proper format "
                                f"({net['uuid']})") from None
        if net["uuid"] not in backend_ids:
            raise APIError(400, f"Network {net['uuid']} could not be found.")
        out.append({"uuid": net["uuid"], "fixed_ip": net.get("fixed_ip"), "tag": net.get("tag")})
    return out


def _check_count(networks, max_count):
    """Nova's refusals of several servers sharing what only one can have."""
    if max_count < 2 or not isinstance(networks, list):
        return
    if any(n.get("fixed_ip") for n in networks):
        raise APIError(400, "Failed to launch instances: max_count cannot be greater than 1 "
                            "if an fixed_ip is specified.")
    if any(n.get("port") for n in networks):
        raise APIError(400, "Failed to launch instances: Unable to launch multiple instances "
                            "with a single configured port ID. Please launch your instance "
                            "one by one with different ports.")


def _check_ports(call, networks):
    """The ports asked for exist (400) and are bound to no server (409), as
    Nova's network API checks before the build (whether the server's project
    may have them is ServerService.create's check, once the server has its
    uuid); the conductor binds them."""
    for net in networks if isinstance(networks, list) else []:
        if not net.get("port"):
            continue
        try:
            port = call.services.network.get_port(net["port"])
        except exception.PortsNotSupported:
            raise APIError(400, "Ports are not supported by this cloud's network "
                                "backend.") from None
        except exception.PortNotFound as exc:
            raise APIError(400, exc.message) from None
        if port["device_id"] is not None:
            raise APIError(409, exception.PortInUse(port_id=net["port"]).message)


def _local_boot_image(bdms):
    """The image of an image-to-local boot mapping (what OpenStackClient
    sends with --image); anything needing volumes is refused."""
    image = None
    for bdm in bdms:
        if not isinstance(bdm, dict):
            raise APIError(400, "Invalid input for field/attribute block_device_mapping_v2.")
        source, dest = bdm.get("source_type"), bdm.get("destination_type", "local")
        if dest != "local" or source not in ("image", "blank"):
            raise APIError(400, "Block device mappings to volumes are not supported: this "
                                "cloud has no volume service.")
        if source == "image":
            if str(bdm.get("boot_index", 0)) not in ("0",):
                raise APIError(400, "Only the boot disk may come from an image.")
            image = bdm.get("uuid")
    return image


def _count(server, field, default):
    """min_count / max_count as an int >= 1 (the schema's minimum misses
    the string form, "0")."""
    value = int(server.get(field, default))
    if value < 1:
        raise APIError(400, f"Invalid input for field/attribute {field}. Value: {value}. "
                            f"{value} is less than the minimum of 1")
    return value


def _scheduler_hints(body):
    for field in ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"):
        hints = body.get(field)
        if hints:
            size = len(json.dumps(hints).encode())
            if size > MAX_SCHEDULER_HINTS_BYTES:
                raise APIError(400, f"Invalid input for field/attribute {field}. The hints "
                                    f"take {size} bytes encoded, more than "
                                    f"{MAX_SCHEDULER_HINTS_BYTES}")
            group = hints.get("group") if isinstance(hints, dict) else None
            if group is not None:
                try:
                    uuidlib.UUID(str(group))
                except ValueError:
                    raise APIError(400, f"Invalid input for field/attribute group. Value: "
                                        f"{group}. '{group}' is not a 'uuid'") from None
            return hints
    return {}


@operation("createServer", "Create one or more servers",
           ok={202: {"anyOf": [keyed("server"), keyed("reservation_id")]}}, errors=(403, 409),
           body=CREATE,
           links={"GetServer": ("showServer", {"server_id": "$response.body#/server/id"}),
                  "ActOnServer": ("serverAction", {"server_id": "$response.body#/server/id"}),
                  "DeleteServer": ("deleteServer",
                                   {"server_id": "$response.body#/server/id"})})
def create(call):
    call.authorize("os_compute_api:servers:create")
    body = call.json()
    schemas.validate(body, CREATE.at(call.version))
    server = body["server"]
    if server.get("block_device_mapping"):
        raise APIError(400, "Block device mappings are not supported: this cloud has no "
                            "volume service.")
    bdm_image = _local_boot_image(server.get("block_device_mapping_v2") or [])
    if server.get("trusted_image_certificates"):
        raise APIError(400, "Image certificate validation is not supported.")
    if "host" in server or "hypervisor_hostname" in server:
        call.authorize("compute:servers:create:requested_destination")
    image_ref = server.get("imageRef", "") or bdm_image
    if not image_ref:
        raise APIError(400, "Missing imageRef attribute")
    image_id = image_ref.rsplit("/", 1)[-1]
    try:
        uuidlib.UUID(image_id)
        image = call.services.images.get(image_id)
    except (ValueError, exception.ImageNotFound):
        raise APIError(400, f"Image {image_id} could not be found.") from None
    if image["status"] != "active":
        raise APIError(400, f"Image {image_id} is not active.")
    flavor_id = str(server["flavorRef"]).rsplit("/", 1)[-1]
    try:
        flavor = call.services.flavor(call.ctx, flavor_id)
    except exception.FlavorNotFound:
        raise APIError(400, f"Flavor {flavor_id} could not be found.") from None
    min_count = _count(server, "min_count", 1)
    max_count = _count(server, "max_count", min_count)
    if min_count > max_count:
        raise APIError(400, "min_count must be <= max_count")
    networks = _networks(call, server.get("networks"))
    _check_count(networks, max_count)
    _check_ports(call, networks)
    hints = _scheduler_hints(body)
    user_data = server.get("user_data")
    try:
        if user_data is not None:
            decode_user_data(user_data)
        az, forced_host, forced_node = _forced_destination(server.get("availability_zone"))
        if forced_host or forced_node:
            call.authorize("os_compute_api:servers:create:forced_host")
        instances, reservation_id = call.server_service.create(
            call.ctx, name=server["name"], flavor=flavor, image=image, min_count=min_count,
            max_count=max_count, metadata=server.get("metadata"),
            key_name=server.get("key_name"), user_data=user_data, availability_zone=az or None,
            networks=networks, access_ip_v4=server.get("accessIPv4"),
            access_ip_v6=canonical_ip(server.get("accessIPv6")), description=server.get("description"),
            hostname=server.get("hostname"), scheduler_hints=hints, tags=server.get("tags"),
            config_drive=server.get("config_drive") in (True, "true", "True", "1"),
            security_groups=[g["name"] for g in server.get("security_groups") or []] or None,
            requested_host=server.get("host"),
            requested_node=server.get("hypervisor_hostname"),
            forced_host=forced_host, forced_node=forced_node)
    except exception.QuotaExceeded as exc:
        raise APIError(403, exc.message) from None
    except (exception.Invalid, exception.ComputeHostNotFound, exception.PortNotFound) as exc:
        raise APIError(400, exc.message) from None
    if str(server.get("return_reservation_id", "")).lower() in ("true", "1"):
        return 202, {"reservation_id": reservation_id}
    inst = instances[0]
    out = {"id": inst["uuid"], "links": views.links(call.req, "servers", inst["uuid"]),
           "OS-DCF:diskConfig": server.get("OS-DCF:diskConfig", "MANUAL"),
           "security_groups": [{"name": n} for n in inst["security_groups"]]}
    out["adminPass"] = server.get("adminPass") or uuidlib.uuid4().hex[:12]
    return 202, {"server": out}, {"Location": views.links(call.req, "servers", inst["uuid"])[0]["href"]}


_UPDATE_BASE = {
    "type": "object",
    "properties": {"server": {
        "type": "object",
        "properties": {"name": NAME, "accessIPv4": schemas.IPV4, "accessIPv6": schemas.IPV6,
                       "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]}},
        "additionalProperties": False}},
    "required": ["server"], "additionalProperties": False,
}
# The body of PUT /servers/{server_id} by version
UPDATE = VersionedSchemas.of_fields(_UPDATE_BASE, "server", (
    SchemaField("description", schemas.DESCRIPTION, since="2.19"),
    SchemaField("hostname", _HOST, since="2.90"),
    SchemaField("pinned_availability_zone",
                {"oneOf": [{"type": "string", "minLength": 1, "maxLength": 255},
                           {"type": "null"}]}, since="2.104"),
))
# request field -> instance column
_UPDATABLE = {"name": "display_name", "accessIPv4": "access_ip_v4",
              "accessIPv6": "access_ip_v6", "description": "display_description",
              "hostname": "hostname"}


def _pin(call, inst, wanted):
    """The zone a server's moves are pinned to after asking for *wanted*
    (2.104): None unpins; a zone pins only an unpinned server, and only to
    the zone it is in; re-pinning to the pinned zone changes nothing."""
    pinned = inst.get("availability_zone")
    if wanted is not None:
        if pinned is not None and wanted != pinned:
            raise APIError(409, "Cannot change pinned availability zone directly. Unpin "
                                "first by setting pinned_availability_zone to null.")
        current = _zone_of_host(call.req, inst["host"]) if inst.get("host") else None
        if pinned is None and wanted != current:
            raise APIError(409, f"Server can only be pinned to its current availability "
                                f"zone '{current}', but '{wanted}' was requested.")
    if wanted != pinned:
        api_db.set_request_spec_zone(call.services.api_db, inst["uuid"], wanted)
    return wanted


@operation("updateServer", "Rename a server, or change its description, hostname or "
           "access addresses", ok={200: keyed("server")}, errors=(400, 404, 409), body=UPDATE)
def update(call, server_id):
    body = call.json()
    schemas.validate(body, UPDATE.at(call.version))
    inst = _get(call, server_id)
    target = server_target(inst)
    call.authorize("os_compute_api:servers:update", target)
    fields = body["server"]
    values = {column: fields[name] for name, column in _UPDATABLE.items() if name in fields}
    if "name" in values:
        values["display_name"] = values["display_name"].strip()
    if "access_ip_v6" in values:
        values["access_ip_v6"] = canonical_ip(values["access_ip_v6"])
    if "pinned_availability_zone" in fields:
        values["availability_zone"] = _pin(call, inst, fields["pinned_availability_zone"])
    try:
        inst = call.server_service.update(call.ctx, server_id, values)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    except exception.Conflict as exc:
        raise APIError(409, exc.message) from None
    out = server_detail(call.req, call.version, _viewer(call, target), inst)
    if call.version not in FULL_UPDATE_BODY:
        out = {k: v for k, v in out.items()
               if not k.startswith(_EXTENSION_PREFIXES) and k not in _EXTENSION_FIELDS}
    if call.version in SERVER_GROUPS:
        group = groups_db.groups_of(call.services.api_db, [inst["uuid"]]).get(inst["uuid"])
        out["server_groups"] = [group] if group else []
    return 200, {"server": out}


ROUTES = {
    "/servers": {"GET": index, "POST": create},
    "/servers/detail": {"GET": detail},
    "/servers/{server_id}": {"GET": show, "PUT": update, "DELETE": delete},
}
