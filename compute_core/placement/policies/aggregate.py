"""Access rules of aggregates (openstack-placement 16's names and defaults)."""
from __future__ import annotations

from compute_core.placement.policies.base import ADMIN_OR_SERVICE, RP_ONE, rules

RULES = rules([
    ("placement:resource_providers:aggregates:list", ADMIN_OR_SERVICE,
     "List a provider's aggregates.", [("GET", RP_ONE + "/aggregates")]),
    ("placement:resource_providers:aggregates:update", ADMIN_OR_SERVICE,
     "Replace a provider's aggregates.", [("PUT", RP_ONE + "/aggregates")]),
])
