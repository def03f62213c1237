"""The config drive: an ISO 9660 image labelled ``config-2`` with the
OpenStack metadata layout (``openstack/<version>/meta_data.json``,
``user_data``, ``network_data.json``, ``vendor_data.json``), which
cloud-init and friends read when a server asks for ``config_drive``.
Written with pycdlib (pure Python: no genisoimage needed)."""
from __future__ import annotations

import base64
import binascii
import io
import json

from compute_core import exception

LABEL = "config-2"
# The version directories written; "latest" is what readers look at first.
VERSIONS = ("2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30",
            "2017-02-22", "2018-08-27", "latest")


def wanted(instance: dict) -> bool:
    return str(instance.get("config_drive") or "").lower() in ("true", "1", "yes", "on")


def meta_data(instance: dict) -> dict:
    keys = []
    if instance.get("key_data"):
        keys.append({"name": instance.get("key_name") or "key", "type": "ssh",
                     "data": instance["key_data"]})
    return {"uuid": instance["uuid"], "name": instance.get("display_name") or "",
            "hostname": instance.get("hostname") or "",
            "launch_index": instance.get("launch_index") or 0,
            "availability_zone": instance.get("availability_zone") or "",
            "project_id": instance.get("project_id") or "",
            "meta": dict(instance.get("metadata") or {}),
            "public_keys": {k["name"]: k["data"] for k in keys}, "keys": keys,
            "devices": []}


def network_data(network_info: dict) -> dict:
    links, networks = [], []
    for net_name, ports in (network_info or {}).items():
        for i, port in enumerate(ports or []):
            link_id = f"tap{len(links)}"
            links.append({"id": link_id, "type": "phy",
                          "ethernet_mac_address": port.get("OS-EXT-IPS-MAC:mac_addr"),
                          "mtu": 1500})
            networks.append({"id": f"{net_name}-{i}", "link": link_id,
                             "type": "ipv4" if port.get("version", 4) == 4 else "ipv6",
                             "ip_address": port.get("addr"), "network_id": net_name})
    return {"links": links, "networks": networks, "services": []}


def _user_data(instance) -> bytes | None:
    text = instance.get("user_data")
    if not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()  # stored undecoded


def build(path: str, instance: dict, network_info: dict) -> None:
    """Write the config drive of *instance* to *path*."""
    try:
        import pycdlib
    except ImportError:
        raise exception.VirtDriverError(
            reason="a config drive was asked for but pycdlib is not installed "
                   "(pip install compute_core[libvirt])") from None
    files = {"meta_data.json": json.dumps(meta_data(instance)).encode(),
             "network_data.json": json.dumps(network_data(network_info)).encode(),
             "vendor_data.json": b"{}"}
    user_data = _user_data(instance)
    if user_data is not None:
        files["user_data"] = user_data
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=LABEL)
    iso.add_directory("/OPENSTAC", rr_name="openstack", joliet_path="/openstack")
    for n, version in enumerate(VERSIONS):
        short = f"/OPENSTAC/V{n}"
        iso.add_directory(short, rr_name=version, joliet_path=f"/openstack/{version}")
        for m, (name, data) in enumerate(files.items()):
            iso.add_fp(io.BytesIO(data), len(data), f"{short}/F{m}.;1", rr_name=name,
                       joliet_path=f"/openstack/{version}/{name}")
    iso.write(path)
    iso.close()


def read_file(path: str, name: str) -> bytes:
    """A file of a config drive by its Rock Ridge path (tests, debugging)."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(path)
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path=name)
        return out.getvalue()
    finally:
        iso.close()
