"""A flat network: fixed IPs from one configured CIDR, recorded in the API
database so that every service agrees on who has which address."""
from __future__ import annotations

import uuid

import netaddr

from compute_core import exception
from compute_core.db import api_db
from compute_core.network import NetworkBackend


class FlatNetworkBackend(NetworkBackend):
    def __init__(self, conf, db):
        super().__init__(conf, db)
        self.name = conf.flat_network.network_name
        self.cidr = netaddr.IPNetwork(conf.flat_network.cidr)
        self.id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"compute_core:flat:{self.name}"))

    def networks(self):
        return [{"id": self.id, "name": self.name, "cidr": str(self.cidr)}]

    def _candidates(self):
        # Skip the network address, the gateway (.1) and the broadcast.
        for i, ip in enumerate(self.cidr.iter_hosts()):
            if i == 0:
                continue
            yield str(ip)

    def allocate_for_instance(self, instance_uuid, requested):
        if requested == "none":
            return {}
        wanted_ip = None
        if isinstance(requested, list):
            if not requested:
                return {}
            for net in requested:
                if net.get("uuid") not in (None, self.id):
                    raise exception.Invalid(f"Network {net.get('uuid')} could not be found.")
                wanted_ip = net.get("fixed_ip") or wanted_ip
        mac = "fa:16:3e:%02x:%02x:%02x" % tuple(uuid.UUID(instance_uuid).bytes[:3])
        if wanted_ip:
            if netaddr.IPAddress(wanted_ip) not in self.cidr:
                raise exception.Invalid(f"Fixed IP {wanted_ip} is not in network {self.cidr}.")
            addr = api_db.allocate_fixed_ip(self.api_db, self.name, instance_uuid,
                                            [wanted_ip], mac)
            if addr is None:
                raise exception.Conflict(f"Fixed IP address {wanted_ip} is already in use "
                                         f"on instance.")
        else:
            addr = api_db.allocate_fixed_ip(self.api_db, self.name, instance_uuid,
                                            self._candidates(), mac)
            if addr is None:
                raise exception.NoMoreFixedIps(net=self.name)
        return {self.name: [{"addr": addr, "version": self.cidr.version,
                             "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac}]}

    def deallocate_for_instance(self, instance_uuid):
        api_db.release_fixed_ips(self.api_db, instance_uuid)

    def security_group_names(self, project_id):
        names = list(self.conf.flat_network.security_groups or [])
        return names if "default" in names else ["default", *names]
