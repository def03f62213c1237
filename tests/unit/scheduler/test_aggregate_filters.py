"""Filters over host aggregates, per-host limits and isolated hosts."""
import pytest

from tests.unit.scheduler.factories import (aggregate, load_filter, make_conf, make_host,
                                            make_spec, passing)


class TestAvailabilityZone:
    def test_zone_from_aggregate_or_default(self):
        flt = load_filter("AvailabilityZoneFilter")
        hosts = [make_host("z1", aggregates=[aggregate({"availability_zone": "zone1"})]),
                 make_host("dflt")]
        assert passing(flt, hosts, make_spec(availability_zone="zone1")) == ["z1"]
        assert passing(flt, hosts, make_spec(availability_zone="nova")) == ["dflt"]
        assert passing(flt, hosts, make_spec()) == ["z1", "dflt"]

    def test_default_zone_option(self):
        flt = load_filter("AvailabilityZoneFilter", make_conf(default_availability_zone="az0"))
        assert passing(flt, [make_host()], make_spec(availability_zone="az0")) == ["host1"]


class TestAggregateInstanceExtraSpecs:
    def test_scoped_and_unscoped_keys(self):
        flt = load_filter("AggregateInstanceExtraSpecsFilter")
        ssd = make_host("ssd", aggregates=[aggregate({"ssd": "true", "cores": "8,16"})])
        hdd = make_host("hdd", aggregates=[aggregate({"ssd": "false"})])
        bare = make_host("bare")
        spec = make_spec({"aggregate_instance_extra_specs:ssd": "true"})
        assert passing(flt, [ssd, hdd, bare], spec) == ["ssd"]
        assert passing(flt, [ssd, hdd, bare], make_spec({"ssd": "<in> fal"})) == ["hdd"]
        # A comma-separated value counts as several values.
        assert passing(flt, [ssd, hdd], make_spec({"cores": ">= 12"})) == ["ssd"]

    def test_other_namespaces_ignored(self):
        flt = load_filter("AggregateInstanceExtraSpecsFilter")
        spec = make_spec({"hw:cpu_policy": "dedicated", "capabilities:x": "1"})
        assert passing(flt, [make_host()], spec) == ["host1"]


class TestAggregateImagePropertiesIsolation:
    def test_image_value_must_be_among_aggregate_values(self):
        flt = load_filter("AggregateImagePropertiesIsolation")
        linux = make_host("linux", aggregates=[aggregate({"os_distro": "ubuntu,fedora"})])
        win = make_host("win", aggregates=[aggregate({"os_distro": "windows"})])
        free = make_host("free")
        spec = make_spec(image_props={"os_distro": "fedora"})
        assert passing(flt, [linux, win, free], spec) == ["linux", "free"]
        # An image without the property is not restricted.
        assert passing(flt, [linux, win, free], make_spec()) == ["linux", "win", "free"]

    def test_namespace(self):
        conf = make_conf(filter_scheduler__aggregate_image_properties_isolation_namespace="iso")
        flt = load_filter("AggregateImagePropertiesIsolation", conf)
        host = make_host(aggregates=[aggregate({"iso.os": "linux", "os_distro": "windows"})])
        assert passing(flt, [host], make_spec(image_props={"os_distro": "ubuntu"})) == ["host1"]
        assert passing(flt, [host], make_spec(image_props={"iso.os": "bsd"})) == []


class TestAggregateMultiTenancyIsolation:
    def test_tenant_restricted_aggregates(self):
        flt = load_filter("AggregateMultiTenancyIsolation")
        mine = make_host("mine", aggregates=[aggregate({"filter_tenant_id": "project-a"})])
        theirs = make_host("theirs", aggregates=[
            aggregate({"filter_tenant_id": "project-b", "filter_tenant_id_2": "project-c"})])
        open_agg = make_host("open", aggregates=[aggregate({"ssd": "true"})])
        free = make_host("free")
        hosts = [mine, theirs, open_agg, free]
        assert passing(flt, hosts, make_spec(project_id="project-a")) == ["mine", "open", "free"]
        assert passing(flt, hosts, make_spec(project_id="project-c")) == ["theirs", "open", "free"]


class TestHostLimits:
    def test_num_instances(self):
        flt = load_filter("NumInstancesFilter", make_conf(filter_scheduler__max_instances_per_host=5))
        hosts = [make_host("busy", num_instances=5), make_host("ok", num_instances=4)]
        assert passing(flt, hosts, make_spec()) == ["ok"]

    def test_io_ops(self):
        flt = load_filter("IoOpsFilter")  # default 8
        hosts = [make_host("busy", num_io_ops=8), make_host("ok", num_io_ops=7)]
        assert passing(flt, hosts, make_spec()) == ["ok"]

    @pytest.mark.parametrize("name,key,counted", [
        ("AggregateNumInstancesFilter", "max_instances_per_host", "num_instances"),
        ("AggregateIoOpsFilter", "max_io_ops_per_host", "num_io_ops"),
    ])
    def test_aggregate_limits(self, name, key, counted):
        conf = make_conf(filter_scheduler__max_instances_per_host=50,
                         filter_scheduler__max_io_ops_per_host=50)
        flt = load_filter(name, conf)
        two_aggs = [aggregate({key: "10"}, 1), aggregate({key: "3"}, 2)]
        hosts = [make_host("agg-small", aggregates=two_aggs, **{counted: 3}),
                 make_host("agg-big", aggregates=[aggregate({key: "10"})], **{counted: 3}),
                 make_host("none", **{counted: 3}),
                 make_host("garbage", aggregates=[aggregate({key: "many"})], **{counted: 3})]
        # The smallest aggregate value wins; no value or a bad one: the option.
        assert passing(flt, hosts, make_spec()) == ["agg-big", "none", "garbage"]


class TestIsolatedHosts:
    @pytest.mark.parametrize("restrict,image,host,expected", [
        (True, "iso-img", "iso-host", True), (True, "iso-img", "other", False),
        (True, "plain", "iso-host", False), (True, "plain", "other", True),
        (False, "iso-img", "iso-host", True), (False, "iso-img", "other", False),
        (False, "plain", "iso-host", True), (False, "plain", "other", True),
    ])
    def test_matrix(self, restrict, image, host, expected):
        conf = make_conf(filter_scheduler__isolated_images=["iso-img"],
                         filter_scheduler__isolated_hosts=["iso-host"],
                         filter_scheduler__restrict_isolated_hosts_to_isolated_images=restrict)
        flt = load_filter("IsolatedHostsFilter", conf)
        spec = make_spec(image={"id": image, "properties": {}})
        assert (passing(flt, [make_host(host)], spec) == [host]) is expected
        assert flt.host_passes(make_host(host), spec) is expected

    def test_no_isolated_images(self):
        conf = make_conf(filter_scheduler__isolated_hosts=["iso-host"])
        flt = load_filter("IsolatedHostsFilter", conf)
        assert passing(flt, [make_host("iso-host"), make_host("other")], make_spec()) == ["other"]
