"""Placement's access rules, with oslo.policy, under openstack-placement 16's
rule names and defaults.

The defaults are the "new" ones (roles and project scope); each carries
the legacy default (``role:admin``) as its deprecated rule, which oslo.policy
applies with ``[oslo_policy] enforce_new_defaults = false``. A policy file
(``[oslo_policy] policy_file``) overrides any of them. The rules are listed
under the ``oslo.policy.policies`` entry point (``compute_core.placement``),
so ``oslopolicy-sample-generator --namespace compute_core.placement`` and
``oslopolicy-list-redundant`` know them.
"""
from __future__ import annotations

import time

from oslo_policy import policy

from compute_core import policy as common

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

# (rule name, default, what it allows, [(method, path)]), one block per resource.
_RP = "/resource_providers"
_RP_ONE = _RP + "/{uuid}"
_OPERATIONS = [
    # resource providers
    ("placement:resource_providers:list", ADMIN_OR_SERVICE, "List resource providers.",
     [("GET", _RP)]),
    ("placement:resource_providers:create", ADMIN_OR_SERVICE, "Create a resource provider.",
     [("POST", _RP)]),
    ("placement:resource_providers:show", ADMIN_OR_SERVICE, "Show a resource provider.",
     [("GET", _RP_ONE)]),
    ("placement:resource_providers:update", ADMIN_OR_SERVICE, "Update a resource provider.",
     [("PUT", _RP_ONE)]),
    ("placement:resource_providers:delete", ADMIN_OR_SERVICE, "Delete a resource provider.",
     [("DELETE", _RP_ONE)]),
    # inventories
    ("placement:resource_providers:inventories:list", ADMIN_OR_SERVICE,
     "List a provider's inventories.", [("GET", _RP_ONE + "/inventories")]),
    ("placement:resource_providers:inventories:create", ADMIN_OR_SERVICE,
     "Create one inventory of a provider.", [("POST", _RP_ONE + "/inventories")]),
    ("placement:resource_providers:inventories:show", ADMIN_OR_SERVICE,
     "Show one inventory of a provider.",
     [("GET", _RP_ONE + "/inventories/{resource_class}")]),
    ("placement:resource_providers:inventories:update", ADMIN_OR_SERVICE,
     "Replace a provider's inventories, or update one.",
     [("PUT", _RP_ONE + "/inventories"), ("PUT", _RP_ONE + "/inventories/{resource_class}")]),
    ("placement:resource_providers:inventories:delete", ADMIN_OR_SERVICE,
     "Delete a provider's inventories, or one.",
     [("DELETE", _RP_ONE + "/inventories"),
      ("DELETE", _RP_ONE + "/inventories/{resource_class}")]),
    # aggregates
    ("placement:resource_providers:aggregates:list", ADMIN_OR_SERVICE,
     "List a provider's aggregates.", [("GET", _RP_ONE + "/aggregates")]),
    ("placement:resource_providers:aggregates:update", ADMIN_OR_SERVICE,
     "Replace a provider's aggregates.", [("PUT", _RP_ONE + "/aggregates")]),
    # usages
    ("placement:resource_providers:usages", ADMIN_OR_SERVICE, "List a provider's usages.",
     [("GET", _RP_ONE + "/usages")]),
    ("placement:usages", ADMIN_OR_PROJECT_READER_OR_SERVICE,
     "List the usages of a project (a project's reader sees its own).",
     [("GET", "/usages")]),
    # traits
    ("placement:traits:list", ADMIN_OR_SERVICE, "List traits.", [("GET", "/traits")]),
    ("placement:traits:show", ADMIN_OR_SERVICE, "Show a trait.", [("GET", "/traits/{name}")]),
    ("placement:traits:update", ADMIN_OR_SERVICE, "Create a custom trait.",
     [("PUT", "/traits/{name}")]),
    ("placement:traits:delete", ADMIN_OR_SERVICE, "Delete a custom trait.",
     [("DELETE", "/traits/{name}")]),
    ("placement:resource_providers:traits:list", ADMIN_OR_SERVICE,
     "List a provider's traits.", [("GET", _RP_ONE + "/traits")]),
    ("placement:resource_providers:traits:update", ADMIN_OR_SERVICE,
     "Replace a provider's traits.", [("PUT", _RP_ONE + "/traits")]),
    ("placement:resource_providers:traits:delete", ADMIN_OR_SERVICE,
     "Remove a provider's traits.", [("DELETE", _RP_ONE + "/traits")]),
    # resource classes
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
    # allocations
    ("placement:allocations:manage", ADMIN_OR_SERVICE,
     "Replace the allocations of several consumers.", [("POST", "/allocations")]),
    ("placement:allocations:list", ADMIN_OR_SERVICE, "List a consumer's allocations.",
     [("GET", "/allocations/{consumer_uuid}")]),
    ("placement:allocations:update", ADMIN_OR_SERVICE, "Replace a consumer's allocations.",
     [("PUT", "/allocations/{consumer_uuid}")]),
    ("placement:allocations:delete", ADMIN_OR_SERVICE, "Delete a consumer's allocations.",
     [("DELETE", "/allocations/{consumer_uuid}")]),
    ("placement:resource_providers:allocations:list", ADMIN_OR_SERVICE,
     "List the allocations against a provider.", [("GET", _RP_ONE + "/allocations")]),
    ("placement:allocation_candidates:list", ADMIN_OR_SERVICE,
     "List allocation candidates.", [("GET", "/allocation_candidates")]),
    # reshaper
    ("placement:reshaper:reshape", SERVICE, "Move inventories and allocations atomically.",
     [("POST", "/reshaper")]),
]

RULES = BASE_RULES + [
    policy.DocumentedRuleDefault(name, default, description,
                                 [{"method": m, "path": p} for m, p in operations],
                                 scope_types=["project"])
    for name, default, description, operations in _OPERATIONS]


def list_rules():
    """The ``oslo.policy.policies`` entry point."""
    return RULES


class _Enforcer(policy.Enforcer):
    """oslo.policy's Enforcer that looks for policy file changes at most once
    a second: its check on every call (finding and stat-ing the files) cost
    more than a placement claim's own work."""

    RECHECK = 1.0

    def load_rules(self, force_reload=False):
        now = time.monotonic()
        if not force_reload and now - getattr(self, "_checked_at", -self.RECHECK) \
                < self.RECHECK:
            return
        super().load_rules(force_reload)
        self._checked_at = now


def enforcer(conf) -> policy.Enforcer:
    """An Enforcer of placement's rules on *conf* (its [oslo_policy])."""
    enf = _Enforcer(conf)
    enf.register_defaults(RULES)
    return enf


class PolicyNotAuthorized(Exception):
    """The request context may not do *action*. A token of the wrong scope
    is told by the action's name alone, as openstack-placement words it."""

    def __init__(self, action, wrong_scope=False):
        super().__init__(action if wrong_scope
                         else f"Policy does not allow {action} to be performed.")
        self.action = action


_WRONG_SCOPE = "wrong scope"


def authorize(enf: policy.Enforcer, ctx, action: str, target: dict | None = None) -> None:
    """Raise :class:`PolicyNotAuthorized` unless *ctx* may do *action* on
    *target* (by default the context's own project and user)."""
    if target is None:
        target = {"project_id": ctx.project_id, "user_id": ctx.user_id}
    creds = common.credentials(ctx)
    enf.load_rules()
    # oslo.policy inspects each check's signature on every call (~0.3 ms a
    # rule): the decision is kept per rule set, action, credentials and target.
    decisions = getattr(enf, "_placement_decisions", None)
    if decisions is None or decisions[0] is not enf.rules:  # rules (re)loaded
        decisions = enf._placement_decisions = (enf.rules, {})
    cache = decisions[1]
    key = (action, tuple(sorted(creds["roles"])), creds["project_id"], creds["user_id"],
           creds["is_admin"], creds["system_scope"], tuple(sorted(target.items())))
    allowed = cache.get(key)  # True, False, or _WRONG_SCOPE
    if allowed is None:
        try:
            # (raising: oslo.policy tells a token of the wrong scope only so)
            allowed = bool(enf.authorize(action, target, creds, do_raise=True))
        except policy.InvalidScope:
            allowed = _WRONG_SCOPE
        except policy.PolicyNotAuthorized:
            allowed = False
        if len(cache) > 4096:
            cache.clear()
        cache[key] = allowed
    if allowed is not True:
        raise PolicyNotAuthorized(action, wrong_scope=allowed is _WRONG_SCOPE)
