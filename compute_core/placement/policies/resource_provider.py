"""Access rules of resource providers (openstack-placement 16's names and defaults)."""
from __future__ import annotations

from compute_core.placement.policies.base import ADMIN_OR_SERVICE, RP, RP_ONE, rules

RULES = rules([
    ("placement:resource_providers:list", ADMIN_OR_SERVICE, "List resource providers.",
     [("GET", RP)]),
    ("placement:resource_providers:create", ADMIN_OR_SERVICE, "Create a resource provider.",
     [("POST", RP)]),
    ("placement:resource_providers:show", ADMIN_OR_SERVICE, "Show a resource provider.",
     [("GET", RP_ONE)]),
    ("placement:resource_providers:update", ADMIN_OR_SERVICE, "Update a resource provider.",
     [("PUT", RP_ONE)]),
    ("placement:resource_providers:delete", ADMIN_OR_SERVICE, "Delete a resource provider.",
     [("DELETE", RP_ONE)]),
])
