"""Network backends: who hands out addresses to instances.

A backend is a plugin in ``compute_core.network_backends`` chosen by
``[DEFAULT] network_backend``; it is constructed as ``Backend(conf, api_db)``.
"""
from __future__ import annotations

import abc
import uuid as uuidlib

from compute_core import exception, plugins


class NetworkBackend(abc.ABC):
    def __init__(self, conf, api_db):
        self.conf = conf
        self.api_db = api_db

    @abc.abstractmethod
    def networks(self) -> list[dict]:
        """[{"id", "name", "cidr"}] the backend offers."""

    @abc.abstractmethod
    def allocate_for_instance(self, instance_uuid: str, requested) -> dict:
        """Addresses for a new instance as ``{network name: [{"addr",
        "version", "OS-EXT-IPS:type", "OS-EXT-IPS-MAC:mac_addr"}]}``.

        *requested* is ``"auto"``, ``"none"`` or a list of
        ``{"uuid", "fixed_ip"}`` entries.
        """

    @abc.abstractmethod
    def deallocate_for_instance(self, instance_uuid: str) -> None:
        """Free what allocate_for_instance took; idempotent."""

    # ---------------------------------------------------- security groups
    def security_group_names(self, project_id: str) -> list[str]:
        """The names of the security groups *project_id* has; this default
        offers only ``default``."""
        return ["default"]

    def get_security_group(self, project_id: str, name_or_id: str) -> dict:
        """The group *name_or_id* of *project_id* as the Compute API shows
        it (``{"id", "name", "description", "tenant_id", "rules"}``);
        SecurityGroupNotFound when the project has none such. Servers name
        their groups in their ``security_groups``; a backend that enforces
        rules reads them there."""
        for name in self.security_group_names(project_id):
            group_id = str(uuidlib.uuid5(uuidlib.NAMESPACE_URL,
                                         f"compute_core:secgroup:{project_id}:{name}"))
            if name_or_id in (name, group_id):
                return {"id": group_id, "name": name, "tenant_id": project_id, "rules": [],
                        "description": "Default security group" if name == "default" else
                        name}
        raise exception.SecurityGroupNotFound(security_group_id=name_or_id)


def load_network_backend(conf, api_db) -> NetworkBackend:
    return plugins.load_plugin(plugins.NETWORK_BACKENDS, conf.network_backend, NetworkBackend,
                               conf, api_db)
