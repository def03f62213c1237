"""/servers: create, list, list detail, show, delete."""
from __future__ import annotations

import ipaddress
import json
import typing
import uuid as uuidlib
from urllib.parse import urlencode

from compute_core import exception, regex_filter
from compute_core.api import hosts, policy, query, schemas, views
from compute_core.api.faults import APIError
from compute_core.api.microversion import (ByVersion, SchemaField, VersionedSchemas,
                                           VersionRange)
from compute_core.api.server_service import decode_user_data
from compute_core.apispec import keyed, operation
from compute_core.compute import states
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
_NETWORK = {"type": "object", "properties": {
    "uuid": {"type": "string"}, "port": {"type": ["string", "null"]},
    "fixed_ip": {"type": "string", "oneOf": [schemas.IPV4, schemas.IPV6]},
    "tag": {"type": "string", "maxLength": 60}},
    "additionalProperties": False}
_NETWORKS = {"type": "array", "items": _NETWORK}

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
    SchemaField("networks", _NETWORKS, until="2.36"),
    # "auto" / "none" accepted, and networks required
    SchemaField("networks", {"oneOf": [_NETWORKS, {"type": "string", "enum": ["none", "auto"]}]},
                since="2.37", required=True),
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
STRICT_LIST_QUERY = VersionRange("2.75")  # unknown query parameters are a 400
BAD_STATUS_IS_400 = VersionRange("2.38")  # before: an unknown status matches nothing
HOST_STATUS = VersionRange("2.16")
SERVER_GROUPS = VersionRange("2.71")
TAG_FILTERS = VersionRange("2.26")
CHANGES_BEFORE = VersionRange("2.66")
# PUT /servers/{id} answers with the whole server body from 2.75; before, without
# the fields of the old extensions
FULL_UPDATE_BODY = VersionRange("2.75")
_EXTENSION_PREFIXES = ("OS-EXT-", "OS-SRV-USG:", "os-extended-volumes:")
_EXTENSION_FIELDS = {"config_drive", "key_name", "security_groups", "host_status"}  # tags, tags-any, not-tags, not-tags-any  # the server's group in its body (show only)

# ------------------------------------------------------------------- views


def server_brief(req, inst):
    return {"id": inst["uuid"], "name": inst.get("display_name") or "",
            "links": views.links(req, "servers", inst["uuid"])}


def _flavor_link(req, flavor):
    return {"id": flavor.get("flavorid"),
            "links": views.links(req, "flavors", flavor.get("flavorid"))}


def _flavor_embedded(req, flavor):
    return {"vcpus": flavor["vcpus"], "ram": flavor["memory_mb"], "disk": flavor["root_gb"],
            "ephemeral": flavor.get("ephemeral_gb", 0), "swap": flavor.get("swap", 0),
            "original_name": flavor["name"],
            "extra_specs": dict(flavor.get("extra_specs") or {})}


# The server's flavor: a link until 2.46, the flavor itself from 2.47
FLAVOR_IN_SERVER = ByVersion(("2.1", "2.46", _flavor_link),
                            ("2.47", None, _flavor_embedded))
IMAGE_FIELDS = views.ViewFields(
    ("properties", "2.98", None,
     lambda sysmeta: dict(sysmeta.get("image_properties") or {})),
)
# Fields of the detailed view by version, for everyone who may see the server
DETAIL_FIELDS = views.ViewFields(
    ("OS-EXT-SRV-ATTR:hostname", "2.90", None, lambda inst: inst.get("hostname")),
    ("locked", "2.9", None, lambda inst: bool(inst.get("locked"))),
    ("description", "2.19", None, lambda inst: inst.get("display_description")),
    ("tags", "2.26", None, lambda inst: list(inst.get("tags") or [])),
    ("trusted_image_certificates", "2.63", None, lambda inst: None),
    ("locked_reason", "2.73", None,
     lambda inst: (inst.get("system_metadata") or {}).get("locked_reason")
     if inst.get("locked") else None),
    ("pinned_availability_zone", "2.96", None, lambda inst: inst.get("availability_zone")),
    ("scheduler_hints", "2.100", None,
     lambda inst: dict((inst.get("system_metadata") or {}).get("scheduler_hints") or {})),
)


def _host_status(inst, host_up):
    if not inst.get("host"):
        return ""
    return "UP" if host_up in (None, True) else "DOWN"


# ... and the extended attributes (os_compute_api:os-extended-server-attributes)
EXTENDED_FIELDS = views.ViewFields(
    ("OS-EXT-SRV-ATTR:host", None, None, lambda inst: inst.get("host")),
    ("OS-EXT-SRV-ATTR:hypervisor_hostname", None, None, lambda inst: inst.get("node")),
    ("OS-EXT-SRV-ATTR:instance_name", None, None,
     lambda inst: "instance-%08x" % (inst.get("id") or 0)),
    ("OS-EXT-SRV-ATTR:reservation_id", "2.3", None, lambda inst: inst.get("reservation_id")),
    ("OS-EXT-SRV-ATTR:launch_index", "2.3", None, lambda inst: inst.get("launch_index") or 0),
    ("OS-EXT-SRV-ATTR:kernel_id", "2.3", None, lambda inst: ""),
    ("OS-EXT-SRV-ATTR:ramdisk_id", "2.3", None, lambda inst: ""),
    ("OS-EXT-SRV-ATTR:hostname", "2.3", None, lambda inst: inst.get("hostname")),
    ("OS-EXT-SRV-ATTR:root_device_name", "2.3", None, lambda inst: "/dev/vda"),
    ("OS-EXT-SRV-ATTR:user_data", "2.3", None, lambda inst: inst.get("user_data")),
)


def canonical_ip(address):
    """An address in its canonical text form (RFC 5952 for IPv6: lower
    case, zeros compressed); what is not an address stays as it is."""
    if not address:
        return address
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        return address


def _zone_of_host(req, host):
    zone_of = req.environ.get("compute_core.zone_of_host")
    return zone_of(host) if zone_of else req.environ.get("compute_core.default_az", "nova")


class Viewer(typing.NamedTuple):
    """What the caller may see of a server (from policy)."""

    extended_attributes: bool  # the admin's OS-EXT-SRV-ATTR fields
    host_status: bool          # host_status (2.16)
    fault_details: bool        # the details of a 500 fault


def _viewer(call, target=None) -> Viewer:
    return Viewer(
        call.allowed("os_compute_api:os-extended-server-attributes", target),
        call.version in HOST_STATUS and call.allowed("os_compute_api:servers:show:host_status",
                                                     target),
        call.is_admin)  # as Nova: only an administrator sees how a server broke


def server_detail(req, version, viewer: Viewer, inst, host_up=None):
    uuid = inst["uuid"]
    vm_state, task_state = inst.get("vm_state"), inst.get("task_state")
    status = states.status_from_state(vm_state, task_state)
    if inst.get("image_ref"):
        image = IMAGE_FIELDS.add(
            {"id": inst["image_ref"], "links": views.links(req, "images", inst["image_ref"])},
            version, inst.get("system_metadata") or {})
    else:
        image = ""
    out = {
        "id": uuid, "name": inst.get("display_name") or "", "status": status,
        "tenant_id": inst.get("project_id"), "user_id": inst.get("user_id"),
        "metadata": inst.get("metadata") or {},
        "hostId": views.host_id(inst.get("project_id"), inst.get("host")),
        "image": image, "flavor": FLAVOR_IN_SERVER.at(version)(req, inst.get("flavor") or {}),
        "created": views.iso(inst.get("created_at")),
        "updated": views.iso(inst.get("updated_at") or inst.get("created_at")),
        "addresses": inst.get("network_info") or {},
        "accessIPv4": inst.get("access_ip_v4") or "",
        "accessIPv6": canonical_ip(inst.get("access_ip_v6")) or "",
        "links": views.links(req, "servers", uuid), "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": inst.get("availability_zone") or (
            "" if not inst.get("host") else _zone_of_host(req, inst["host"])),
        "config_drive": inst.get("config_drive") or "",
        "key_name": inst.get("key_name"),
        "OS-SRV-USG:launched_at": views.iso_usec(inst.get("launched_at")),
        "OS-SRV-USG:terminated_at": views.iso_usec(inst.get("terminated_at")),
        "security_groups": [{"name": n} for n in views.security_group_names(inst)],
        "OS-EXT-STS:task_state": task_state, "OS-EXT-STS:vm_state": vm_state,
        "OS-EXT-STS:power_state": inst.get("power_state") or 0,
        "os-extended-volumes:volumes_attached": [],
    }
    if not out["security_groups"]:  # as Nova's: no key when the server has none
        del out["security_groups"]
    if status in ("BUILD", "ACTIVE"):
        out["progress"] = inst.get("progress") or 0
    fault = inst.get("fault")
    if fault and vm_state in (states.ERROR, states.DELETED):
        f = {"code": fault["code"], "created": views.iso(fault["created_at"]),
             "message": fault["message"]}
        if viewer.fault_details or fault["code"] != 500:
            f["details"] = fault.get("details") or ""
        out["fault"] = f
    if viewer.extended_attributes:
        EXTENDED_FIELDS.add(out, version, inst)
    if viewer.host_status:
        out["host_status"] = _host_status(inst, host_up)
    return DETAIL_FIELDS.add(out, version, inst)


# ---------------------------------------------------------------- handlers

_LIST_PARAMS = {
    "limit", "marker", "sort_key", "sort_dir", "name", "status", "image", "flavor", "host",
    "node", "ip", "ip6", "changes-since", "changes-before", "all_tenants", "project_id",
    "tenant_id", "user_id", "deleted", "reservation_id", "availability_zone", "key_name",
    "locked", "vm_state", "task_state", "power_state", "uuid", "config_drive", "tags",
    "tags-any", "not-tags", "not-tags-any", "description", "display_name", "hostname",
    "created_at", "launched_at", "terminated_at", "access_ip_v4", "access_ip_v6",
    "kernel_id", "ramdisk_id", "progress", "launch_index", "root_device_name",
    "display_description", "pinned_availability_zone", "soft_deleted",
}
SORT_KEYS = ("created_at", "display_name", "updated_at", "uuid", "launched_at", "vm_state",
             "task_state", "host", "node", "hostname")
SORT_DIRS = ("asc", "desc")


def list_query(version):
    """The query parameters of the server listings (from 2.75 no others)."""
    params = {name: {"type": "string"} for name in sorted(_LIST_PARAMS)}
    params.update(limit={"type": "integer", "minimum": 0},
                  sort_key={"type": "string", "enum": list(SORT_KEYS)},
                  sort_dir={"type": "string", "enum": list(SORT_DIRS)},
                  **{"changes-since": {"type": "string", "format": "date-time"},
                     "changes-before": {"type": "string", "format": "date-time"}})
    return params


def _bool(value):
    return str(value).lower() in ("1", "true", "yes", "on", "")


def _list_filters(call, detail):
    ctxt, q = call.ctx, call.req.GET
    query.refuse_unknown(call, _LIST_PARAMS, STRICT_LIST_QUERY)
    filters = {"deleted": False}
    if "all_tenants" in q and _bool(q.get("all_tenants")):
        # every project, or the one asked: an admin's right (403 otherwise)
        call.authorize(f"os_compute_api:servers:{'detail' if detail else 'index'}:"
                       "get_all_tenants")
        project = q.get("project_id") or q.get("tenant_id")
        if project:
            filters["project_id"] = project
    else:  # the caller's project, whatever project_id / tenant_id say (as Nova)
        filters["project_id"] = ctxt.project_id
    if call.allowed("os_compute_api:servers:allow_all_filters"):
        if "host" in q:
            filters["host"] = q["host"]
        if "node" in q:
            filters["node"] = q["node"]
        if "deleted" in q:
            filters["deleted"] = _bool(q["deleted"])
    # As Nova's: the SOFT_DELETED servers (waiting for restore) are listed
    # with deleted=true, not among the live ones, unless an admin's
    # soft_deleted says otherwise.
    filters["soft_deleted"] = filters["deleted"]
    if "soft_deleted" in q and call.allowed("os_compute_api:servers:allow_all_filters"):
        filters["soft_deleted"] = _bool(q["soft_deleted"])
    for key in ("name", "ip"):  # regular expressions: a bad one is a 400 now
        if key in q:
            try:
                regex_filter.compile_filter(q[key], key)
            except exception.Invalid as exc:
                raise APIError(400, exc.message) from None
    if "name" in q:
        filters["name"] = q["name"]
    if "status" in q:
        vm = []
        for status in q.getall("status"):
            vm.extend(states.STATUS_TO_VM_STATES.get(status.upper(), []))
        if not vm:
            if call.version in BAD_STATUS_IS_400:
                raise APIError(400, f"Invalid status value: {q['status']}")
            return None  # nothing can match
        filters["vm_state"] = vm
        if "deleted" in vm:
            filters["deleted"] = None if call.is_admin else False
    if "image" in q:
        filters["image_ref"] = q["image"].rsplit("/", 1)[-1]
    if "flavor" in q:
        filters["flavor_id"] = q["flavor"].rsplit("/", 1)[-1]
    if "ip" in q:
        filters["ip"] = q["ip"]
    for key in ("reservation_id", "availability_zone", "key_name", "user_id"):
        if key in q:
            filters[key] = q[key]
    if "uuid" in q:
        filters["uuid"] = q["uuid"]
    if call.version in TAG_FILTERS:
        for key in ("tags", "tags-any", "not-tags", "not-tags-any"):
            if key in q:
                filters[key] = [t for t in ",".join(q.getall(key)).split(",") if t]
    since = query.timestamp(call, "changes-since")
    before = query.timestamp(call, "changes-before") if call.version in CHANGES_BEFORE \
        else None
    query.time_window(since, before)
    for key, value in (("changes-since", since), ("changes-before", before)):
        if value is not None:
            filters[key] = value
            # A window on updated_at shows the deleted servers too.
            filters["deleted"] = None if filters.get("deleted") is False else \
                filters["deleted"]
    return filters


def _list(call, detail):
    ctxt = call.ctx
    filters = _list_filters(call, detail)
    max_limit = call.services.conf.api.max_limit
    limit = query.integer(call, "limit", 0)
    limit = max_limit if limit is None else min(limit, max_limit)
    marker = call.req.GET.get("marker")
    sort_key = call.req.GET.get("sort_key", "created_at")
    if sort_key not in SORT_KEYS:
        raise APIError(400, f"Invalid input for query parameters sort_key. Value: {sort_key}.")
    sort_dir = call.req.GET.get("sort_dir", "desc")
    if sort_dir not in SORT_DIRS:
        raise APIError(400, f"Invalid input for query parameters sort_dir. Value: {sort_dir}.")
    if filters is None:
        servers = []
    else:
        try:
            servers = call.server_service.list(ctxt, filters, limit=limit, marker=marker,
                                               sort_key=sort_key, sort_dir=sort_dir)
        except exception.Invalid as exc:
            raise APIError(400, exc.message) from None
    if detail:
        # what the caller may see is judged once for the listing (as Nova)
        viewer = _viewer(call)
        up = _hosts_up(call) if viewer.host_status else {}
        body = {"servers": [server_detail(call.req, call.version, viewer, s,
                                          up.get(s.get("host"))) for s in servers]}
    else:
        body = {"servers": [server_brief(call.req, s) for s in servers]}
    if servers and len(servers) == limit:
        qs = dict(call.req.GET)
        qs.update(limit=str(limit), marker=servers[-1]["uuid"])
        path = "servers/detail" if detail else "servers"
        body["servers_links"] = [{"rel": "next",
                                  "href": f"{call.req.application_url}/{path}?{urlencode(qs)}"}]
    return 200, body


def _hosts_up(call):
    return {s["host"]: s["up"] and not s.get("forced_down")
            for s in hosts.services(call.services, binary=hosts.COMPUTE_BINARY)}


@operation("listServers", "List servers", ok={200: keyed("servers")}, query=list_query)
def index(call):
    call.authorize("os_compute_api:servers:index")
    return _list(call, detail=False)


@operation("listServersDetailed", "List servers with details", ok={200: keyed("servers")},
           query=list_query)
def detail(call):
    call.authorize("os_compute_api:servers:detail")
    return _list(call, detail=True)


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
    for net in value:
        if net.get("port"):
            raise APIError(400, "Ports are not supported by this cloud's network backend.")
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
           ok={202: {"anyOf": [keyed("server"), keyed("reservation_id")]}}, errors=(403,),
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
    if networks != "none" and isinstance(networks, list) and max_count > 1 and any(
            n.get("fixed_ip") for n in networks):
        raise APIError(400, "Fixed IPs can only be requested for one server at a time.")
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
    except (exception.Invalid, exception.ComputeHostNotFound) as exc:
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
