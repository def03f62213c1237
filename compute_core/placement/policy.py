"""Placement's access rules enforced with oslo.policy; the rules themselves
(openstack-placement 16's names and defaults) are in :mod:`.policies`, a
module per resource.

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
from compute_core.placement.policies import RULES


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
