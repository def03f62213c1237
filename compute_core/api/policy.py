"""The Compute API's policy: the base rules and personas every resource's
defaults are written with, how a resource declares its rules, and the
enforcer that checks them (oslo.policy).

Each resource module lists its rules in ``RULES`` with :func:`rule`, naming
Nova's rule (``os_compute_api:...``) and Nova's default, one of the personas
below; its handlers call ``call.authorize(name, target)`` (403) or
``call.allowed(name, target)``. :func:`list_rules` gathers the rules of
every module that :mod:`compute_core.api.routes` lists.

The personas (check strings) and what they mean with the new defaults:

- ``ADMIN``: the admin role;
- ``PROJECT_MANAGER_OR_ADMIN`` / ``PROJECT_MEMBER_OR_ADMIN`` /
  ``PROJECT_READER_OR_ADMIN``: the manager / member / reader role on the
  target's project, or admin;
- ``ANY``: anyone authenticated; ``NOBODY``: no one.

With ``[oslo_policy] enforce_new_defaults = false`` each persona also lets
through what the legacy rules did (``is_admin:True``, or for the project
personas ``project_id:%(project_id)s``), as Nova's base rules do.
"""
from __future__ import annotations

from oslo_policy import policy as oslo_policy

from compute_core import policy as common

ADMIN = "rule:context_is_admin"
PROJECT_MANAGER_OR_ADMIN = "rule:project_manager_or_admin"
PROJECT_MEMBER_OR_ADMIN = "rule:project_member_or_admin"
PROJECT_READER_OR_ADMIN = "rule:project_reader_or_admin"
SERVICE_OR_ADMIN = "rule:service_or_admin"
ANY = "@"
NOBODY = "!"

_LEGACY = "The rules of before the personas (admin, or the owner's project), kept while " \
          "[oslo_policy] enforce_new_defaults is false."
LEGACY_ADMIN = oslo_policy.DeprecatedRule(
    name="rule:admin_api", check_str="is_admin:True", deprecated_reason=_LEGACY,
    deprecated_since="21.0.0")
LEGACY_ADMIN_OR_OWNER = oslo_policy.DeprecatedRule(
    name="rule:admin_or_owner", check_str="is_admin:True or project_id:%(project_id)s",
    deprecated_reason=_LEGACY, deprecated_since="21.0.0")


def _base(name, check_str, description, legacy=None, **kwargs):
    return oslo_policy.RuleDefault(name, check_str, description, deprecated_rule=legacy,
                                   **kwargs)


BASE_RULES = (
    _base("context_is_admin", "role:admin", "Who is an administrator", LEGACY_ADMIN),
    _base("admin_or_owner", "is_admin:True or project_id:%(project_id)s",
          "The legacy rule of most project APIs", deprecated_for_removal=True,
          deprecated_reason=_LEGACY, deprecated_since="21.0.0"),
    _base("admin_api", "is_admin:True", "The legacy rule of most admin APIs",
          deprecated_for_removal=True, deprecated_reason=_LEGACY, deprecated_since="21.0.0"),
    _base("project_manager_api", "role:manager and project_id:%(project_id)s",
          "A manager of the target's project", LEGACY_ADMIN),
    _base("project_member_api", "role:member and project_id:%(project_id)s",
          "A member of the target's project", LEGACY_ADMIN_OR_OWNER),
    _base("project_reader_api", "role:reader and project_id:%(project_id)s",
          "A reader of the target's project", LEGACY_ADMIN_OR_OWNER),
    _base("service_api", "role:service", "A service calling another", LEGACY_ADMIN),
    _base("project_manager_or_admin", "rule:project_manager_api or rule:context_is_admin",
          "A manager of the target's project, or an administrator", LEGACY_ADMIN),
    _base("project_member_or_admin", "rule:project_member_api or rule:context_is_admin",
          "A member of the target's project, or an administrator", LEGACY_ADMIN_OR_OWNER),
    _base("project_reader_or_admin", "rule:project_reader_api or rule:context_is_admin",
          "A reader of the target's project, or an administrator", LEGACY_ADMIN_OR_OWNER),
    _base("service_or_admin", "rule:service_api or rule:context_is_admin",
          "A service, or an administrator", LEGACY_ADMIN),
)


def rule(name: str, check_str: str, description: str, operations,
         scope_types=("project",), **kwargs) -> oslo_policy.DocumentedRuleDefault:
    """A rule of a resource: *operations* are its (method, path) pairs
    (Nova writes a server action's path ``/servers/{server_id}/action (pause)``)."""
    return oslo_policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=[{"method": method, "path": path} for method, path in operations],
        scope_types=list(scope_types), **kwargs)


def list_rules() -> list:
    """Every rule of the Compute API (the oslo.policy.policies entry point)."""
    from compute_core.api import routes

    out = list(BASE_RULES)
    for module in routes.RESOURCES:
        out.extend(module.RULES)
    return out


def enforcer(conf) -> oslo_policy.Enforcer:
    """The Compute API's enforcer on *conf*: build one per app, not per request."""
    return common.make_enforcer(conf, list_rules())


def authorize(enforcer_, ctx, name: str, target: dict | None = None) -> bool:
    """Whether *ctx* may do what rule *name* guards on *target* (by default
    its own project and user)."""
    if target is None:
        target = {"project_id": ctx.project_id, "user_id": ctx.user_id}
    # authorize (not enforce): a name no module registered is a bug, not a 403
    return enforcer_.authorize(name, target, common.credentials(ctx))
