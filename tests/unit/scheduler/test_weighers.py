"""The standard weighers: raw values, multipliers (options and per-aggregate
overrides), normalisation and how they combine."""
import pytest

from compute_core.scheduler import weights
from tests.unit.scheduler.factories import (aggregate, indexed, instances, load_weigher,
                                            make_conf, make_host, make_spec)


def _weighed(weighers, hosts, spec):
    """weigh_hosts over a plain list and over an indexed HostStates (as the
    host manager gives it), which must agree."""
    plain = weights.weigh_hosts(weighers, list(hosts), spec)
    narrowed = weights.weigh_hosts(weighers, indexed(hosts), spec)
    assert [(round(w, 9), h.host) for w, h in plain] == \
        [(round(w, 9), h.host) for w, h in narrowed]
    return plain


def ranked(weighers, hosts, spec=None):
    return [h.host for _, h in _weighed(weighers, hosts, spec or make_spec())]


def totals(weighers, hosts, spec=None):
    return {h.host: round(w, 6) for w, h in _weighed(weighers, hosts, spec or make_spec())}


class TestNormalize:
    def test_spreads_values_over_zero_to_one(self):
        assert weights.normalize([10, 20, 30]) == [0.0, 0.5, 1.0]

    def test_equal_values_are_zero(self):
        assert weights.normalize([5, 5]) == [0.0, 0.0]
        assert weights.normalize([]) == []

    def test_explicit_bounds_clip(self):
        assert weights.normalize([0, 5, 20], minval=0, maxval=10) == [0.0, 0.5, 1.0]


class TestResourceWeighers:
    def _hosts(self):
        return [make_host("small", free_ram_mb=1024, vcpus_total=8, vcpus_used=6,
                          free_disk_mb=10240),
                make_host("big", free_ram_mb=8192, vcpus_total=8, vcpus_used=0,
                          free_disk_mb=102400)]

    @pytest.mark.parametrize("name", ["RAMWeigher", "CPUWeigher", "DiskWeigher"])
    def test_spread_by_default(self, name):
        assert ranked([load_weigher(name)], self._hosts()) == ["big", "small"]

    @pytest.mark.parametrize("name,option", [("RAMWeigher", "ram_weight_multiplier"),
                                             ("CPUWeigher", "cpu_weight_multiplier"),
                                             ("DiskWeigher", "disk_weight_multiplier")])
    def test_negative_multiplier_stacks(self, name, option):
        conf = make_conf(**{f"filter_scheduler__{option}": -1.0})
        assert ranked([load_weigher(name, conf)], self._hosts()) == ["small", "big"]

    def test_cpu_counts_the_allocation_ratio(self):
        weigher = load_weigher("CPUWeigher")
        host = make_host(vcpus_total=8, vcpus_used=10, cpu_allocation_ratio=4.0)
        assert weigher.weigh_objects([host], make_spec()) == [22.0]

    def test_multiplier_scales_the_normalised_weight(self):
        conf = make_conf(filter_scheduler__ram_weight_multiplier=3.0)
        assert totals([load_weigher("RAMWeigher", conf)], self._hosts()) == \
            {"big": 3.0, "small": 0.0}

    def test_aggregate_overrides_the_multiplier(self):
        hosts = self._hosts()
        hosts[1].aggregates = [aggregate({"ram_weight_multiplier": "-2.0"}, 1),
                               aggregate({"ram_weight_multiplier": "-1.0"}, 2)]
        weigher = load_weigher("RAMWeigher")
        assert weigher.weight_multiplier(hosts[1]) == -2.0  # the smallest wins
        assert weigher.weight_multiplier(hosts[0]) == 1.0
        assert weigher.weight_multipliers(hosts) == [1.0, -2.0]
        assert totals([weigher], hosts) == {"big": -2.0, "small": 0.0}

    def test_bad_aggregate_multiplier_falls_back_to_the_option(self):
        host = make_host(aggregates=[aggregate({"ram_weight_multiplier": "lots"})])
        assert load_weigher("RAMWeigher").weight_multiplier(host) == 1.0


class TestLoadWeighers:
    def test_io_ops_prefers_quiet_hosts(self):
        hosts = [make_host("busy", num_io_ops=4), make_host("quiet", num_io_ops=1)]
        assert ranked([load_weigher("IoOpsWeigher")], hosts) == ["quiet", "busy"]
        # minval 0: weights are relative to an idle host, not the quietest one.
        assert totals([load_weigher("IoOpsWeigher")], hosts) == {"quiet": -0.25, "busy": -1.0}

    def test_num_instances_is_off_by_default(self):
        hosts = [make_host("full", num_instances=9), make_host("empty", num_instances=0)]
        assert totals([load_weigher("NumInstancesWeigher")], hosts) == {"full": 0, "empty": 0}
        conf = make_conf(filter_scheduler__num_instances_weight_multiplier=-1.0)
        assert ranked([load_weigher("NumInstancesWeigher", conf)], hosts) == ["empty", "full"]

    def test_zero_multiplier_turned_on_by_an_aggregate(self):
        hosts = [make_host("full", num_instances=9),
                 make_host("empty", num_instances=0,
                           aggregates=[aggregate({"num_instances_weight_multiplier": "5"})])]
        assert totals([load_weigher("NumInstancesWeigher")], hosts) == {"full": 0, "empty": 0}
        hosts[0].aggregates = hosts[1].aggregates
        assert totals([load_weigher("NumInstancesWeigher")], hosts) == {"full": 5, "empty": 0}


class TestComputeNodeWeighers:
    def test_build_failures_sink_a_host(self):
        hosts = [make_host("flaky", failed_builds=3, free_ram_mb=99999),
                 make_host("steady", failed_builds=0, free_ram_mb=1)]
        weighers = [load_weigher("BuildFailureWeigher"), load_weigher("RAMWeigher")]
        assert ranked(weighers, hosts) == ["steady", "flaky"]
        assert totals(weighers, hosts)["flaky"] == 1.0 - 1000000.0

    def test_build_failure_multiplier_zero_disables(self):
        conf = make_conf(filter_scheduler__build_failure_weight_multiplier=0.0)
        hosts = [make_host("flaky", failed_builds=3), make_host("steady")]
        assert totals([load_weigher("BuildFailureWeigher", conf)], hosts) == \
            {"flaky": 0, "steady": 0}

    def test_hypervisor_version(self):
        hosts = [make_host("old", hypervisor_version=6000000),
                 make_host("new", hypervisor_version=8000000)]
        assert ranked([load_weigher("HypervisorVersionWeigher")], hosts) == ["new", "old"]
        conf = make_conf(filter_scheduler__hypervisor_version_weight_multiplier=-1.0)
        assert ranked([load_weigher("HypervisorVersionWeigher", conf)], hosts) == ["old", "new"]

    def test_cross_cell(self):
        hosts = [make_host("other", cell_uuid="cell2"), make_host("home", cell_uuid="cell1")]
        weigher = load_weigher("CrossCellWeigher")
        move = make_spec(requested_destination={"cell": {"uuid": "cell1"},
                                                "allow_cross_cell_move": True})
        assert ranked([weigher], hosts, move) == ["home", "other"]
        assert totals([weigher], hosts, move)["home"] == 1000000.0
        assert totals([weigher], hosts, make_spec()) == {"other": 0, "home": 0}
        same_cell = make_spec(requested_destination={"cell": {"uuid": "cell1"}})
        assert totals([weigher], hosts, same_cell) == {"other": 0, "home": 0}


def _group(policy, members):
    return {"policy": policy, "members": members, "hosts": [], "rules": {}}


class TestServerGroupSoftWeighers:
    def _hosts(self):
        return [make_host("two", instances=instances("m1", "m2")),
                make_host("one", instances=instances("m3")),
                make_host("zero")]

    def test_soft_affinity_packs(self):
        spec = make_spec(instance_group=_group("soft-affinity", ["m1", "m2", "m3"]))
        weigher = load_weigher("ServerGroupSoftAffinityWeigher")
        assert ranked([weigher], self._hosts(), spec) == ["two", "one", "zero"]
        assert weigher._weigh_object(self._hosts()[0], spec) == 2

    def test_soft_anti_affinity_spreads(self):
        spec = make_spec(instance_group=_group("soft-anti-affinity", ["m1", "m2", "m3"]))
        weigher = load_weigher("ServerGroupSoftAntiAffinityWeigher")
        assert ranked([weigher], self._hosts(), spec) == ["zero", "one", "two"]
        assert weigher._weigh_object(self._hosts()[0], spec) == -2

    def test_other_policies_weigh_nothing(self):
        spec = make_spec(instance_group=_group("anti-affinity", ["m1", "m2", "m3"]))
        for name in ("ServerGroupSoftAffinityWeigher", "ServerGroupSoftAntiAffinityWeigher"):
            assert set(totals([load_weigher(name)], self._hosts(), spec).values()) == {0}

    def test_multiplier_option(self):
        conf = make_conf(filter_scheduler__soft_affinity_weight_multiplier=4.0)
        spec = make_spec(instance_group=_group("soft-affinity", ["m1", "m2", "m3"]))
        weigher = load_weigher("ServerGroupSoftAffinityWeigher", conf)
        assert totals([weigher], self._hosts(), spec) == {"two": 4.0, "one": 2.0, "zero": 0.0}


class TestMetricsWeigher:
    def _hosts(self):
        return [make_host("hot", metrics={"cpu.percent": {"value": 90}}),
                make_host("cool", metrics={"cpu.percent": {"value": 10}}),
                make_host("blind")]

    def test_weighted_sum(self):
        conf = make_conf(metrics__weight_setting=["cpu.percent=-1.0"], metrics__required=False)
        weigher = load_weigher("MetricsWeigher", conf)
        assert weigher.weigh_objects(self._hosts()[:2], make_spec()) == [-90.0, -10.0]
        assert ranked([weigher], self._hosts()) == ["cool", "hot", "blind"]
        assert weigher.weigh_objects(self._hosts()[2:], make_spec()) == [-10000.0]

    def test_required_metric_missing_weighs_zero(self):
        conf = make_conf(metrics__weight_setting=["cpu.percent=-1.0"])
        weigher = load_weigher("MetricsWeigher", conf)
        assert weigher.weigh_objects(self._hosts(), make_spec()) == [-90.0, -10.0, 0.0]

    def test_metrics_multiplier_and_aggregate_key(self):
        conf = make_conf(metrics__weight_setting=["cpu.percent=1"], metrics__weight_multiplier=2.0)
        weigher = load_weigher("MetricsWeigher", conf)
        host = make_host(aggregates=[aggregate({"metrics_weight_multiplier": "0.5"})])
        assert weigher.weight_multiplier(make_host()) == 2.0
        assert weigher.weight_multiplier(host) == 0.5

    def test_no_setting_weighs_nothing(self):
        assert load_weigher("MetricsWeigher").weigh_objects(self._hosts(), make_spec()) == \
            [0.0, 0.0, 0.0]

    def test_malformed_setting_entries_are_skipped(self):
        conf = make_conf(metrics__weight_setting=["cpu.percent=-1", "oops", "x=notanumber"])
        assert load_weigher("MetricsWeigher", conf).setting == [("cpu.percent", -1.0)]


class TestImagePropertiesWeigher:
    def _hosts(self):
        ubuntu = {"os_distro": "ubuntu", "hw_machine_type": "q35"}
        return [make_host("ubuntu", instances=instances("a", "b", image_properties=ubuntu)),
                make_host("mixed", instances={
                    "c": {"uuid": "c", "image_meta": {"properties": {"os_distro": "ubuntu"}}},
                    "d": {"uuid": "d", "image_properties": {"os_distro": "windows"}}}),
                make_host("empty")]

    def _spec(self):
        return make_spec(image_props={"os_distro": "ubuntu", "hw_machine_type": "q35"})

    def test_off_by_default(self):
        assert set(totals([load_weigher("ImagePropertiesWeigher")], self._hosts(),
                          self._spec()).values()) == {0}

    def test_counts_shared_properties(self):
        conf = make_conf(filter_scheduler__image_props_weight_multiplier=1.0)
        weigher = load_weigher("ImagePropertiesWeigher", conf)
        assert weigher.weigh_objects(self._hosts(), self._spec()) == [4.0, 1.0, 0.0]
        conf = make_conf(filter_scheduler__image_props_weight_multiplier=-1.0)
        assert ranked([load_weigher("ImagePropertiesWeigher", conf)], self._hosts(),
                      self._spec()) == ["empty", "mixed", "ubuntu"]

    def test_weight_setting(self):
        conf = make_conf(filter_scheduler__image_props_weight_multiplier=1.0,
                         filter_scheduler__image_props_weight_setting=["hw_machine_type=-3"])
        weigher = load_weigher("ImagePropertiesWeigher", conf)
        assert weigher.weigh_objects(self._hosts(), self._spec()) == [-6.0, 0.0, 0.0]


class TestCombination:
    def test_weighers_add_up_after_normalisation(self):
        hosts = [make_host("ram", free_ram_mb=8192, free_disk_mb=1024),
                 make_host("disk", free_ram_mb=1024, free_disk_mb=8192),
                 make_host("both", free_ram_mb=8192, free_disk_mb=8192)]
        conf = make_conf(filter_scheduler__disk_weight_multiplier=2.0)
        weighers = [load_weigher("RAMWeigher", conf), load_weigher("DiskWeigher", conf)]
        assert totals(weighers, hosts) == {"both": 3.0, "disk": 2.0, "ram": 1.0}
        assert ranked(weighers, hosts) == ["both", "disk", "ram"]

    def test_ties_keep_host_order(self):
        hosts = [make_host(f"h{i}") for i in range(5)]
        assert ranked([load_weigher("RAMWeigher")], hosts) == ["h0", "h1", "h2", "h3", "h4"]
