"""Access rules of reshaper (openstack-placement 16's names and defaults)."""
from __future__ import annotations

from compute_core.placement.policies.base import SERVICE, rules

RULES = rules([
    ("placement:reshaper:reshape", SERVICE, "Move inventories and allocations atomically.",
     [("POST", "/reshaper")]),
])
