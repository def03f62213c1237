"""PciPassthroughFilter: the host has free PCI devices for the flavor's
``pci_passthrough:alias`` extra spec (``"gpu:2, nic"``: two of alias gpu,
one of alias nic).

An alias is defined in ``[pci] alias`` (JSON: name, vendor_id, product_id,
optionally device_type); several definitions may share a name, any of them
matching. The host's devices are the pools its driver reports in
``pci_stats``: ``{"vendor_id", "product_id", "count", "dev_type", ...}``.
Requests take devices from the first pools that match, in order.
"""
from __future__ import annotations

import json
import logging

from compute_core import exception
from compute_core_plugins.filters.per_request import PerRequestFilter

LOG = logging.getLogger(__name__)

_MATCHED_FIELDS = ("vendor_id", "product_id", "device_type")


def parse_aliases(entries) -> dict[str, list[dict]]:
    """{alias name: [device spec]} from the ``[pci] alias`` JSON strings."""
    out: dict = {}
    for entry in entries or []:
        try:
            alias = json.loads(entry)
            name = alias["name"]
        except (ValueError, TypeError, KeyError) as exc:
            raise exception.ConfigError(f"invalid [pci] alias {entry!r}: {exc}") from None
        spec = {k: str(alias[k]).lower() for k in _MATCHED_FIELDS if alias.get(k)}
        out.setdefault(name, []).append(spec)
    return out


def parse_request(value: str, aliases: dict) -> list[tuple[list[dict], int]]:
    """[(device specs, count)] for a ``pci_passthrough:alias`` value."""
    out = []
    for part in str(value).split(","):
        name, _, count = part.strip().partition(":")
        if name not in aliases:
            raise ValueError(f"PCI alias {name!r} is not defined in [pci] alias")
        out.append((aliases[name], int(count) if count else 1))
    return out


def _pool_value(pool: dict, field: str) -> str:
    if field == "device_type":
        # Drivers report the type as dev_type.
        return str(pool.get("dev_type", pool.get("device_type", ""))).lower()
    return str(pool.get(field, "")).lower()


def pool_matches(pool: dict, specs: list[dict]) -> bool:
    return any(all(_pool_value(pool, k) == v for k, v in spec.items()) for spec in specs)


def fits(pools: list[dict], requests) -> bool:
    free = [int(p.get("count", 0)) for p in pools]
    for specs, count in requests:
        for i, pool in enumerate(pools):
            if count == 0:
                break
            if free[i] and pool_matches(pool, specs):
                taken = min(free[i], count)
                free[i] -= taken
                count -= taken
        if count:
            return False
    return True


class PciPassthroughFilter(PerRequestFilter):
    RUN_ON_REBUILD = False

    def __init__(self, conf):
        super().__init__(conf)
        self.aliases = parse_aliases(conf.pci.alias)

    def prepare(self, spec_obj):
        value = ((spec_obj.flavor or {}).get("extra_specs") or {}).get("pci_passthrough:alias")
        if not value:
            return None
        return parse_request(value, self.aliases)

    def passes(self, host_state, requests):
        if not fits(host_state.pci_stats or [], requests):
            LOG.debug("%s has not the PCI devices asked for", host_state)
            return False
        return True
