"""The Compute API's policy rules: Nova 34's names and defaults, the new
defaults (admin, project manager / member / reader), the legacy ones
([oslo_policy] enforce_new_defaults = false), scope, and a policy file."""
import os

import pytest

from compute_core import conf as conf_mod
from compute_core.api import policy, routes
from compute_core.context import RequestContext

# Nova 34's defaults of the rules of the routes that exist (facts from nova/policies)
KEYPAIR = f"({policy.ADMIN}) or user_id:%(user_id)s"
NOVA_DEFAULTS = {
    "compute:aggregates:images": policy.ADMIN,
    "compute:servers:create:requested_destination": policy.ADMIN,
    "os_compute_api:extensions": policy.ANY,
    "os_compute_api:ips:index": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:ips:show": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:limits": policy.ANY,
    "os_compute_api:limits:other_project": policy.ADMIN,
    "os_compute_api:os-aggregates:add_host": policy.ADMIN,
    "os_compute_api:os-aggregates:create": policy.ADMIN,
    "os_compute_api:os-aggregates:delete": policy.ADMIN,
    "os_compute_api:os-aggregates:index": policy.ADMIN,
    "os_compute_api:os-aggregates:remove_host": policy.ADMIN,
    "os_compute_api:os-aggregates:set_metadata": policy.ADMIN,
    "os_compute_api:os-aggregates:show": policy.ADMIN,
    "os_compute_api:os-aggregates:update": policy.ADMIN,
    "os_compute_api:os-availability-zone:detail": policy.ADMIN,
    "os_compute_api:os-availability-zone:list": policy.ANY,
    "os_compute_api:os-extended-server-attributes": policy.ADMIN,
    "os_compute_api:os-flavor-access": policy.ADMIN,
    "os_compute_api:os-flavor-access:add_tenant_access": policy.ADMIN,
    "os_compute_api:os-flavor-access:remove_tenant_access": policy.ADMIN,
    "os_compute_api:os-flavor-extra-specs:create": policy.ADMIN,
    "os_compute_api:os-flavor-extra-specs:delete": policy.ADMIN,
    "os_compute_api:os-flavor-extra-specs:index": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-flavor-extra-specs:show": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-flavor-extra-specs:update": policy.ADMIN,
    "os_compute_api:os-flavor-manage:create": policy.ADMIN,
    "os_compute_api:os-flavor-manage:delete": policy.ADMIN,
    "os_compute_api:os-flavor-manage:update": policy.ADMIN,
    "os_compute_api:os-hosts:list": policy.ADMIN,
    "os_compute_api:os-hosts:reboot": policy.ADMIN,
    "os_compute_api:os-hosts:show": policy.ADMIN,
    "os_compute_api:os-hosts:shutdown": policy.ADMIN,
    "os_compute_api:os-hosts:start": policy.ADMIN,
    "os_compute_api:os-hosts:update": policy.ADMIN,
    "os_compute_api:os-hypervisors:list": policy.ADMIN,
    "os_compute_api:os-hypervisors:list-detail": policy.ADMIN,
    "os_compute_api:os-hypervisors:search": policy.ADMIN,
    "os_compute_api:os-hypervisors:servers": policy.ADMIN,
    "os_compute_api:os-hypervisors:show": policy.ADMIN,
    "os_compute_api:os-hypervisors:statistics": policy.ADMIN,
    "os_compute_api:os-hypervisors:uptime": policy.ADMIN,
    "os_compute_api:os-instance-usage-audit-log:list": policy.ADMIN,
    "os_compute_api:os-instance-usage-audit-log:show": policy.ADMIN,
    "os_compute_api:os-keypairs:create": KEYPAIR,
    "os_compute_api:os-keypairs:delete": KEYPAIR,
    "os_compute_api:os-keypairs:index": KEYPAIR,
    "os_compute_api:os-keypairs:show": KEYPAIR,
    "os_compute_api:os-migrate-server:migrate": policy.PROJECT_MANAGER_OR_ADMIN,
    "os_compute_api:os-migrate-server:migrate:host": policy.ADMIN,
    "os_compute_api:os-migrations:index": policy.PROJECT_MANAGER_OR_ADMIN,
    "os_compute_api:os-migrations:index:all_projects": policy.ADMIN,
    "os_compute_api:os-migrations:index:host": policy.ADMIN,
    "os_compute_api:os-pause-server:pause": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-pause-server:unpause": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-quota-class-sets:show": policy.ADMIN,
    "os_compute_api:os-quota-class-sets:update": policy.ADMIN,
    "os_compute_api:os-quota-sets:defaults": policy.ANY,
    "os_compute_api:os-quota-sets:delete": policy.ADMIN,
    "os_compute_api:os-quota-sets:detail": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-quota-sets:show": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-quota-sets:update": policy.ADMIN,
    "os_compute_api:os-server-diagnostics": policy.ADMIN,
    "os_compute_api:os-server-external-events:create": policy.SERVICE_OR_ADMIN,
    "os_compute_api:os-server-groups:create": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-server-groups:delete": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-server-groups:index": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-server-groups:index:all_projects": policy.ADMIN,
    "os_compute_api:os-server-groups:show": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-server-password:clear": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-server-password:show": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-server-tags:delete": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-server-tags:delete_all": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-server-tags:index": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-server-tags:show": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-server-tags:update": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-server-tags:update_all": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-services:delete": policy.ADMIN,
    "os_compute_api:os-services:list": policy.ADMIN,
    "os_compute_api:os-services:update": policy.ADMIN,
    "os_compute_api:os-simple-tenant-usage:list": policy.ADMIN,
    "os_compute_api:os-simple-tenant-usage:show": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-suspend-server:resume": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-suspend-server:suspend": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:server-metadata:create": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:server-metadata:delete": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:server-metadata:index": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:server-metadata:show": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:server-metadata:update": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:server-metadata:update_all": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:allow_all_filters": policy.ADMIN,
    "os_compute_api:servers:confirm_resize": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:create": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:create:forced_host": policy.ADMIN,
    "os_compute_api:servers:delete": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:detail": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:servers:detail:get_all_tenants": policy.ADMIN,
    "os_compute_api:servers:index": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:servers:index:get_all_tenants": policy.ADMIN,
    "os_compute_api:servers:migrations:delete": policy.PROJECT_MANAGER_OR_ADMIN,
    "os_compute_api:servers:migrations:force_complete": policy.PROJECT_MANAGER_OR_ADMIN,
    "os_compute_api:servers:migrations:index": policy.PROJECT_MANAGER_OR_ADMIN,
    "os_compute_api:servers:migrations:index:host": policy.ADMIN,
    "os_compute_api:servers:migrations:show": policy.ADMIN,
    "os_compute_api:servers:reboot": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:resize": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:revert_resize": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:show": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:servers:show:host_status": policy.ADMIN,
    "os_compute_api:servers:start": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:stop": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:update": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-attach-interfaces:list": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-attach-interfaces:show": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-attach-interfaces:create": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-attach-interfaces:delete": policy.PROJECT_MEMBER_OR_ADMIN,
    'os_compute_api:os-admin-actions:reset_state': 'rule:context_is_admin',
    'os_compute_api:os-admin-password': 'rule:project_member_or_admin',
    'os_compute_api:os-console-output': 'rule:project_member_or_admin',
    'os_compute_api:os-deferred-delete:force': 'rule:project_member_or_admin',
    'os_compute_api:os-deferred-delete:restore': 'rule:project_member_or_admin',
    'os_compute_api:os-evacuate': 'rule:context_is_admin',
    'os_compute_api:os-instance-actions:events': 'rule:context_is_admin',
    'os_compute_api:os-instance-actions:events:details': 'rule:context_is_admin',
    'os_compute_api:os-instance-actions:list': 'rule:project_reader_or_admin',
    'os_compute_api:os-instance-actions:show': 'rule:project_reader_or_admin',
    'os_compute_api:os-lock-server:lock': 'rule:project_member_or_admin',
    'os_compute_api:os-lock-server:unlock': 'rule:project_member_or_admin',
    'os_compute_api:os-lock-server:unlock:unlock_override': 'rule:context_is_admin',
    'os_compute_api:os-migrate-server:migrate_live': 'rule:project_manager_or_admin',
    'os_compute_api:os-migrate-server:migrate_live:host': 'rule:context_is_admin',
    'os_compute_api:os-rescue': 'rule:project_member_or_admin',
    'os_compute_api:os-security-groups:add': 'rule:project_member_or_admin',
    'os_compute_api:os-security-groups:list': 'rule:project_reader_or_admin',
    'os_compute_api:os-security-groups:get': 'rule:project_reader_or_admin',
    'os_compute_api:os-security-groups:show': 'rule:project_reader_or_admin',
    'os_compute_api:os-security-groups:remove': 'rule:project_member_or_admin',
    'os_compute_api:os-shelve:shelve': 'rule:project_member_or_admin',
    'os_compute_api:os-shelve:shelve_offload': 'rule:context_is_admin',
    'os_compute_api:os-shelve:unshelve': 'rule:project_member_or_admin',
    'os_compute_api:os-shelve:unshelve_to_host': 'rule:context_is_admin',
    'os_compute_api:os-unrescue': 'rule:project_member_or_admin',
    'os_compute_api:servers:rebuild': 'rule:project_member_or_admin',
    'os_compute_api:servers:rebuild:trusted_certs': 'rule:project_member_or_admin',
    'os_compute_api:servers:trigger_crash_dump': 'rule:project_member_or_admin',
    'os_compute_api:os-console-auth-tokens': 'rule:context_is_admin',
    'os_compute_api:os-remote-consoles': 'rule:project_member_or_admin',
    'os_compute_api:os-create-backup': 'rule:project_member_or_admin',
    'os_compute_api:servers:create_image': 'rule:project_member_or_admin',
}


def test_rules_are_novas_with_novas_defaults():
    rules = {r.name: r for r in policy.list_rules()}
    declared = {name: r.check_str for name, r in rules.items()
                if ":" in name}  # the base rules have no colon
    assert declared == NOVA_DEFAULTS
    assert all(rules[name].scope_types == ["project"] for name in NOVA_DEFAULTS)


def test_each_resource_declares_its_own_rules():
    owners = {}
    for module in routes.RESOURCES:
        for rule in module.RULES:
            assert rule.name not in owners, f"{rule.name} declared twice"
            owners[rule.name] = module.__name__
    assert owners["os_compute_api:os-services:list"].endswith(".services")
    assert owners["os_compute_api:os-pause-server:pause"].endswith(".server_actions")


def _enforcer(tmp_path, new_defaults=True, policy_text=None):
    files = []
    lines = [f"[oslo_policy]\nenforce_new_defaults = {new_defaults}\n"]
    if policy_text is not None:
        (tmp_path / "policy.yaml").write_text(policy_text)
        lines.append(f"policy_file = {tmp_path / 'policy.yaml'}\n")
    (tmp_path / "c.conf").write_text("".join(lines))
    files.append(str(tmp_path / "c.conf"))
    return policy.enforcer(conf_mod.load(config_files=files))


ADMIN = RequestContext(user_id="adm", project_id="admin-p", roles=["admin"])
MEMBER = RequestContext(user_id="m", project_id="pa", roles=["member", "reader"])
READER = RequestContext(user_id="r", project_id="pa", roles=["reader"])
MANAGER = RequestContext(user_id="g", project_id="pa", roles=["manager", "member", "reader"])
NO_ROLE = RequestContext(user_id="n", project_id="pa", roles=[])
OTHER = RequestContext(user_id="o", project_id="pb", roles=["member", "reader"])
A = {"project_id": "pa", "user_id": "m"}


@pytest.mark.parametrize("ctx, rule, target, allowed", [
    (READER, "os_compute_api:servers:show", A, True),
    (READER, "os_compute_api:servers:delete", A, False),
    (READER, "os_compute_api:servers:create", None, False),
    (MEMBER, "os_compute_api:servers:delete", A, True),
    (MEMBER, "os_compute_api:os-migrate-server:migrate", A, False),
    (MANAGER, "os_compute_api:os-migrate-server:migrate", A, True),
    (MANAGER, "os_compute_api:os-migrate-server:migrate:host", A, False),
    (OTHER, "os_compute_api:servers:show", A, False),
    (OTHER, "os_compute_api:servers:delete", A, False),
    (ADMIN, "os_compute_api:servers:delete", A, True),
    (ADMIN, "os_compute_api:os-services:list", None, True),
    (MEMBER, "os_compute_api:os-services:list", None, False),
    (NO_ROLE, "os_compute_api:servers:show", A, False),
    (NO_ROLE, "os_compute_api:limits", None, True),
])
def test_new_defaults(tmp_path, ctx, rule, target, allowed):
    assert policy.authorize(_enforcer(tmp_path), ctx, rule, target) is allowed


@pytest.mark.parametrize("ctx, rule, target, allowed", [
    # the owner's project is enough, whatever the roles (admin_or_owner)
    (NO_ROLE, "os_compute_api:servers:show", A, True),
    (READER, "os_compute_api:servers:delete", A, True),
    (OTHER, "os_compute_api:servers:delete", A, False),
    (MEMBER, "os_compute_api:os-services:list", None, False),
    (ADMIN, "os_compute_api:os-services:list", None, True),
])
def test_legacy_defaults(tmp_path, ctx, rule, target, allowed):
    enforcer = _enforcer(tmp_path, new_defaults=False)
    assert policy.authorize(enforcer, ctx, rule, target) is allowed


def test_scope_a_system_scoped_token_is_refused_project_rules(tmp_path):
    system_admin = RequestContext(user_id="s", project_id=None, roles=["admin", "reader"])
    system_admin.system_scope = "all"
    enforcer = _enforcer(tmp_path)
    assert not policy.authorize(enforcer, system_admin, "os_compute_api:os-services:list")
    assert policy.authorize(enforcer, ADMIN, "os_compute_api:os-services:list")


def test_a_policy_file_overrides_a_default(tmp_path):
    enforcer = _enforcer(tmp_path, policy_text='"os_compute_api:servers:create": "!"\n'
                                               '"os_compute_api:os-hypervisors:list": '
                                               '"role:reader"\n')
    assert not policy.authorize(enforcer, ADMIN, "os_compute_api:servers:create")
    assert policy.authorize(enforcer, READER, "os_compute_api:os-hypervisors:list")
    assert policy.authorize(enforcer, MEMBER, "os_compute_api:servers:delete", A)


def test_an_unregistered_rule_is_an_error_not_a_refusal(tmp_path):
    from oslo_policy.policy import PolicyNotRegistered

    with pytest.raises(PolicyNotRegistered):
        policy.authorize(_enforcer(tmp_path), ADMIN, "os_compute_api:no-such-rule")


def test_the_admin_context_follows_context_is_admin(tmp_path):
    enforcer = _enforcer(tmp_path, policy_text='"context_is_admin": "role:cloud_admin"\n')
    assert not policy.is_admin(enforcer, ADMIN)
    assert policy.is_admin(enforcer, RequestContext(roles=["cloud_admin"]))


def test_cached_decisions_follow_the_policy_file(tmp_path):
    from compute_core.policy import CachedEnforcer

    enforcer = _enforcer(tmp_path, policy_text='"os_compute_api:os-services:list": "!"\n')
    cached = CachedEnforcer(enforcer, recheck=0.0)
    assert not policy.authorize(cached, ADMIN, "os_compute_api:os-services:list")
    calls = []
    real = enforcer.authorize
    enforcer.authorize = lambda *args, **kwargs: calls.append(args) or real(*args, **kwargs)
    assert not policy.authorize(cached, ADMIN, "os_compute_api:os-services:list")
    assert calls == []  # remembered
    assert policy.authorize(cached, MEMBER, "os_compute_api:servers:delete", A)
    assert not policy.authorize(cached, OTHER, "os_compute_api:servers:delete", A)
    assert len(calls) == 2  # other credentials, other target: asked
    # the operator changes the file: the next check sees it
    (tmp_path / "policy.yaml").write_text('"os_compute_api:os-services:list": "role:admin"\n')
    os.utime(tmp_path / "policy.yaml", (1, 2_000_000_000))
    assert policy.authorize(cached, ADMIN, "os_compute_api:os-services:list")
    from oslo_policy.policy import PolicyNotRegistered

    with pytest.raises(PolicyNotRegistered):
        policy.authorize(cached, ADMIN, "os_compute_api:no-such-rule")
