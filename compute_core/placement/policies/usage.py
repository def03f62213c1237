"""Access rules of usages (openstack-placement 16's names and defaults)."""
from __future__ import annotations

from compute_core.placement.policies.base import (
    ADMIN_OR_PROJECT_READER_OR_SERVICE, ADMIN_OR_SERVICE, RP_ONE, rules)

RULES = rules([
    ("placement:resource_providers:usages", ADMIN_OR_SERVICE, "List a provider's usages.",
     [("GET", RP_ONE + "/usages")]),
    ("placement:usages", ADMIN_OR_PROJECT_READER_OR_SERVICE,
     "List the usages of a project (a project's reader sees its own).",
     [("GET", "/usages")]),
])
