"""Access rules of traits (openstack-placement 16's names and defaults)."""
from __future__ import annotations

from compute_core.placement.policies.base import ADMIN_OR_SERVICE, RP_ONE, rules

RULES = rules([
    ("placement:traits:list", ADMIN_OR_SERVICE, "List traits.", [("GET", "/traits")]),
    ("placement:traits:show", ADMIN_OR_SERVICE, "Show a trait.", [("GET", "/traits/{name}")]),
    ("placement:traits:update", ADMIN_OR_SERVICE, "Create a custom trait.",
     [("PUT", "/traits/{name}")]),
    ("placement:traits:delete", ADMIN_OR_SERVICE, "Delete a custom trait.",
     [("DELETE", "/traits/{name}")]),
    ("placement:resource_providers:traits:list", ADMIN_OR_SERVICE,
     "List a provider's traits.", [("GET", RP_ONE + "/traits")]),
    ("placement:resource_providers:traits:update", ADMIN_OR_SERVICE,
     "Replace a provider's traits.", [("PUT", RP_ONE + "/traits")]),
    ("placement:resource_providers:traits:delete", ADMIN_OR_SERVICE,
     "Remove a provider's traits.", [("DELETE", RP_ONE + "/traits")]),
])
