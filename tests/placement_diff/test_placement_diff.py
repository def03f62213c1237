"""CI run of the differential tests on SQLite; fails on any difference not
in runner.ALLOWED (README.md, "Placement differential tests").

Under Placement's default profile: every scenario, and a bounded number of
state-machine examples. Under the other profiles: the scenarios whose
answers a profile can change (a caller other than the admin, who passes
every rule of every profile; :func:`runner.decided_by_policy`). Each
profile's pair of services is started once and shared by its parts; the
parts are separate tests, so ``-n 2`` (xdist) runs them side by side.
"""
from __future__ import annotations

import contextlib
import io
import os

import pytest

from compute_core.testing import placement_services as services
from tests.placement_diff import profiles, runner

EXAMPLES = int(os.environ.get("PLACEMENT_DIFF_EXAMPLES", "15"))
DEFAULT = profiles.PROFILES[0]
PARTS = [(DEFAULT, "scenarios"), (DEFAULT, "state machine")] + [
    (profile, "policy scenarios") for profile in profiles.PROFILES[1:]]


@pytest.fixture(scope="module")
def service_pairs():
    """The services of each profile, started on first use, stopped with the
    module."""
    if not services.reference_venv_ready():
        pytest.skip(f"no openstack-placement 16 virtualenv at {services.DEFAULT_REFERENCE_VENV}"
                    " (.ci/setup makes it: python -m compute_core.testing.placement_services)")
    started = {}
    with contextlib.ExitStack() as stack:
        def pair(profile):
            if profile not in started:
                started[profile] = stack.enter_context(
                    runner.services_pair("sqlite://", profile))
            return started[profile]
        yield pair


@pytest.mark.parametrize(("profile", "part"), PARTS, ids=[f"{p}-{w}" for p, w in PARTS])
def test_same_answers_as_openstack_placement(service_pairs, profile, part):
    out = io.StringIO()
    cmp = runner.run(profile=profile, out=out, pair=service_pairs(profile),
                     with_scenarios=part != "state machine",
                     examples=EXAMPLES if part == "state machine" else 0, steps=20, seed=0,
                     policy_scenarios_only=part == "policy scenarios")
    print(out.getvalue())
    least = {"scenarios": 500, "state machine": 100, "policy scenarios": 50}[part]
    assert cmp.compared > least, f"too few requests compared: the {part} did not run"
    assert not cmp.differences, (
        f"{len(cmp.differences)} of {cmp.compared} requests answered differently from "
        "openstack-placement 16:\n" + "\n".join(d.render() for d in cmp.differences[:40]))
