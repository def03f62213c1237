"""JsonFilter (the query hint) and MetricsFilter."""
import json

from tests.unit.scheduler.factories import load_filter, make_conf, make_host, make_spec, passing


def _query(expr):
    return make_spec(scheduler_hints={"query": json.dumps(expr)})


class TestJsonFilter:
    def _hosts(self):
        return [make_host("big", free_ram_mb=16384, free_disk_mb=200 * 1024,
                          stats={"gpu": "nvidia"}),
                make_host("small", free_ram_mb=1024, free_disk_mb=10 * 1024)]

    def test_comparisons(self):
        flt = load_filter("JsonFilter")
        assert passing(flt, self._hosts(), _query([">=", "$free_ram_mb", 4096])) == ["big"]
        assert passing(flt, self._hosts(), _query(["<", "$free_ram_mb", 4096])) == ["small"]
        assert passing(flt, self._hosts(), _query(["=", "$host", "small"])) == ["small"]
        assert passing(flt, self._hosts(), _query(["in", "$host", "a", "big"])) == ["big"]

    def test_combinators_and_nested_lookup(self):
        flt = load_filter("JsonFilter")
        query = ["and", [">=", "$free_ram_mb", 512], ["=", "$stats.gpu", "nvidia"]]
        assert passing(flt, self._hosts(), _query(query)) == ["big"]
        query = ["or", ["=", "$host", "small"], ["=", "$stats.gpu", "nvidia"]]
        assert passing(flt, self._hosts(), _query(query)) == ["big", "small"]
        query = ["not", ["=", "$host", "small"]]
        assert passing(flt, self._hosts(), _query(query)) == ["big"]

    def test_missing_lookup_drops_the_operand(self):
        flt = load_filter("JsonFilter")
        # $stats.gpu is absent on "small": only one operand left, so false.
        assert passing(flt, self._hosts(), _query(["=", "$stats.gpu", "nvidia"])) == ["big"]

    def test_no_query_and_list_query(self):
        flt = load_filter("JsonFilter")
        assert passing(flt, self._hosts(), make_spec()) == ["big", "small"]
        spec = make_spec(scheduler_hints={"query": [">", "$free_ram_mb", 2048]})
        assert passing(flt, self._hosts(), spec) == ["big"]

    def test_bad_query_fails_hosts_without_crashing(self):
        flt = load_filter("JsonFilter")
        assert passing(flt, self._hosts(), make_spec(scheduler_hints={"query": "[nope"})) == []
        assert passing(flt, self._hosts(), _query(["~", "$host", "big"])) == []


class TestMetricsFilter:
    def test_hosts_must_report_every_weighed_metric(self):
        conf = make_conf(metrics__weight_setting=["cpu.percent=-1.0", "io.wait=2"])
        flt = load_filter("MetricsFilter", conf)
        full = make_host("full", metrics={"cpu.percent": {"value": 10}, "io.wait": {"value": 1}})
        partial = make_host("partial", metrics={"cpu.percent": {"value": 10}})
        assert passing(flt, [full, partial, make_host("none")], make_spec()) == ["full"]

    def test_no_setting_passes_all(self):
        flt = load_filter("MetricsFilter")
        assert passing(flt, [make_host()], make_spec()) == ["host1"]
