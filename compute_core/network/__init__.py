"""Network backends: who hands out addresses to instances.

A backend is a plugin in ``compute_core.network_backends`` chosen by
``[DEFAULT] network_backend``; it is constructed as ``Backend(conf, api_db)``.
"""
from __future__ import annotations

import abc

from compute_core import plugins


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


def load_network_backend(conf, api_db) -> NetworkBackend:
    return plugins.load_plugin(plugins.NETWORK_BACKENDS, conf.network_backend, NetworkBackend,
                               conf, api_db)
