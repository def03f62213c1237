"""The Compute API status of the move states."""
import pytest

from compute_core.compute import states


@pytest.mark.parametrize(("vm_state", "task_state", "status"), [
    (states.ACTIVE, states.RESIZE_PREP, "RESIZE"),
    (states.ACTIVE, states.RESIZE_MIGRATING, "RESIZE"),
    (states.STOPPED, states.RESIZE_MIGRATING, "RESIZE"),
    (states.ACTIVE, states.RESIZE_FINISH, "RESIZE"),
    (states.RESIZED, None, "VERIFY_RESIZE"),
    (states.RESIZED, states.RESIZE_CONFIRMING, "VERIFY_RESIZE"),
    (states.RESIZED, states.RESIZE_REVERTING, "REVERT_RESIZE"),
    (states.ERROR, states.RESIZE_MIGRATING, "ERROR"),
    (states.ACTIVE, None, "ACTIVE"),
])
def test_move_states(vm_state, task_state, status):
    assert states.status_from_state(vm_state, task_state) == status


@pytest.mark.parametrize(("vm_state", "task_state", "status"), [
    (states.ACTIVE, states.REBUILDING, "REBUILD"),
    (states.ACTIVE, states.REBUILD_SPAWNING, "REBUILD"),
    (states.STOPPED, states.REBUILDING, "REBUILD"),
    (states.ERROR, states.REBUILD_SPAWNING, "REBUILD"),
    (states.ACTIVE, states.UPDATING_PASSWORD, "PASSWORD"),
    (states.ACTIVE, states.MIGRATING, "MIGRATING"),
    (states.ACTIVE, states.RESCUING, "ACTIVE"),
    (states.RESCUED, None, "RESCUE"),
    (states.SHELVED, None, "SHELVED"),
    (states.SHELVED_OFFLOADED, states.UNSHELVING, "SHELVED_OFFLOADED"),
    (states.SOFT_DELETED, None, "SOFT_DELETED"),
])
def test_action_states(vm_state, task_state, status):
    assert states.status_from_state(vm_state, task_state) == status
