"""oslo.policy plumbing shared by the Compute API and Placement.

:func:`make_enforcer` builds one Enforcer per API and per configuration
(each app keeps it: never one per request), with the API's rules registered
as defaults (a policy file overrides them); :class:`CachedEnforcer` remembers
its decisions; :func:`credentials` turns our request context into what
oslo.policy's checks read.
"""
from __future__ import annotations

import threading
import time

from oslo_policy import policy as oslo_policy


def make_enforcer(conf, rules) -> oslo_policy.Enforcer:
    """An Enforcer on *conf* (its ``[oslo_policy]`` options) knowing *rules*."""
    enforcer = oslo_policy.Enforcer(conf)
    enforcer.register_defaults(rules)
    return enforcer


def credentials(ctx) -> dict:
    """The credentials of request context *ctx* as oslo.policy checks read them."""
    return {"user_id": ctx.user_id, "project_id": ctx.project_id, "roles": list(ctx.roles),
            "is_admin": bool(ctx.is_admin),
            "system_scope": getattr(ctx, "system_scope", None)}


class CachedEnforcer:
    """An Enforcer's decisions, remembered by (rule, credentials, target).

    oslo.policy looks for the policy file and walks the rule's checks at
    every call (~0.1 ms each, several per request); a decision depends only
    on the rules, the target and the credentials, so it is kept. The policy
    file is looked at again every *recheck* seconds, as before at every
    call: when the rules it gives change, every decision is forgotten.
    """

    def __init__(self, enforcer: oslo_policy.Enforcer, recheck: float = 1.0,
                 size: int = 8192):
        self.enforcer = enforcer
        self.recheck = recheck
        self.size = size
        self._decisions: dict = {}
        self._rules_seen = None
        self._next_check = 0.0
        self._lock = threading.Lock()

    def _rules_changed(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._next_check:
                return
            self.enforcer.load_rules()
            seen = {name: str(check) for name, check in self.enforcer.rules.items()}
            if seen != self._rules_seen:
                self._rules_seen = seen
                self._decisions = {}
            self._next_check = now + self.recheck

    def authorize(self, rule: str, target: dict, creds: dict) -> bool:
        """As Enforcer.authorize (an unregistered rule raises), remembered."""
        if time.monotonic() >= self._next_check:
            self._rules_changed()
        key = (rule, _frozen(creds), _frozen(target))
        decisions = self._decisions
        try:
            return decisions[key]
        except (KeyError, TypeError):  # TypeError: a value that cannot be a key
            pass
        allowed = bool(self.enforcer.authorize(rule, target, creds))
        try:
            if len(decisions) >= self.size:
                decisions.clear()
            decisions[key] = allowed
        except TypeError:
            pass
        return allowed


def _frozen(values: dict) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                        for k, v in values.items()))
