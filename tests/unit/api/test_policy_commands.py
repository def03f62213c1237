"""oslo.policy's commands find the Compute API's rules and enforcer through
the entry points setup.py declares (namespace compute_core), in a
subprocess as an operator runs them; etc/policy.yaml.sample is what the
sample generator writes."""
import ast
import importlib.metadata
import json
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
GROUPS = ("oslo.policy.policies", "oslo.policy.enforcer")


def _setup_entry_points() -> dict:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "ENTRY_POINTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no ENTRY_POINTS")


def test_setup_declares_the_policy_entry_points():
    declared = _setup_entry_points()
    assert declared["oslo.policy.policies"] == [
        "compute_core = compute_core.api.policy:list_rules"]
    assert declared["oslo.policy.enforcer"] == [
        "compute_core = compute_core.api.policy:get_enforcer"]


@pytest.fixture
def env(tmp_path):
    """The environment of a command: this checkout first on the path and,
    when the installed compute_core's metadata predates them (an editable
    install made from an older setup.py), setup.py's policy entry points in
    a dist-info of their own."""
    paths = [str(ROOT), str(ROOT / "plugins")]
    installed = {ep.name for group in GROUPS
                 for ep in importlib.metadata.entry_points(group=group)}
    if "compute_core" not in installed:
        site = tmp_path / "site"
        dist = site / "compute_core_policy_entry_points-0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\n"
                                       "Name: compute-core-policy-entry-points\nVersion: 0\n")
        declared = _setup_entry_points()
        (dist / "entry_points.txt").write_text("".join(
            f"[{group}]\n" + "".join(f"{line}\n" for line in declared[group]) + "\n"
            for group in GROUPS))
        paths.insert(0, str(site))
    out = dict(os.environ, PYTHONPATH=os.pathsep.join(paths),
               COMPUTE_CORE_CONFIG=str(tmp_path / "compute.conf"))
    return out


def _run(env, *args):
    command = shutil.which(args[0], path=env.get("PATH"))
    assert command, f"{args[0]} is not installed (oslo.policy provides it)"
    done = subprocess.run([command, *args[1:]], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_sample_in_etc_is_current(env, tmp_path):
    out = tmp_path / "policy.yaml.sample"
    _run(env, "oslopolicy-sample-generator", "--config-file",
         "etc/compute-policy-generator.conf", "--output-file", str(out))
    text = out.read_text()
    assert '#"os_compute_api:servers:index": "rule:project_reader_or_admin"' in text
    assert '#"os_compute_api:os-services:list": "rule:context_is_admin"' in text
    assert text == (ROOT / "etc" / "policy.yaml.sample").read_text(), (
        "etc/policy.yaml.sample is stale: run oslopolicy-sample-generator --config-file "
        "etc/compute-policy-generator.conf")


def test_policy_generator_and_checker(env, tmp_path):
    # An operator's policy file, named by the configuration the API reads
    (tmp_path / "policy.yaml").write_text('"os_compute_api:os-services:list": "role:reader"\n')
    (tmp_path / "compute.conf").write_text(
        f"[oslo_policy]\npolicy_file = {tmp_path / 'policy.yaml'}\n")
    effective = tmp_path / "effective.yaml"
    _run(env, "oslopolicy-policy-generator", "--namespace", "compute_core",
         "--output-file", str(effective))
    text = effective.read_text()
    assert '"os_compute_api:os-services:list": "role:reader"' in text  # the override
    assert '"os_compute_api:servers:delete": "rule:project_member_or_admin"' in text

    def check(roles, rule):
        access = tmp_path / "access.json"
        access.write_text(json.dumps({"token": {
            "roles": [{"name": r} for r in roles], "user": {"id": "u"},
            "project": {"id": "pa"}}}))
        return _run(env, "oslopolicy-checker", "--policy", str(effective), "--access",
                    str(access), "--rule", rule).strip()

    assert check(["reader"], "os_compute_api:servers:delete") == \
        "failed: os_compute_api:servers:delete"
    assert check(["member", "reader"], "os_compute_api:servers:delete") == \
        "passed: os_compute_api:servers:delete"
    assert check(["reader"], "os_compute_api:os-services:list") == \
        "passed: os_compute_api:os-services:list"
    assert check(["member"], "os_compute_api:os-hypervisors:list") == \
        "failed: os_compute_api:os-hypervisors:list"
