"""A claim that loses a race in placement (409 "placement.concurrent_update")
is tried again with fresh allocation candidates, a bounded number of times;
a claim refused for lack of room is not."""
import json

import pytest

from compute_core import exception
from compute_core.placement_client.client import ClaimRefused
from compute_core.scheduler import manager
from tests.unit.scheduler.factories import (AllPlacement, StaticHostManager, make_conf,
                                            make_host, make_spec)


def refusal(code):
    return ClaimRefused(409, json.dumps({"errors": [{
        "status": 409, "title": "Conflict", "detail": "...", "code": code}]}))


class RefusingPlacement(AllPlacement):
    """Refuses the first *refusals* claims with the given codes."""

    def __init__(self, hosts, refusals):
        super().__init__(hosts)
        self.refusals = list(refusals)
        self.asked = 0
        self.attempts = []

    def allocation_candidates(self, *args, **kwargs):
        self.asked += 1
        return super().allocation_candidates(*args, **kwargs)

    def claim(self, uuid, alloc_req, project_id, user_id):
        self.attempts.append((uuid, next(iter(alloc_req["allocations"]))))
        if self.refusals:
            return refusal(self.refusals.pop(0))
        return super().claim(uuid, alloc_req, project_id, user_id)


def scheduler(refusals, hosts=2):
    states = [make_host(f"h{i}", free_ram_mb=8192 * (i + 1)) for i in range(hosts)]
    placement = RefusingPlacement(states, refusals)
    return manager.FilterScheduler(make_conf(), StaticHostManager(states), placement), placement


RACE, FULL = "placement.concurrent_update", "placement.undefined_code"


def test_a_refusal_reads_its_code():
    assert refusal(RACE).raced and not refusal(RACE)
    assert not refusal(FULL).raced
    assert not ClaimRefused(409, "not json").raced


def test_claims_that_lost_races_on_every_host_get_fresh_candidates():
    # Both hosts refuse (races), then the next round's first claim holds.
    sched, placement = scheduler([RACE, RACE])
    result = sched.select(None, make_spec(), ["i1"])
    assert result[0][0]["service_host"] == "h1"  # the roomier host
    assert placement.asked == 2
    assert len(placement.attempts) == 3 and "i1" in placement.claims


def test_a_race_on_one_host_moves_on_to_the_next_in_the_same_round():
    sched, placement = scheduler([RACE])
    assert sched.select(None, make_spec(), ["i1"])[0][0]["service_host"] == "h0"
    assert placement.asked == 1


def test_races_are_retried_a_bounded_number_of_times():
    rounds = manager.FilterScheduler.CLAIM_ROUNDS
    sched, placement = scheduler([RACE] * 2 * rounds)
    with pytest.raises(exception.NoValidHost) as caught:
        sched.select(None, make_spec(), ["i1"])
    assert type(caught.value) is exception.NoValidHost
    assert caught.value.message == ("No valid host was found. There are not enough hosts "
                                    "available.")
    assert placement.asked == rounds
    assert len(placement.attempts) == 2 * rounds
    assert placement.claims == {}


def test_no_room_is_no_valid_host_at_once():
    sched, placement = scheduler([FULL, FULL])
    with pytest.raises(exception.NoValidHost):
        sched.select(None, make_spec(), ["i1"])
    assert placement.asked == 1


def test_a_round_that_fails_gives_back_the_claims_it_made():
    # Two instances: the first is claimed, the second loses both races; the
    # first claim is released and both are placed in the next round.
    sched, placement = scheduler([])
    real_claim = placement.claim
    released = []
    placement.delete_allocations = lambda uuid: (released.append(uuid),
                                                 placement.claims.pop(uuid, None))

    def claim(uuid, alloc_req, project_id, user_id):
        if uuid == "i2" and placement.asked == 1:
            placement.attempts.append((uuid, None))
            return refusal(RACE)
        return real_claim(uuid, alloc_req, project_id, user_id)

    placement.claim = claim
    result = sched.select(None, make_spec(), ["i1", "i2"])
    assert released == ["i1"]
    assert len(result) == 2 and set(placement.claims) == {"i1", "i2"}
    assert placement.asked == 2
