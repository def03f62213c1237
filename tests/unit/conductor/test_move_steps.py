"""A move step whose compute host does not answer becomes an error answer
(the move then records a fault and puts the allocations back)."""
import oslo_messaging as messaging

from compute_core.conductor.manager import ConductorManager


def test_a_step_that_times_out_is_an_error_answer():
    def migrate_disk_and_power_off(*args):
        raise messaging.MessagingTimeout("no reply from compute.host1")

    answer = ConductorManager._step(migrate_disk_and_power_off, "ctxt", "host1")
    assert answer == {"error": "The compute host did not complete the step: "
                               "no reply from compute.host1"}


def test_a_step_passes_its_answer_through():
    assert ConductorManager._step(lambda *a: {"disk_info": a}, 1, 2) == {"disk_info": (1, 2)}
    assert ConductorManager._step(lambda: None) == {}
