"""Placement's access rules, a module per resource (as openstack-placement
lays them out), under its rule names and defaults; :mod:`..policy` enforces
them."""
from __future__ import annotations

from compute_core.placement.policies import (
    aggregate, allocation, inventory, reshaper, resource_class, resource_provider, trait, usage)
from compute_core.placement.policies.base import BASE_RULES

RULES = BASE_RULES + [rule for module in (resource_provider, inventory, aggregate, usage,
                                          trait, resource_class, allocation, reshaper)
                      for rule in module.RULES]
