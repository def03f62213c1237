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
    def allocate_for_instance(self, instance_uuid: str, requested, *, project_id: str) -> dict:
        """Addresses for a new instance of the project *project_id* as
        ``{network name: [{"addr", "version", "OS-EXT-IPS:type",
        "OS-EXT-IPS-MAC:mac_addr"}]}``.

        *requested* is ``"auto"``, ``"none"`` or a list of entries, one
        NIC each, in the guest's order: ``{"uuid", "fixed_ip", "tag"}`` (a
        new port on that network, owned by *project_id*) or ``{"port",
        "tag"}`` (the free port the user made ahead: bound to the instance,
        and left free again, not deleted, by deallocate_for_instance;
        PortNotUsable when it is another project's; the API asks for ports
        only of a backend whose get_port works, after checking the port is
        free and usable). On a failure nothing stays taken.

        It is called once per build, for an instance that holds nothing: a
        build run again after an interruption (its conductor stopped
        midway) is released first with deallocate_for_instance by whoever
        runs it again, so the common boot pays for no release.
        """

    @abc.abstractmethod
    def deallocate_for_instance(self, instance_uuid: str) -> None:
        """Free what allocate_for_instance took; idempotent."""

    # -------------------------------------------------------------- ports
    # A port is one address of one instance on one network (what
    # os-interface lists, attaches and detaches), as a dict: ``{"id",
    # "network_id", "network_name", "mac_address", "fixed_ips":
    # [{"subnet_id", "ip_address"}], "status" (ACTIVE bound, DOWN free),
    # "device_id" (the instance, or None), "tag", "project_id" and
    # "tenant_id" (both the owning project, as Neutron shows a port; None:
    # any project's)}``; see check_port_usable. These defaults refuse
    # (PortsNotSupported, a 501): a backend that hands out addresses only
    # with allocate_for_instance still works for everything else.
    def ports(self, instance_uuid: str) -> list[dict]:
        """The ports bound to *instance_uuid*, oldest first."""
        raise exception.PortsNotSupported(backend=type(self).__name__)

    def get_port(self, port_id: str) -> dict:
        """The port *port_id*; PortNotFound."""
        raise exception.PortsNotSupported(backend=type(self).__name__)

    def create_port(self, network_id: str | None = None, fixed_ip: str | None = None, *,
                    project_id: str) -> dict:
        """A free port (bound to nothing) of the project *project_id* on
        *network_id* (None: the only network), which a server of that
        project may then attach by its id; it outlives the servers it is
        attached to."""
        raise exception.PortsNotSupported(backend=type(self).__name__)

    def allocate_port(self, instance_uuid: str, network_id: str | None = None,
                      fixed_ip: str | None = None, port_id: str | None = None,
                      tag: str | None = None, *, project_id: str) -> dict:
        """Bind one more port to *instance_uuid*, an instance of the project
        *project_id*: the free port *port_id* (PortNotFound, PortNotUsable,
        PortInUse), or a new one of *project_id* on *network_id* (None: the
        only network; NetworkNotFound) with *fixed_ip* when given
        (FixedIpAlreadyInUse, Invalid when outside the network) or the next
        free address (NoMoreFixedIps). Returns the port."""
        raise exception.PortsNotSupported(backend=type(self).__name__)

    def deallocate_port(self, instance_uuid: str, port_id: str) -> None:
        """Unbind the port *port_id* from *instance_uuid* and free its
        address (a port made by create_port stays, free); PortNotFound
        when the instance has no such port."""
        raise exception.PortsNotSupported(backend=type(self).__name__)

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


def check_port_usable(port: dict, project_id: str, instance_uuid: str) -> None:
    """Raise PortNotUsable unless *port* may be bound to the instance
    *instance_uuid* of *project_id*: the port is that project's, or no
    project's (a port that was free when ports got owners)."""
    if port.get("project_id") not in (None, project_id):
        raise exception.PortNotUsable(port_id=port["id"], instance=instance_uuid)


def address_entry(port: dict) -> tuple[str, dict]:
    """(network name, entry) of *port* in an instance's ``network_info``
    (the shape of ``addresses``)."""
    ip = port["fixed_ips"][0]["ip_address"]
    return port["network_name"], {
        "addr": ip, "version": 6 if ":" in ip else 4, "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]}
