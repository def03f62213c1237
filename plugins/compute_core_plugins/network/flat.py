"""A flat network: fixed IPs from one configured CIDR, recorded in the API
database so that every service agrees on who has which address."""
from __future__ import annotations

import uuid

import netaddr

from compute_core import exception
from compute_core.db import api_db
from compute_core.network import NetworkBackend, address_entry, check_port_usable


class FlatNetworkBackend(NetworkBackend):
    def __init__(self, conf, db):
        super().__init__(conf, db)
        self.name = conf.flat_network.network_name
        self.cidr = netaddr.IPNetwork(conf.flat_network.cidr)
        self.id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"compute_core:flat:{self.name}"))
        # The network's one subnet (the CIDR), as ports name it.
        self.subnet_id = str(uuid.uuid5(uuid.NAMESPACE_URL,
                                        f"compute_core:flat:{self.name}:subnet"))

    def networks(self):
        return [{"id": self.id, "name": self.name, "cidr": str(self.cidr)}]

    def _candidates(self):
        # Skip the network address, the gateway (.1) and the broadcast.
        for i, ip in enumerate(self.cidr.iter_hosts()):
            if i == 0:
                continue
            yield str(ip)

    def allocate_for_instance(self, instance_uuid, requested, *, project_id):
        if requested == "none" or requested == []:
            return {}
        if not isinstance(requested, list):
            requested = [{}]
        nics = []
        try:
            for index, asked in enumerate(requested):
                nics.append(self._nic(instance_uuid, project_id, asked, index))
        except Exception:
            # The ports a user brought go back free, the others go.
            self.deallocate_for_instance(instance_uuid)
            raise
        return {self.name: nics}

    def _nic(self, instance_uuid, project_id, asked, index):
        """The network_info entry of the *index*-th NIC asked for at boot:
        the free port ``asked["port"]``, bound as it is, or a new port of
        *project_id* on the network ``asked["uuid"]`` (at
        ``asked["fixed_ip"]``)."""
        if asked.get("port"):
            port = self.allocate_port(instance_uuid, port_id=asked["port"],
                                      tag=asked.get("tag"), project_id=project_id)
            return address_entry(port)[1]
        if asked.get("uuid") not in (None, self.id):
            raise exception.Invalid(f"Network {asked.get('uuid')} could not be found.")
        if index:
            port = self._new_port(instance_uuid, None, asked.get("fixed_ip"), asked.get("tag"),
                                  project_id=project_id)
            return address_entry(port)[1]
        # The first NIC's MAC comes from the instance, as before ports had ids.
        mac = "fa:16:3e:%02x:%02x:%02x" % tuple(uuid.UUID(instance_uuid).bytes[:3])
        addr = self._take(instance_uuid, asked.get("fixed_ip"), mac, tag=asked.get("tag"),
                          project_id=project_id)
        return {"addr": addr, "version": self.cidr.version, "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": mac}

    def _take(self, instance_uuid, wanted_ip, mac, **port):
        """An address for *instance_uuid* (None: a free port): *wanted_ip*,
        or the next free one; recorded with the *port* columns."""
        if wanted_ip:
            if netaddr.IPAddress(wanted_ip) not in self.cidr:
                raise exception.Invalid(f"Fixed IP {wanted_ip} is not in network {self.cidr}.")
            addr = api_db.allocate_fixed_ip(self.api_db, self.name, instance_uuid,
                                            [wanted_ip], mac, **port)
            if addr is None:
                raise exception.FixedIpAlreadyInUse(address=wanted_ip, network=self.name)
        else:
            addr = api_db.allocate_fixed_ip(self.api_db, self.name, instance_uuid,
                                            self._candidates(), mac, **port)
            if addr is None:
                raise exception.NoMoreFixedIps(net=self.name)
        return addr

    def deallocate_for_instance(self, instance_uuid):
        api_db.release_fixed_ips(self.api_db, instance_uuid)

    # -------------------------------------------------------------- ports
    def _port(self, row):
        return {"id": row["port_id"], "network_id": self.id, "network_name": self.name,
                "mac_address": row["mac"],
                "fixed_ips": [{"subnet_id": self.subnet_id, "ip_address": row["address"]}],
                "status": "ACTIVE" if row["instance_uuid"] else "DOWN",
                "device_id": row["instance_uuid"], "tag": row["tag"],
                "project_id": row["project_id"], "tenant_id": row["project_id"]}

    def _check_network(self, network_id):
        if network_id not in (None, self.id):
            raise exception.NetworkNotFound(network_id=network_id)

    def ports(self, instance_uuid):
        return [self._port(row) for row in api_db.fixed_ips_of(self.api_db, instance_uuid)
                if row["network"] == self.name]

    def get_port(self, port_id):
        row = api_db.get_port(self.api_db, port_id)
        if row is None or row["network"] != self.name:
            raise exception.PortNotFound(port_id=port_id)
        return self._port(row)

    def _new_port(self, instance_uuid, network_id, fixed_ip, tag=None, preserve=False, *,
                  project_id):
        self._check_network(network_id)
        port_id = str(uuid.uuid4())
        mac = "fa:16:3e:%02x:%02x:%02x" % tuple(uuid.UUID(port_id).bytes[:3])
        self._take(instance_uuid, fixed_ip, mac, port_id=port_id, tag=tag,
                   preserve_on_delete=preserve, project_id=project_id)
        return self.get_port(port_id)

    def create_port(self, network_id=None, fixed_ip=None, *, project_id):
        return self._new_port(None, network_id, fixed_ip, preserve=True, project_id=project_id)

    def allocate_port(self, instance_uuid, network_id=None, fixed_ip=None, port_id=None,
                      tag=None, *, project_id):
        if port_id is None:
            return self._new_port(instance_uuid, network_id, fixed_ip, tag,
                                  project_id=project_id)
        port = self.get_port(port_id)
        check_port_usable(port, project_id, instance_uuid)
        if port["device_id"] is not None or \
                not api_db.bind_port(self.api_db, port_id, instance_uuid, tag):
            raise exception.PortInUse(port_id=port_id)
        return self.get_port(port_id)

    def deallocate_port(self, instance_uuid, port_id):
        if not api_db.release_port(self.api_db, port_id, instance_uuid):
            raise exception.PortNotFound(port_id=port_id)

    def security_group_names(self, project_id):
        names = list(self.conf.flat_network.security_groups or [])
        return names if "default" in names else ["default", *names]
