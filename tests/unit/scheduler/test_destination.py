"""A request's requested destination (a server's host at 2.74, migrate's
host at 2.56) and forced hosts in FilterScheduler.select."""
import pytest

from compute_core import exception
from compute_core.scheduler import manager
from tests.unit.scheduler.factories import (AllPlacement, StaticHostManager, make_conf,
                                            make_host, make_spec)


def _scheduler(hosts, **conf):
    placement = AllPlacement(hosts)
    return manager.FilterScheduler(make_conf(**conf), StaticHostManager(hosts), placement), \
        placement


def _hosts():
    # h3 has the most free RAM (the weighers' favourite) and h2 is down.
    return [make_host("h1", free_ram_mb=4096),
            make_host("h2", service={"up": False, "disabled": False}),
            make_host("h3", free_ram_mb=30000)]


def _chosen(result):
    return [sel["service_host"] for sel in result[0]]


def test_without_destination_the_weighers_choose():
    sched, placement = _scheduler(_hosts())
    assert _chosen(sched.select(None, make_spec(), ["i1"]))[0] == "h3"
    assert placement.asked_in_tree == [None]


def test_a_requested_host_is_the_only_candidate_and_has_no_alternates():
    sched, _ = _scheduler(_hosts())
    spec = make_spec(requested_destination={"host": "h1"})
    assert _chosen(sched.select(None, spec, ["i1"])) == ["h1"]


def test_a_requested_node_uuid_narrows_placements_query():
    sched, placement = _scheduler(_hosts())
    spec = make_spec(requested_destination={"host": "h1", "node_uuid": "uuid-h1"})
    assert _chosen(sched.select(None, spec, ["i1"])) == ["h1"]
    assert placement.asked_in_tree == ["uuid-h1"]


def test_a_requested_node_must_match_too():
    sched, _ = _scheduler(_hosts())
    spec = make_spec(requested_destination={"host": "h1", "node": "other-node"})
    with pytest.raises(exception.NoValidHost):
        sched.select(None, spec, ["i1"])


def test_the_filters_still_judge_a_requested_host():
    sched, _ = _scheduler(_hosts())
    spec = make_spec(requested_destination={"host": "h2"})  # down: ComputeFilter says no
    with pytest.raises(exception.NoValidHost):
        sched.select(None, spec, ["i1"])


def test_forced_hosts_skip_the_filters():
    sched, _ = _scheduler(_hosts())
    assert _chosen(sched.select(None, make_spec(force_hosts=["h2"]), ["i1"])) == ["h2"]
    assert _chosen(sched.select(None, make_spec(force_nodes=["h1-node"]), ["i2"])) == ["h1"]


def test_an_ignored_requested_host_is_no_valid_host():
    sched, _ = _scheduler(_hosts())
    spec = make_spec(requested_destination={"host": "h1"}, ignore_hosts=["h1"])
    with pytest.raises(exception.NoValidHost):
        sched.select(None, spec, ["i1"])
