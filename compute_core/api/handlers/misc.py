"""Versions, os-services, os-hypervisors, limits and the images proxy."""
from __future__ import annotations

import json

from compute_core import exception
from compute_core.api import microversion, views
from compute_core.api.faults import APIError
from compute_core.apispec import keyed, operation

V21 = {"id": "v2.1", "status": "CURRENT", "version": microversion.MAX_VERSION,
       "min_version": microversion.MIN_VERSION, "updated": "2013-07-23T11:33:21Z"}


def _version_doc(req, base):
    return dict(V21, links=[{"rel": "self", "href": base.rstrip("/") + "/"},
                            {"rel": "describedby", "type": "text/html",
                             "href": "https://docs.openstack.org/"}],
                **{"media-types": [{"base": "application/json",
                                    "type": "application/vnd.openstack.compute+json;version=2.1"}]})


def versions_root(call):
    base = call.req.host_url + call.req.script_name
    doc = _version_doc(call.req, base.rstrip("/") + "/v2.1")
    doc.pop("media-types")
    return 300 if call.req.path_info.strip("/") else 200, {"versions": [doc]}


@operation("showVersion", "The v2.1 version document (no authentication)",
           ok={200: keyed("version")}, public=True)
def version_v21(call):
    return 200, {"version": _version_doc(call.req, call.req.application_url)}


# ---------------------------------------------------------------- services

@operation("listServices", "List compute services", ok={200: keyed("services")},
           errors=(403,), admin=True,
           query={"host": {"type": "string"}, "binary": {"type": "string"}})
def services(call):
    call.require_admin("os_compute_api:os-services:list")
    q = call.req.GET
    out = []
    binary = q.get("binary")
    binary = _OUR_BINARY.get(binary, binary)  # ?binary=nova-compute as clients ask
    for svc in call.compute.services(host=q.get("host"), binary=binary):
        is_compute = svc["binary"] == "compute-compute"
        item = {
            "id": svc["uuid"] if call.version.at_least("2.53") else svc["id"],
            "binary": _nova_binary(svc["binary"]), "host": svc["host"],
            "zone": call.services.conf.default_availability_zone if is_compute else "internal",
            "status": "disabled" if svc["disabled"] else "enabled",
            "state": "up" if svc["up"] else "down",
            "updated_at": views.iso_usec(svc.get("updated_at") or svc.get("created_at")),
            "disabled_reason": svc.get("disabled_reason"),
        }
        if call.version.at_least("2.11"):
            item["forced_down"] = bool(svc.get("forced_down"))
        out.append(item)
    return 200, {"services": out}


_NOVA_BINARY = {"compute-compute": "nova-compute", "compute-conductor": "nova-conductor",
                "compute-scheduler": "nova-scheduler"}
_OUR_BINARY = {nova: ours for ours, nova in _NOVA_BINARY.items()}


def _nova_binary(binary):
    # Clients (and operators' scripts) know Nova's binary names.
    return _NOVA_BINARY.get(binary, binary)


# ------------------------------------------------------------- hypervisors

def _hypervisor(call, node, detail):
    v = call.version
    svc = node.get("service") or {}
    up = bool(svc) and call.compute.services(host=node["host"],
                                             binary="compute-compute")[0]["up"] if svc else False
    out = {"id": node["uuid"] if v.at_least("2.53") else node["id"],
           "hypervisor_hostname": node["hypervisor_hostname"],
           "state": "up" if up else "down",
           "status": "disabled" if svc.get("disabled") else "enabled"}
    if not detail:
        return out
    out.update({"host_ip": node.get("host_ip"), "hypervisor_type": node["hypervisor_type"],
                "hypervisor_version": node["hypervisor_version"],
                "service": {"host": node["host"],
                            "id": svc.get("uuid") if v.at_least("2.53") else svc.get("id"),
                            "disabled_reason": svc.get("disabled_reason")}})
    if not v.at_least("2.88"):
        cpu_info = node.get("cpu_info") or "{}"
        if v.at_least("2.28"):
            try:
                cpu_info = json.loads(cpu_info)
            except ValueError:
                cpu_info = {}
        free_ram = node["memory_mb"] - node["memory_mb_used"]
        free_disk = node["local_gb"] - node["local_gb_used"]
        out.update({"vcpus": node["vcpus"], "vcpus_used": node["vcpus_used"],
                    "memory_mb": node["memory_mb"], "memory_mb_used": node["memory_mb_used"],
                    "local_gb": node["local_gb"], "local_gb_used": node["local_gb_used"],
                    "free_ram_mb": free_ram, "free_disk_gb": free_disk,
                    "current_workload": node.get("current_workload") or 0,
                    "running_vms": node.get("running_vms") or 0,
                    "disk_available_least": free_disk, "cpu_info": cpu_info})
    else:
        out["uptime"] = None
    return out


HYPERVISOR_QUERY = {"hypervisor_hostname_pattern": {"type": "string"}}


def _nodes(call):
    nodes = call.compute.compute_nodes()
    pattern = call.req.GET.get("hypervisor_hostname_pattern")
    if pattern:
        nodes = [n for n in nodes if pattern in n["hypervisor_hostname"]]
        if not nodes:
            raise APIError(404, f"No hypervisor matching '{pattern}' could be found.")
    return nodes


@operation("listHypervisors", "List hypervisors", ok={200: keyed("hypervisors")},
           errors=(403, 404), admin=True, query=HYPERVISOR_QUERY)
def hypervisors(call):
    call.require_admin("os_compute_api:os-hypervisors:list")
    return 200, {"hypervisors": [_hypervisor(call, n, False) for n in _nodes(call)]}


@operation("listHypervisorsDetailed", "List hypervisors with details",
           ok={200: keyed("hypervisors")}, errors=(403, 404), admin=True, query=HYPERVISOR_QUERY)
def hypervisors_detail(call):
    call.require_admin("os_compute_api:os-hypervisors:list-detail")
    return 200, {"hypervisors": [_hypervisor(call, n, True) for n in _nodes(call)]}


@operation("showHypervisor", "Show a hypervisor", ok={200: keyed("hypervisor")},
           errors=(403, 404), admin=True)
def hypervisor_show(call, hypervisor_id):
    call.require_admin("os_compute_api:os-hypervisors:show")
    for node in call.compute.compute_nodes():
        if str(node["id"]) == hypervisor_id or node["uuid"] == hypervisor_id:
            return 200, {"hypervisor": _hypervisor(call, node, True)}
    if call.version.at_least("2.53"):
        try:
            import uuid

            uuid.UUID(hypervisor_id)
        except ValueError:
            raise APIError(400, f"Invalid uuid {hypervisor_id}") from None
    raise APIError(404, f"Hypervisor {hypervisor_id} could not be found.")


# ------------------------------------------------------------------ limits

@operation("showLimits", "Show the project's limits and usage", ok={200: keyed("limits")},
           query={"tenant_id": {"type": "string"}})
def limits(call):
    project = call.ctx.project_id
    if "tenant_id" in call.req.GET and call.ctx.is_admin:
        project = call.req.GET["tenant_id"]
    lim = call.compute.quota_limits(project)
    used = call.compute.quota_usage(project)
    absolute = {
        "maxServerMeta": lim["metadata_items"], "maxTotalKeypairs": lim["key_pairs"],
        "maxServerGroups": lim["server_groups"],
        "maxServerGroupMembers": lim["server_group_members"],
        "maxTotalCores": lim["cores"], "maxTotalInstances": lim["instances"],
        "maxTotalRAMSize": lim["ram"], "totalCoresUsed": used["cores"],
        "totalInstancesUsed": used["instances"], "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": 0,
    }
    if not call.version.at_least("2.57"):
        absolute.update(maxPersonality=lim["injected_files"],
                        maxPersonalitySize=lim["injected_file_content_bytes"])
    if not call.version.at_least("2.39"):
        absolute["maxImageMeta"] = lim["metadata_items"]
    if not call.version.at_least("2.36"):
        absolute.update(maxSecurityGroups=10, maxSecurityGroupRules=20, maxTotalFloatingIps=10,
                        totalFloatingIpsUsed=0, totalSecurityGroupsUsed=1)
    return 200, {"limits": {"rate": [], "absolute": absolute}}


# ------------------------------------------------------------------ images

IMAGES_UNTIL = "2.35"  # the images proxy is removed after it
IMAGE_QUERY = {"name": {"type": "string"}, "status": {"type": "string"},
               "marker": {"type": "string"}, "limit": {"type": "integer"}}


def _images_allowed(call):
    if call.version > IMAGES_UNTIL:
        raise APIError(404, "The images proxy API is removed after microversion 2.35; use "
                            "the Image service.")


@operation("listImages", "List images (proxy)", ok={200: keyed("images")},
           max_version=IMAGES_UNTIL, query=IMAGE_QUERY)
def images(call):
    _images_allowed(call)
    return 200, {"images": [views.image_view(call.req, i, False) for i in _filtered(call)]}


@operation("listImagesDetailed", "List images with details (proxy)",
           ok={200: keyed("images")}, max_version=IMAGES_UNTIL, query=IMAGE_QUERY)
def images_detail(call):
    _images_allowed(call)
    return 200, {"images": [views.image_view(call.req, i, True) for i in _filtered(call)]}


def _filtered(call):
    q = call.req.GET
    out = call.services.images.list()
    if "name" in q:
        out = [i for i in out if i["name"] == q["name"]]
    if "status" in q:
        out = [i for i in out if views.image_view(call.req, i)["status"] == q["status"].upper()]
    if "marker" in q:
        idx = next((n for n, i in enumerate(out) if i["id"] == q["marker"]), None)
        if idx is None:
            raise APIError(400, f"marker [{q['marker']}] not found")
        out = out[idx + 1:]
    if "limit" in q:
        try:
            out = out[:int(q["limit"])]
        except ValueError:
            raise APIError(400, f"Invalid limit {q['limit']}") from None
    return out


@operation("showImage", "Show an image (proxy)", ok={200: keyed("image")}, errors=(404,),
           max_version=IMAGES_UNTIL)
def image_show(call, image_id):
    _images_allowed(call)
    try:
        image = call.services.images.get(image_id)
    except exception.ImageNotFound:
        raise APIError(404, f"Image {image_id} could not be found.") from None
    return 200, {"image": views.image_view(call.req, image)}
