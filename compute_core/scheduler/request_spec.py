"""What the scheduler is asked to place: a RequestSpec, carried as a dict
over RPC and stored in the API database."""
from __future__ import annotations

import math


class RequestSpec:
    FIELDS = ("instance_uuid", "project_id", "user_id", "flavor", "image", "num_instances",
              "scheduler_hints", "availability_zone", "ignore_hosts", "force_hosts",
              "force_nodes", "instance_group", "requested_destination", "is_bfv",
              "network_metadata", "retry", "instance_uuids")

    def __init__(self, **values):
        self.instance_uuid = None
        self.project_id = None
        self.user_id = None
        self.flavor = {}
        self.image = {}
        self.num_instances = 1
        self.scheduler_hints = {}
        self.availability_zone = None
        self.ignore_hosts = []
        self.force_hosts = []
        self.force_nodes = []
        self.instance_group = None
        self.requested_destination = None
        self.is_bfv = False
        self.network_metadata = None
        self.retry = None
        self.instance_uuids = []
        for k, v in values.items():
            if k in self.FIELDS:
                setattr(self, k, v)

    @classmethod
    def from_dict(cls, d: dict) -> "RequestSpec":
        return cls(**d)

    def to_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.FIELDS}

    def get_scheduler_hint(self, name, default=None):
        value = (self.scheduler_hints or {}).get(name, default)
        if isinstance(value, list) and len(value) == 1 and name not in (
                "same_host", "different_host"):
            return value[0]
        return value

    @property
    def image_properties(self) -> dict:
        return (self.image or {}).get("properties") or {}

    def resources(self) -> dict:
        """Placement resources a flavor asks for, honouring ``resources:*``
        extra specs (0 drops a standard class)."""
        f = self.flavor
        disk = 0 if self.is_bfv else f.get("root_gb", 0)
        disk += f.get("ephemeral_gb", 0) + int(math.ceil(f.get("swap", 0) / 1024.0))
        res = {"VCPU": f["vcpus"], "MEMORY_MB": f["memory_mb"], "DISK_GB": disk}
        for key, value in (f.get("extra_specs") or {}).items():
            if key.startswith("resources:"):
                try:
                    res[key.split(":", 1)[1]] = int(value)
                except ValueError:
                    continue
        return {k: v for k, v in res.items() if v}

    def is_rebuild(self) -> bool:
        """A rebuild's check of the server's own host for a new image
        (Nova's ``_nova_check_type`` hint), not a placement."""
        check = (self.scheduler_hints or {}).get("_nova_check_type")
        return check == ["rebuild"] or check == "rebuild"

    def destination(self) -> dict:
        """The host (and node) the request asked for, if any: ``{"host",
        "node", "node_uuid"}`` from ``requested_destination`` (the server's
        ``host``/``hypervisor_hostname`` at 2.74, migrate's ``host`` at
        2.56); filters still judge it."""
        dest = self.requested_destination or {}
        return {k: dest.get(k) for k in ("host", "node", "node_uuid") if dest.get(k)}

    def required_traits(self) -> list[str]:
        out = []
        for source in ((self.flavor or {}).get("extra_specs") or {}, self.image_properties):
            for key, value in source.items():
                if key.startswith("trait:"):
                    if value == "required":
                        out.append(key.split(":", 1)[1])
                    elif value == "forbidden":
                        out.append("!" + key.split(":", 1)[1])
        return sorted(set(out))
