"""Access rules of resource classes (openstack-placement 16's names and defaults)."""
from __future__ import annotations

from compute_core.placement.policies.base import ADMIN_OR_SERVICE, rules

RULES = rules([
    ("placement:resource_classes:list", ADMIN_OR_SERVICE, "List resource classes.",
     [("GET", "/resource_classes")]),
    ("placement:resource_classes:create", ADMIN_OR_SERVICE, "Create a custom resource class.",
     [("POST", "/resource_classes")]),
    ("placement:resource_classes:show", ADMIN_OR_SERVICE, "Show a resource class.",
     [("GET", "/resource_classes/{name}")]),
    ("placement:resource_classes:update", ADMIN_OR_SERVICE,
     "Create (or, before 1.7, rename) a custom resource class.",
     [("PUT", "/resource_classes/{name}")]),
    ("placement:resource_classes:delete", ADMIN_OR_SERVICE, "Delete a custom resource class.",
     [("DELETE", "/resource_classes/{name}")]),
])
