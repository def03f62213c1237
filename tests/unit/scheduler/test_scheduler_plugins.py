"""Loading filters and weighers by name, the default set, what happens when
a plugin raises, and host_subset_size."""
import logging
import random

import pytest

from compute_core import exception, plugins
from compute_core.scheduler import manager, weights
from compute_core.scheduler.filters import BaseHostFilter
from compute_core.scheduler.weights import BaseHostWeigher
from tests.unit.scheduler.factories import (load_filter, load_weigher, make_conf, make_host,
                                            make_spec)

STANDARD_FILTERS = {
    "AvailabilityZoneFilter", "ComputeFilter", "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter", "ServerGroupAffinityFilter", "ServerGroupAntiAffinityFilter",
    "SameHostFilter", "DifferentHostFilter", "SimpleCIDRAffinityFilter",
    "AggregateInstanceExtraSpecsFilter", "AggregateImagePropertiesIsolation",
    "AggregateMultiTenancyIsolation", "AggregateNumInstancesFilter", "AggregateIoOpsFilter",
    "IsolatedHostsFilter", "NumInstancesFilter", "IoOpsFilter", "JsonFilter", "MetricsFilter",
    "PciPassthroughFilter", "NUMATopologyFilter"}
STANDARD_WEIGHERS = {
    "RAMWeigher", "CPUWeigher", "DiskWeigher", "IoOpsWeigher", "NumInstancesWeigher",
    "MetricsWeigher", "ServerGroupSoftAffinityWeigher", "ServerGroupSoftAntiAffinityWeigher",
    "BuildFailureWeigher", "CrossCellWeigher", "HypervisorVersionWeigher",
    "ImagePropertiesWeigher"}


class TestLoading:
    def test_every_standard_plugin_is_installed_and_loads(self):
        assert STANDARD_FILTERS <= set(plugins.installed(plugins.FILTERS))
        assert STANDARD_WEIGHERS <= set(plugins.installed(plugins.WEIGHERS))
        conf = make_conf(filter_scheduler__enabled_filters=sorted(STANDARD_FILTERS),
                         filter_scheduler__weighers=sorted(STANDARD_WEIGHERS))
        filters = manager.load_filters(conf)
        assert [type(f).__name__ for f in filters] == sorted(STANDARD_FILTERS)
        assert all(isinstance(f, BaseHostFilter) for f in filters)
        assert all(isinstance(w, BaseHostWeigher) for w in manager.load_weighers(conf))

    def test_default_filters_are_novas_plus_availability_zones(self):
        filters = manager.load_filters(make_conf())
        assert [type(f).__name__ for f in filters] == [
            "AvailabilityZoneFilter", "ComputeFilter", "ComputeCapabilitiesFilter", "ImagePropertiesFilter",
            "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter"]

    def test_all_weighers(self):
        weighers = manager.load_weighers(make_conf())  # default: all
        names = [type(w).__name__ for w in weighers]
        assert names == plugins.installed(plugins.WEIGHERS)
        assert STANDARD_WEIGHERS <= set(names)

    @pytest.mark.parametrize("option,group", [
        ("filter_scheduler__enabled_filters", plugins.FILTERS),
        ("filter_scheduler__weighers", plugins.WEIGHERS)])
    def test_missing_plugin_is_one_clear_error(self, option, group):
        conf = make_conf(**{option: ["ComputeFilter", "NoSuchPlugin"]
                            if group == plugins.FILTERS else ["RAMWeigher", "NoSuchPlugin"]})
        load = manager.load_filters if group == plugins.FILTERS else manager.load_weighers
        with pytest.raises(exception.PluginLoadError) as err:
            load(conf)
        message = str(err.value)
        assert "\n" not in message
        assert "'NoSuchPlugin'" in message and group in message
        for name in plugins.installed(group):
            assert name in message

    def test_weigher_named_as_a_filter_is_not_found(self):
        conf = make_conf(filter_scheduler__enabled_filters=["RAMWeigher"])
        with pytest.raises(exception.PluginLoadError, match=plugins.FILTERS):
            manager.load_filters(conf)


class _Exploding(BaseHostFilter):
    def host_passes(self, host_state, spec_obj):
        if host_state.host == "bad":
            raise RuntimeError("boom")
        return True


class _ExplodingWeigher(BaseHostWeigher):
    def _weigh_object(self, host_state, spec_obj):
        if host_state.host == "bad":
            raise RuntimeError("boom")
        return host_state.free_ram_mb


class _BrokenMultiplier(BaseHostWeigher):
    def weight_multiplier(self, host_state):
        raise RuntimeError("no multiplier")

    def _weigh_object(self, host_state, spec_obj):
        return host_state.free_ram_mb


class TestRobustness:
    def test_filter_that_raises_fails_only_that_host(self, caplog):
        hosts = [make_host("good"), make_host("bad")]
        with caplog.at_level(logging.WARNING):
            kept = list(_Exploding(make_conf()).filter_all(hosts, make_spec()))
        assert [h.host for h in kept] == ["good"]
        assert "bad" in caplog.text

    def test_standard_filter_raising_on_one_host(self):
        flt = load_filter("NumInstancesFilter")
        hosts = [make_host("good"), make_host("bad", num_instances=None)]
        assert [h.host for h in flt.filter_all(hosts, make_spec())] == ["good"]

    def test_weigher_that_raises_gives_zero(self, caplog):
        hosts = [make_host("good", free_ram_mb=100), make_host("bad", free_ram_mb=10 ** 6),
                 make_host("poor", free_ram_mb=50)]
        with caplog.at_level(logging.WARNING):
            raw = _ExplodingWeigher(make_conf()).weigh_objects(hosts, make_spec())
        assert raw == [100.0, 0.0, 50.0]
        assert "bad" in caplog.text

    def test_standard_weigher_with_a_bad_host(self):
        hosts = [make_host("good", free_ram_mb=100), make_host("bad", free_ram_mb=None)]
        assert load_weigher("RAMWeigher").weigh_objects(hosts, make_spec()) == [100.0, 0.0]

    def test_broken_multiplier_adds_nothing(self):
        hosts = [make_host("a", free_ram_mb=1), make_host("b", free_ram_mb=2)]
        result = weights.weigh_hosts([_BrokenMultiplier(make_conf())], hosts, make_spec())
        assert [w for w, _ in result] == [0.0, 0.0]

    def test_scheduler_survives_raising_plugins(self):
        sched = _scheduler()
        sched.filters.append(_Exploding(make_conf()))
        sched.weighers.append(_ExplodingWeigher(make_conf()))
        hosts = [make_host("bad", free_ram_mb=10 ** 6), make_host("good", free_ram_mb=10)]
        assert [h.host for h in sched.filter_and_weigh(hosts, make_spec())] == ["good"]


class _BrokenFilterAll(BaseHostFilter):
    """Decides all hosts at once, as the filter_all docstring invites, and
    raises there; its host_passes still works."""

    def host_passes(self, host_state, spec_obj):
        return host_state.host != "no"

    def filter_all(self, host_states, spec_obj):
        raise RuntimeError("bulk lookup failed")


class TestRaisingPluginsInTheScheduler:
    def test_a_raising_filter_all_falls_back_to_host_passes(self, caplog):
        sched = _scheduler()
        sched.filters.append(_BrokenFilterAll(make_conf()))
        hosts = [make_host("yes", free_ram_mb=10), make_host("no", free_ram_mb=10 ** 6)]
        with caplog.at_level(logging.WARNING):
            assert [h.host for h in sched.filter_and_weigh(hosts, make_spec())] == ["yes"]
        lines = [r for r in caplog.records if "_BrokenFilterAll" in r.getMessage()]
        assert len(lines) == 1 and "bulk lookup failed" in lines[0].getMessage()
        assert lines[0].exc_info is None  # one line, not a traceback

    def test_a_filter_raising_on_many_hosts_logs_one_line(self, caplog):
        hosts = [make_host("bad") for _ in range(50)] + [make_host("good")]
        with caplog.at_level(logging.WARNING):
            kept = list(_Exploding(make_conf()).filter_all(hosts, make_spec()))
        assert [h.host for h in kept] == ["good"]
        lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(lines) == 1
        assert "50 host(s)" in lines[0].getMessage() and "boom" in lines[0].getMessage()
        assert lines[0].exc_info is None

    def test_a_weigher_raising_on_many_hosts_logs_one_line(self, caplog):
        hosts = [make_host("bad", free_ram_mb=i) for i in range(20)] + [make_host("good")]
        with caplog.at_level(logging.WARNING):
            raw = _ExplodingWeigher(make_conf()).weigh_objects(hosts, make_spec())
        assert raw[:20] == [0.0] * 20
        lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(lines) == 1 and "20 host(s)" in lines[0].getMessage()

    def test_a_broken_multiplier_logs_one_line(self, caplog):
        hosts = [make_host(f"h{i}", free_ram_mb=i) for i in range(10)]
        with caplog.at_level(logging.WARNING):
            weights.weigh_hosts([_BrokenMultiplier(make_conf())], hosts, make_spec())
        lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(lines) == 1 and "no multiplier" in lines[0].getMessage()


def _scheduler(**overrides):
    """A FilterScheduler with the standard weighers only (a third-party test
    weigher may be installed beside them)."""
    overrides.setdefault("filter_scheduler__weighers", sorted(STANDARD_WEIGHERS))
    return manager.FilterScheduler(make_conf(**overrides), None, None)


class TestFilterScheduler:
    def test_default_pipeline(self):
        sched = _scheduler()
        hosts = [make_host("down", service={"up": False}, free_ram_mb=10 ** 6),
                 make_host("small", free_ram_mb=1024),
                 make_host("big", free_ram_mb=65536)]
        spec = make_spec(image_props={"hw_architecture": "x86_64"})
        assert [h.host for h in sched.filter_and_weigh(hosts, spec)] == ["big", "small"]

    def test_once_per_request_filters_skip_later_instances(self):
        sched = _scheduler(filter_scheduler__enabled_filters=["AvailabilityZoneFilter"])
        spec = make_spec(availability_zone="elsewhere")
        assert sched.filter_and_weigh([make_host()], spec, index=0) == []
        assert len(sched.filter_and_weigh([make_host()], spec, index=1)) == 1

    def test_host_subset_size_picks_among_the_best(self):
        sched = _scheduler(filter_scheduler__host_subset_size=3)
        sched._random = random.Random(7)
        hosts = [make_host(f"h{i}", free_ram_mb=1000 * i) for i in range(10)]
        firsts = {sched._pick(sched.filter_and_weigh(hosts, make_spec()))[0].host
                  for _ in range(60)}
        assert firsts == {"h9", "h8", "h7"}

    def test_host_subset_size_one_is_deterministic(self):
        sched = _scheduler()
        hosts = [make_host(f"h{i}", free_ram_mb=1000 * i) for i in range(10)]
        assert {sched._pick(sched.filter_and_weigh(hosts, make_spec()))[0].host
                for _ in range(20)} == {"h9"}
