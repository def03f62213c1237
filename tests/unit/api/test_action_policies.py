"""The policy rules of the server actions and os-instance-actions: Nova
34's names and defaults (nova/policies), each registered once."""
from compute_core.api import policy
from compute_core.api.resources import instance_actions, lifecycle_actions

NOVA_DEFAULTS = {
    "os_compute_api:os-lock-server:lock": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-lock-server:unlock": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-lock-server:unlock:unlock_override": policy.ADMIN,
    "os_compute_api:os-admin-actions:reset_state": policy.ADMIN,
    "os_compute_api:os-rescue": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-unrescue": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-shelve:shelve": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-shelve:shelve_offload": policy.ADMIN,
    "os_compute_api:os-shelve:unshelve": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-shelve:unshelve_to_host": policy.ADMIN,
    "os_compute_api:servers:rebuild": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:rebuild:trusted_certs": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-admin-password": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-console-output": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:trigger_crash_dump": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-deferred-delete:restore": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-deferred-delete:force": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-evacuate": policy.ADMIN,
    "os_compute_api:os-migrate-server:migrate_live": policy.PROJECT_MANAGER_OR_ADMIN,
    "os_compute_api:os-migrate-server:migrate_live:host": policy.ADMIN,
    "os_compute_api:os-security-groups:add": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-security-groups:remove": policy.PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-security-groups:list": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-security-groups:get": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-security-groups:show": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-instance-actions:list": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-instance-actions:show": policy.PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-instance-actions:events": policy.ADMIN,
    "os_compute_api:os-instance-actions:events:details": policy.ADMIN,
}


def test_rules_are_novas_with_novas_defaults():
    rules = [*lifecycle_actions.RULES, *instance_actions.RULES]
    assert {r.name: r.check_str for r in rules} == NOVA_DEFAULTS
    assert len(rules) == len(NOVA_DEFAULTS)
    names = [r.name for r in policy.list_rules()]
    assert all(names.count(name) == 1 for name in NOVA_DEFAULTS)


def test_every_action_names_a_rule_of_its_module():
    declared = {r.name for r in lifecycle_actions.RULES}
    assert {rule for _, rule in lifecycle_actions.SCHEMAS.values()} <= declared
