"""oslo.policy plumbing shared by the Compute API and Placement.

:func:`make_enforcer` builds one Enforcer per API and per configuration
(each app keeps it: never one per request), with the API's rules registered
as defaults (a policy file overrides them); :func:`credentials` turns our
request context into what oslo.policy's checks read.
"""
from __future__ import annotations

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
