"""The views of a server in the Compute API (brief and detailed, by
microversion and by what policy lets the caller see), for /servers and the
resources that answer with a server (rebuild, unshelve ...)."""
from __future__ import annotations

import ipaddress
import typing

from compute_core.api import hosts, views
from compute_core.api.microversion import ByVersion, VersionRange
from compute_core.compute import states

HOST_STATUS = VersionRange("2.16")  # host_status, to those policy lets see it


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


class DetailView:
    """The detailed view of servers for one request: what depends only on
    the request (the links' bases, the fields of the microversion, what the
    viewer may see, the zone and hostId of each host) is worked out once,
    and a listing calls it for each server: ``view(inst, host_up)``."""

    def __init__(self, req, version, viewer: Viewer):
        self.req, self.version, self.viewer = req, version, viewer
        self.bases = views.link_bases(req)
        self.flavor = FLAVOR_IN_SERVER.at(version)
        self.image_fields = IMAGE_FIELDS.at(version)
        self.detail_fields = DETAIL_FIELDS.at(version)
        self.extended_fields = EXTENDED_FIELDS.at(version) \
            if viewer.extended_attributes else ()
        self._zones: dict = {}
        self._host_ids: dict = {}

    def _zone(self, host):
        zone = self._zones.get(host)
        if zone is None:
            zone = self._zones[host] = _zone_of_host(self.req, host)
        return zone

    def _host_id(self, project_id, host):
        key = (project_id, host)
        hid = self._host_ids.get(key)
        if hid is None:
            hid = self._host_ids[key] = views.host_id(project_id, host)
        return hid

    def __call__(self, inst, host_up=None) -> dict:
        get = inst.get
        uuid = inst["uuid"]
        vm_state, task_state = get("vm_state"), get("task_state")
        status = states.status_from_state(vm_state, task_state)
        image_ref, host = get("image_ref"), get("host")
        if image_ref:
            image = {"id": image_ref, "links": views.links_at(self.bases, "images", image_ref)}
            if self.image_fields:
                sysmeta = get("system_metadata") or {}
                for name, getter in self.image_fields:
                    image[name] = getter(sysmeta)
        else:
            image = ""
        created = get("created_at")
        groups = views.security_group_names(inst)
        out = {
            "id": uuid, "name": get("display_name") or "", "status": status,
            "tenant_id": get("project_id"), "user_id": get("user_id"),
            "metadata": get("metadata") or {},
            "hostId": self._host_id(get("project_id"), host),
            "image": image, "flavor": self.flavor(self.req, get("flavor") or {}),
            "created": views.iso(created),
            "updated": views.iso(get("updated_at") or created),
            "addresses": get("network_info") or {},
            "accessIPv4": get("access_ip_v4") or "",
            "accessIPv6": canonical_ip(get("access_ip_v6")) or "",
            "links": views.links_at(self.bases, "servers", uuid), "OS-DCF:diskConfig": "MANUAL",
            "OS-EXT-AZ:availability_zone": get("availability_zone") or (
                self._zone(host) if host else ""),
            "config_drive": get("config_drive") or "",
            "key_name": get("key_name"),
            "OS-SRV-USG:launched_at": views.iso_usec(get("launched_at")),
            "OS-SRV-USG:terminated_at": views.iso_usec(get("terminated_at")),
            "security_groups": [{"name": n} for n in groups],
            "OS-EXT-STS:task_state": task_state, "OS-EXT-STS:vm_state": vm_state,
            "OS-EXT-STS:power_state": get("power_state") or 0,
            "os-extended-volumes:volumes_attached": [],
        }
        if not groups:  # as Nova's: no key when the server has none
            del out["security_groups"]
        if status in ("BUILD", "ACTIVE"):
            out["progress"] = get("progress") or 0
        fault = get("fault")
        if fault and vm_state in (states.ERROR, states.DELETED):
            f = {"code": fault["code"], "created": views.iso(fault["created_at"]),
                 "message": fault["message"]}
            if self.viewer.fault_details or fault["code"] != 500:
                f["details"] = fault.get("details") or ""
            out["fault"] = f
        for name, getter in self.extended_fields:
            out[name] = getter(inst)
        if self.viewer.host_status:
            out["host_status"] = _host_status(inst, host_up)
        for name, getter in self.detail_fields:
            out[name] = getter(inst)
        return out


def server_detail(req, version, viewer: Viewer, inst, host_up=None):
    """The detailed view of one server (a listing makes a DetailView once)."""
    return DetailView(req, version, viewer)(inst, host_up)


def _hosts_up(call):
    return {s["host"]: s["up"] and not s.get("forced_down")
            for s in hosts.services(call.services, binary=hosts.COMPUTE_BINARY)}
