"""Access rules of inventories (openstack-placement 16's names and defaults)."""
from __future__ import annotations

from compute_core.placement.policies.base import ADMIN_OR_SERVICE, RP_ONE, rules

RULES = rules([
    ("placement:resource_providers:inventories:list", ADMIN_OR_SERVICE,
     "List a provider's inventories.", [("GET", RP_ONE + "/inventories")]),
    ("placement:resource_providers:inventories:create", ADMIN_OR_SERVICE,
     "Create one inventory of a provider.", [("POST", RP_ONE + "/inventories")]),
    ("placement:resource_providers:inventories:show", ADMIN_OR_SERVICE,
     "Show one inventory of a provider.",
     [("GET", RP_ONE + "/inventories/{resource_class}")]),
    ("placement:resource_providers:inventories:update", ADMIN_OR_SERVICE,
     "Replace a provider's inventories, or update one.",
     [("PUT", RP_ONE + "/inventories"), ("PUT", RP_ONE + "/inventories/{resource_class}")]),
    ("placement:resource_providers:inventories:delete", ADMIN_OR_SERVICE,
     "Delete a provider's inventories, or one.",
     [("DELETE", RP_ONE + "/inventories"),
      ("DELETE", RP_ONE + "/inventories/{resource_class}")]),
])
