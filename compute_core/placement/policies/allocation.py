"""Access rules of allocations (openstack-placement 16's names and defaults)."""
from __future__ import annotations

from compute_core.placement.policies.base import ADMIN_OR_SERVICE, RP_ONE, rules

RULES = rules([
    ("placement:allocations:manage", ADMIN_OR_SERVICE,
     "Replace the allocations of several consumers.", [("POST", "/allocations")]),
    ("placement:allocations:list", ADMIN_OR_SERVICE, "List a consumer's allocations.",
     [("GET", "/allocations/{consumer_uuid}")]),
    ("placement:allocations:update", ADMIN_OR_SERVICE, "Replace a consumer's allocations.",
     [("PUT", "/allocations/{consumer_uuid}")]),
    ("placement:allocations:delete", ADMIN_OR_SERVICE, "Delete a consumer's allocations.",
     [("DELETE", "/allocations/{consumer_uuid}")]),
    ("placement:resource_providers:allocations:list", ADMIN_OR_SERVICE,
     "List the allocations against a provider.", [("GET", RP_ONE + "/allocations")]),
    ("placement:allocation_candidates:list", ADMIN_OR_SERVICE,
     "List allocation candidates.", [("GET", "/allocation_candidates")]),
])
