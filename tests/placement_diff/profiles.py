"""Policy profiles the differential tests run both services under.

* ``new-defaults``: oslo.policy's defaults (``enforce_new_defaults = true``,
  openstack-placement 16's default): roles (admin, service, a project's
  reader) and project scope;
* ``legacy``: ``enforce_new_defaults = false``, the deprecated admin-only
  rules;
* ``open``: a policy file that opens every rule but ``admin_api``.

Each gives the same setup to both services: configuration appended to
openstack-placement's placement.conf and to compute_core's compute.conf,
and files written beside them (``{dir}`` in the configuration is their
directory).
"""
from __future__ import annotations

PROFILES = ("new-defaults", "legacy", "open")


def _open_policy() -> str:
    # The rule names are openstack-placement 16's (compute_core uses the
    # same): a name that differed would show as differences.
    from compute_core.placement import policy

    return "".join(f'"{rule.name}": "@"\n' for rule in policy.list_rules()
                   if rule.name != "admin_api")


def configuration(profile: str) -> tuple[str, str, dict]:
    if profile == "new-defaults":
        return "", "", {}
    if profile == "legacy":
        conf = "[oslo_policy]\nenforce_new_defaults = false\n"
        return conf, conf, {}
    if profile == "open":
        conf = "[oslo_policy]\npolicy_file = {dir}/policy.yaml\n"
        return conf, conf, {"policy.yaml": _open_policy()}
    raise ValueError(f"unknown policy profile {profile!r}: one of {', '.join(PROFILES)}")
