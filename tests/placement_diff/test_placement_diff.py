"""CI run of the differential tests: the hand-written scenarios and a
bounded number of state-machine examples on SQLite, under each policy
profile (the state machine under the default one); fails on any difference not in runner.ALLOWED (README.md,
"Placement differential tests")."""
from __future__ import annotations

import io
import os

import pytest

from compute_core.testing import placement_services as services
from tests.placement_diff import profiles, runner

EXAMPLES = int(os.environ.get("PLACEMENT_DIFF_EXAMPLES", "15"))


@pytest.fixture(scope="module")
def reference_venv():
    if not services.reference_venv_ready():
        pytest.skip(f"no openstack-placement 16 virtualenv at {services.DEFAULT_REFERENCE_VENV}"
                    " (.ci/setup makes it: python -m compute_core.testing.placement_services)")
    return services.DEFAULT_REFERENCE_VENV


@pytest.mark.parametrize("profile", profiles.PROFILES, ids=list(profiles.PROFILES))
def test_same_answers_as_openstack_placement(reference_venv, profile):
    out = io.StringIO()
    # the state machine under Placement's default profile; the scenarios
    # (which include callers of every role and scope) under each
    examples = EXAMPLES if profile == profiles.PROFILES[0] else 0
    cmp = runner.run("sqlite://", profile, examples=examples, steps=20, seed=0, out=out)
    print(out.getvalue())
    assert cmp.compared > 500, "too few requests compared: the scenarios did not run"
    assert not cmp.differences, (
        f"{len(cmp.differences)} of {cmp.compared} requests answered differently from "
        "openstack-placement 16:\n" + "\n".join(d.render() for d in cmp.differences[:40]))
