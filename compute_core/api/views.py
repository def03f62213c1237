"""How resources look in Compute API responses, per microversion."""
from __future__ import annotations

import datetime
import hashlib
import math

from compute_core.compute import states


def iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value.isoformat(timespec="seconds") + "Z"


def iso_usec(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value.isoformat()


def _link_bases(req) -> tuple[str, str]:
    """(base, bookmark base) of the links in a response, worked out once
    per request (a listing makes three links per server)."""
    bases = req.environ.get("compute_core.link_bases")
    if bases is None:
        base = req.application_url
        prefix = req.script_name.rstrip("/")
        project_base = base.rsplit(prefix, 1)[0] if prefix and base.endswith(prefix) else base
        bases = req.environ["compute_core.link_bases"] = (base, project_base)
    return bases


def links(req, collection, ident):
    base, project_base = _link_bases(req)
    return [{"rel": "self", "href": f"{base}/{collection}/{ident}"},
            {"rel": "bookmark", "href": f"{project_base}/{collection}/{ident}"}]


def host_id(project_id, host) -> str:
    if not host:
        return ""
    return hashlib.sha224(f"{project_id}{host}".encode()).hexdigest()


def server_brief(req, inst):
    return {"id": inst["uuid"], "name": inst.get("display_name") or "",
            "links": links(req, "servers", inst["uuid"])}


def flavor_in_server(req, version, flavor):
    if not version.at_least("2.47"):
        return {"id": flavor.get("flavorid"), "links": links(req, "flavors", flavor.get("flavorid"))}
    out = {"vcpus": flavor["vcpus"], "ram": flavor["memory_mb"], "disk": flavor["root_gb"],
           "ephemeral": flavor.get("ephemeral_gb", 0), "swap": flavor.get("swap", 0),
           "original_name": flavor["name"]}
    out["extra_specs"] = dict(flavor.get("extra_specs") or {})
    return out


def server_detail(req, version, ctxt, inst, host_up=None):
    uuid = inst["uuid"]
    vm_state, task_state = inst.get("vm_state"), inst.get("task_state")
    status = states.status_from_state(vm_state, task_state)
    sysmeta = inst.get("system_metadata") or {}
    if inst.get("image_ref"):
        image = {"id": inst["image_ref"], "links": links(req, "images", inst["image_ref"])}
        if version.at_least("2.98"):
            image["properties"] = dict(sysmeta.get("image_properties") or {})
    else:
        image = ""
    out = {
        "id": uuid, "name": inst.get("display_name") or "", "status": status,
        "tenant_id": inst.get("project_id"), "user_id": inst.get("user_id"),
        "metadata": inst.get("metadata") or {},
        "hostId": host_id(inst.get("project_id"), inst.get("host")),
        "image": image, "flavor": flavor_in_server(req, version, inst.get("flavor") or {}),
        "created": iso(inst.get("created_at")),
        "updated": iso(inst.get("updated_at") or inst.get("created_at")),
        "addresses": inst.get("network_info") or {},
        "accessIPv4": inst.get("access_ip_v4") or "", "accessIPv6": inst.get("access_ip_v6") or "",
        "links": links(req, "servers", uuid), "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": inst.get("availability_zone") or (
            "" if not inst.get("host") else req.environ.get("compute_core.default_az", "nova")),
        "config_drive": inst.get("config_drive") or "",
        "key_name": inst.get("key_name"),
        "OS-SRV-USG:launched_at": iso_usec(inst.get("launched_at")),
        "OS-SRV-USG:terminated_at": iso_usec(inst.get("terminated_at")),
        "security_groups": [{"name": n} for n in (inst.get("security_groups") or ["default"])],
        "OS-EXT-STS:task_state": task_state, "OS-EXT-STS:vm_state": vm_state,
        "OS-EXT-STS:power_state": inst.get("power_state") or 0,
        "os-extended-volumes:volumes_attached": [],
    }
    if status in ("BUILD", "ACTIVE"):
        out["progress"] = inst.get("progress") or 0
    fault = inst.get("fault")
    if fault and vm_state in (states.ERROR, states.DELETED):
        f = {"code": fault["code"], "created": iso(fault["created_at"]),
             "message": fault["message"]}
        if ctxt.is_admin or fault["code"] != 500:
            f["details"] = fault.get("details") or ""
        out["fault"] = f
    if ctxt.is_admin:
        out["OS-EXT-SRV-ATTR:host"] = inst.get("host")
        out["OS-EXT-SRV-ATTR:hypervisor_hostname"] = inst.get("node")
        out["OS-EXT-SRV-ATTR:instance_name"] = "instance-%08x" % (inst.get("id") or 0)
        if version.at_least("2.3"):
            out.update({
                "OS-EXT-SRV-ATTR:reservation_id": inst.get("reservation_id"),
                "OS-EXT-SRV-ATTR:launch_index": inst.get("launch_index") or 0,
                "OS-EXT-SRV-ATTR:kernel_id": "", "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:hostname": inst.get("hostname"),
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                "OS-EXT-SRV-ATTR:user_data": inst.get("user_data"),
            })
    if version.at_least("2.90"):
        out["OS-EXT-SRV-ATTR:hostname"] = inst.get("hostname")
    if version.at_least("2.9"):
        out["locked"] = bool(inst.get("locked"))
    if version.at_least("2.16") and ctxt.is_admin:
        if not inst.get("host"):
            out["host_status"] = ""
        else:
            out["host_status"] = "UP" if host_up in (None, True) else "DOWN"
    if version.at_least("2.19"):
        out["description"] = inst.get("display_description")
    if version.at_least("2.26"):
        out["tags"] = list(inst.get("tags") or [])
    if version.at_least("2.63"):
        out["trusted_image_certificates"] = None
    if version.at_least("2.73"):
        out["locked_reason"] = sysmeta.get("locked_reason") if inst.get("locked") else None
    if version.at_least("2.96"):
        out["pinned_availability_zone"] = inst.get("availability_zone")
    if version.at_least("2.100"):
        out["scheduler_hints"] = dict(sysmeta.get("scheduler_hints") or {})
    return out


def flavor_view(req, version, flavor, detail=True):
    out = {"id": flavor["flavorid"], "name": flavor["name"],
           "links": links(req, "flavors", flavor["flavorid"])}
    if version.at_least("2.55"):
        out["description"] = flavor.get("description")
    if not detail:
        return out
    out.update({
        "ram": flavor["memory_mb"], "disk": flavor["root_gb"], "vcpus": flavor["vcpus"],
        "OS-FLV-EXT-DATA:ephemeral": flavor["ephemeral_gb"],
        "OS-FLV-DISABLED:disabled": bool(flavor.get("disabled")),
        "os-flavor-access:is_public": bool(flavor["is_public"]),
        "swap": flavor["swap"] if (flavor["swap"] or version.at_least("2.75")) else "",
        "rxtx_factor": _finite(flavor.get("rxtx_factor", 1.0), 1.0),
    })
    if version.at_least("2.61"):
        out["extra_specs"] = dict(flavor.get("extra_specs") or {})
    return out


def image_view(req, image, detail=True):
    out = {"id": image["id"], "name": image["name"], "links": links(req, "images", image["id"])}
    if not detail:
        return out
    status = {"active": "ACTIVE", "queued": "SAVING", "saving": "SAVING",
              "deleted": "DELETED", "killed": "ERROR"}.get(image["status"], "UNKNOWN")
    out.update({
        "status": status, "progress": 100 if status == "ACTIVE" else 25,
        "minDisk": image["min_disk"] or 0, "minRam": image["min_ram"] or 0,
        "metadata": {k: str(v) for k, v in (image.get("properties") or {}).items()},
        "created": iso(image["created_at"]), "updated": iso(image["updated_at"]),
        "OS-EXT-IMG-SIZE:size": image.get("size") or 0,
    })
    return out


def _finite(value, default):
    """*value*, or *default* for the NaN / Infinity a flavor created before
    they were refused may hold (JSON has no token for them)."""
    return value if value is None or math.isfinite(value) else default
