"""SameHostFilter, DifferentHostFilter, SimpleCIDRAffinityFilter and the
server group (anti-)affinity filters."""
import pytest

from compute_core import exception
from compute_core.scheduler import manager
from compute_core.scheduler.filters import HostStates
from tests.unit.scheduler.factories import (AllPlacement, StaticHostManager, instances,
                                            load_filter, make_conf, make_host, make_spec,
                                            passing)


def _hosts():
    return [make_host("h1", instances=instances("a", "b")),
            make_host("h2", instances=instances("c")),
            make_host("h3")]


class TestSameAndDifferentHost:
    def test_same_host(self):
        flt = load_filter("SameHostFilter")
        assert passing(flt, _hosts(), make_spec(scheduler_hints={"same_host": ["a"]})) == ["h1"]
        assert passing(flt, _hosts(), make_spec(scheduler_hints={"same_host": "c"})) == ["h2"]
        # Any one of the listed servers is enough.
        hint = {"same_host": ["a", "c"]}
        assert passing(flt, _hosts(), make_spec(scheduler_hints=hint)) == ["h1", "h2"]
        assert passing(flt, _hosts(), make_spec()) == ["h1", "h2", "h3"]

    def test_different_host(self):
        flt = load_filter("DifferentHostFilter")
        hint = {"different_host": ["a", "c"]}
        assert passing(flt, _hosts(), make_spec(scheduler_hints=hint)) == ["h3"]
        assert passing(flt, _hosts(), make_spec(scheduler_hints={"different_host": "b"})) \
            == ["h2", "h3"]
        assert passing(flt, _hosts(), make_spec()) == ["h1", "h2", "h3"]

    def test_once_per_request(self):
        assert not load_filter("SameHostFilter").run_filter_for_index(1)
        assert not load_filter("DifferentHostFilter").run_filter_for_index(1)


class TestSimpleCIDRAffinity:
    def test_build_near_host_ip(self):
        flt = load_filter("SimpleCIDRAffinityFilter")
        hosts = [make_host("near", host_ip="192.168.1.20"),
                 make_host("far", host_ip="192.168.2.20"),
                 make_host("noip", host_ip=None)]
        spec = make_spec(scheduler_hints={"build_near_host_ip": "192.168.1.1"})
        assert passing(flt, hosts, spec) == ["near"]
        spec = make_spec(scheduler_hints={"build_near_host_ip": ["192.168.1.1"],
                                          "cidr": ["/16"]})
        assert passing(flt, hosts, spec) == ["near", "far"]
        assert passing(flt, hosts, make_spec()) == ["near", "far", "noip"]

    def test_bad_address_fails_every_host(self):
        flt = load_filter("SimpleCIDRAffinityFilter")
        spec = make_spec(scheduler_hints={"build_near_host_ip": "not-an-ip"})
        assert passing(flt, [make_host()], spec) == []


def _group(policy, members=(), hosts=(), rules=None):
    return {"policy": policy, "members": list(members), "hosts": list(hosts),
            "rules": rules or {}}


class TestServerGroupAntiAffinity:
    def test_one_member_per_host(self):
        flt = load_filter("ServerGroupAntiAffinityFilter")
        spec = make_spec(instance_group=_group("anti-affinity", ["a", "c"]))
        assert passing(flt, _hosts(), spec) == ["h3"]

    def test_max_server_per_host_rule(self):
        flt = load_filter("ServerGroupAntiAffinityFilter")
        spec = make_spec(instance_group=_group("anti-affinity", ["a", "b", "c"],
                                               rules={"max_server_per_host": "2"}))
        assert passing(flt, _hosts(), spec) == ["h2", "h3"]

    def test_host_already_running_the_instance_passes(self):
        flt = load_filter("ServerGroupAntiAffinityFilter")
        spec = make_spec(instance_uuid="a", instance_group=_group("anti-affinity", ["a", "b"]))
        assert passing(flt, _hosts(), spec) == ["h1", "h2", "h3"]

    def test_instances_of_the_same_request_count_as_members(self):
        flt = load_filter("ServerGroupAntiAffinityFilter")
        hosts = _hosts()
        spec = make_spec(instance_uuid="new2", instance_uuids=["new1", "new2"],
                         instance_group=_group("anti-affinity", []))
        hosts[2].instances.update(instances("new1"))  # placed a moment ago
        assert passing(flt, hosts, spec) == ["h1", "h2"]

    def test_other_policies_pass_everything(self):
        flt = load_filter("ServerGroupAntiAffinityFilter")
        for group in (None, _group("affinity", ["a"]), _group("soft-anti-affinity", ["a"])):
            assert passing(flt, _hosts(), make_spec(instance_group=group)) == ["h1", "h2", "h3"]

    def test_legacy_policies_list(self):
        flt = load_filter("ServerGroupAntiAffinityFilter")
        group = {"policies": ["anti-affinity"], "members": ["a"]}
        assert passing(flt, _hosts(), make_spec(instance_group=group)) == ["h2", "h3"]


class TestServerGroupAffinity:
    def test_group_hosts(self):
        flt = load_filter("ServerGroupAffinityFilter")
        spec = make_spec(instance_group=_group("affinity", [], hosts=["h2"]))
        assert passing(flt, _hosts(), spec) == ["h2"]
        assert flt.host_passes(_hosts()[1], spec)
        assert not flt.host_passes(_hosts()[0], spec)

    def test_hosts_running_members(self):
        flt = load_filter("ServerGroupAffinityFilter")
        spec = make_spec(instance_group=_group("affinity", ["c", "zzz"]))
        assert passing(flt, _hosts(), spec) == ["h2"]

    def test_new_group_goes_anywhere(self):
        flt = load_filter("ServerGroupAffinityFilter")
        spec = make_spec(instance_group=_group("affinity", ["new1"]))
        assert passing(flt, _hosts(), spec) == ["h1", "h2", "h3"]

    def test_other_policies_pass_everything(self):
        flt = load_filter("ServerGroupAffinityFilter")
        spec = make_spec(instance_group=_group("anti-affinity", ["c"], hosts=["h2"]))
        assert passing(flt, _hosts(), spec) == ["h1", "h2", "h3"]


class TestGroupsAcrossOneRequest:
    """The servers of one multi-server request are placed one after the
    other: the index does not know them, the request's own record does."""

    def _select(self, policy, count=3):
        hosts = [make_host(f"h{i}", instances=instances(f"old{i}")) for i in range(4)]
        sched = manager.FilterScheduler(make_conf(), StaticHostManager(hosts), AllPlacement(hosts))
        new = [f"new{i}" for i in range(count)]
        spec = make_spec(instance_uuids=new, instance_group=_group(policy, ["old1"]))
        return [sel[0]["service_host"] for sel in sched.select(None, spec, new)]

    def test_anti_affinity_spreads_the_request(self):
        chosen = self._select("anti-affinity")
        assert len(set(chosen)) == 3 and "h1" not in chosen

    def test_affinity_packs_the_request_with_the_group(self):
        assert self._select("affinity") == ["h1", "h1", "h1"]

    def test_anti_affinity_runs_out_of_hosts(self):
        with pytest.raises(exception.NoValidHost):
            self._select("anti-affinity", count=4)  # h1 already holds a member


def test_a_broken_index_falls_back_to_checking_every_host(caplog):
    def broken(uuid):
        raise RuntimeError("index gone")
    flt = load_filter("ServerGroupAntiAffinityFilter")
    spec = make_spec(instance_group=_group("anti-affinity", ["a", "c"]))
    hosts = HostStates(_hosts(), locate=broken)
    assert [h.host for h in flt.filter_all(hosts, spec)] == ["h3"]
    assert "cannot narrow the hosts" in caplog.text
