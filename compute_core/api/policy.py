"""The Compute API's policy: how a resource declares its rules, and the
enforcer that checks them.

Each resource module lists its rules in ``RULES`` with :func:`rule`; its
handlers call ``call.authorize(name)`` (or with a target such as the
server's project). :func:`list_rules` gathers the rules of every module
that :mod:`compute_core.api.routes` lists, with the base rules they refer to.
"""
from __future__ import annotations

from oslo_policy import policy as oslo_policy

from compute_core import policy as common

# Check strings the resources' defaults are written with.
ADMIN = "rule:admin_api"
ANYONE = "@"

BASE_RULES = (
    oslo_policy.RuleDefault("context_is_admin", "role:admin",
                            "Decides what is an administrator"),
    oslo_policy.RuleDefault("admin_api", "is_admin:True or role:admin",
                            "Default rule of administrator APIs"),
)


def rule(name: str, check_str: str, description: str, operations,
         scope_types=("project",)) -> oslo_policy.DocumentedRuleDefault:
    """A rule of a resource: *operations* are its (method, path) pairs."""
    return oslo_policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=[{"method": method, "path": path} for method, path in operations],
        scope_types=list(scope_types))


def list_rules() -> list:
    """Every rule of the Compute API (the oslo.policy.policies entry point)."""
    from compute_core.api import routes

    out = list(BASE_RULES)
    for module in routes.RESOURCES:
        out.extend(module.RULES)
    return out


def enforcer(conf) -> oslo_policy.Enforcer:
    return common.make_enforcer(conf, list_rules())


def authorize(enforcer_, ctx, name: str, target: dict | None = None) -> bool:
    """Whether *ctx* may do what rule *name* guards on *target* (by default
    its own project and user)."""
    if target is None:
        target = {"project_id": ctx.project_id, "user_id": ctx.user_id}
    # authorize (not enforce): a name no module registered is a bug, not a 403
    return enforcer_.authorize(name, target, common.credentials(ctx))
