"""What the per-resource rule modules share: the base rules, the defaults
they name, and how an operation's rule is made."""
from __future__ import annotations

from oslo_policy import policy

ADMIN_API = "rule:admin_api"
SERVICE = "rule:service_api"
ADMIN_OR_SERVICE = "rule:admin_or_service_api"
ADMIN_OR_PROJECT_READER_OR_SERVICE = "rule:admin_or_project_reader_or_service_api"

_REASON = ("Placement's policies have default roles with scope types; the old "
           "admin-only defaults are deprecated.")
_LEGACY = policy.DeprecatedRule(name=ADMIN_API, check_str="role:admin",
                                deprecated_reason=_REASON, deprecated_since="W")

BASE_RULES = [
    policy.RuleDefault("admin_api", "role:admin", "Default rule for most placement APIs.",
                       scope_types=["project"]),
    policy.RuleDefault("service_api", "role:service",
                       "Default rule for service-to-service placement APIs.",
                       scope_types=["project"], deprecated_rule=_LEGACY),
    policy.RuleDefault("admin_or_service_api", "role:admin or role:service",
                       "Default rule for most placement APIs.", scope_types=["project"],
                       deprecated_rule=_LEGACY),
    policy.RuleDefault("project_reader_api", "role:reader and project_id:%(project_id)s",
                       "Default rule for project level reader APIs.",
                       deprecated_rule=_LEGACY),
    policy.RuleDefault("admin_or_project_reader_or_service_api",
                       "role:admin or rule:project_reader_api or role:service",
                       "Default rule for project level reader APIs.", scope_types=["project"],
                       deprecated_rule=_LEGACY),
]

RP = "/resource_providers"
RP_ONE = RP + "/{uuid}"


def rules(operations) -> list:
    """[(rule name, default, what it allows, [(method, path)])] -> rules."""
    return [policy.DocumentedRuleDefault(name, default, description,
                                         [{"method": m, "path": p} for m, p in paths],
                                         scope_types=["project"])
            for name, default, description, paths in operations]
