"""ComputeFilter, ComputeCapabilitiesFilter, ImagePropertiesFilter and the
extra-spec operators."""
import json

import pytest

from compute_core_plugins.filters.extra_spec_match import matches
from tests.unit.scheduler.factories import load_filter, make_conf, make_host, make_spec, passing


class TestComputeFilter:
    def test_up_and_enabled_only(self):
        flt = load_filter("ComputeFilter")
        hosts = [make_host("ok"), make_host("down", service={"up": False, "disabled": False}),
                 make_host("disabled", service={"up": True, "disabled": True}),
                 make_host("unknown", service={})]
        assert passing(flt, hosts, make_spec()) == ["ok"]
        assert flt.host_passes(hosts[0], make_spec())
        assert not flt.host_passes(hosts[2], make_spec())

    def test_broken_host_state_counts_as_failing(self):
        flt = load_filter("ComputeFilter")
        bad = make_host("bad", service=object())
        assert passing(flt, [bad, make_host("ok")], make_spec()) == ["ok"]


@pytest.mark.parametrize("value,req,expected", [
    ("4", "= 4", True), ("5", "= 4", True), ("3", "= 4", False),
    ("4", "== 4", True), ("4.0", "== 4", True), ("5", "!= 4", True),
    ("5", ">= 4", True), ("3", "<= 4", True), ("5", "<= 4", False),
    ("abc", "s== abc", True), ("abd", "s> abc", True), ("abc", "s!= abc", False),
    ("abc", "s< abd", True), ("abc", "s<= abc", True), ("abc", "s>= abd", False),
    ("avx avx2 sse", "<in> avx2", True), ("sse", "<in> avx", False),
    ("avx avx2 sse", "<all-in> avx sse", True), ("avx", "<all-in> avx sse", False),
    ("b", "<or> a <or> b <or> c", True), ("d", "<or> a <or> b", False),
    ("plain", "plain", True), ("plain", "other", False), (None, "= 1", False),
    ("4", "=", False),
])
def test_extra_spec_operators(value, req, expected):
    assert matches(value, req) is expected


def test_numeric_operator_on_text_raises():
    with pytest.raises(ValueError):
        matches("abc", ">= 4")


class TestComputeCapabilitiesFilter:
    def test_no_extra_specs_passes_every_host(self):
        flt = load_filter("ComputeCapabilitiesFilter")
        assert passing(flt, [make_host("a"), make_host("b")], make_spec()) == ["a", "b"]

    def test_capabilities_scope_reads_attributes_json_and_stats(self):
        flt = load_filter("ComputeCapabilitiesFilter")
        big = make_host("big", free_ram_mb=8192, stats={"gpu": "nvidia"})
        small = make_host("small", free_ram_mb=1024, stats={"gpu": "amd"})
        spec = make_spec({"capabilities:free_ram_mb": ">= 4096"})
        assert passing(flt, [big, small], spec) == ["big"]
        spec = make_spec({"capabilities:cpu_info:arch": "x86_64",
                          "capabilities:cpu_info:maxphysaddr:bits": ">= 40"})
        assert passing(flt, [big, small], spec) == ["big", "small"]
        spec = make_spec({"capabilities:gpu": "<or> nvidia <or> intel"})
        assert passing(flt, [big, small], spec) == ["big"]

    def test_missing_capability_fails(self):
        flt = load_filter("ComputeCapabilitiesFilter")
        spec = make_spec({"capabilities:cpu_info:topology:sockets": "2"})
        assert passing(flt, [make_host()], spec) == []

    def test_unscoped_key_checked_only_when_the_host_has_it(self):
        flt = load_filter("ComputeCapabilitiesFilter")
        host = make_host(vcpus_total=16)
        assert flt.host_passes(host, make_spec({"vcpus_total": ">= 8"}))
        assert not flt.host_passes(host, make_spec({"vcpus_total": ">= 32"}))
        assert flt.host_passes(host, make_spec({"something_else": "x"}))
        # Other namespaces belong to other filters.
        assert flt.host_passes(host, make_spec({"hw:cpu_policy": "dedicated",
                                                "aggregate_instance_extra_specs:ssd": "true"}))

    def test_maxphysaddr_bits(self):
        flt = load_filter("ComputeCapabilitiesFilter")
        host = make_host()  # 46 bits
        assert flt.host_passes(host, make_spec({"hw:maxphysaddr_bits": "42"}))
        assert not flt.host_passes(host, make_spec({"hw:maxphysaddr_bits": "48"}))

    def test_runs_once_per_request(self):
        flt = load_filter("ComputeCapabilitiesFilter")
        assert flt.run_filter_for_index(0) and not flt.run_filter_for_index(1)


class TestImagePropertiesFilter:
    def test_image_without_properties_passes(self):
        flt = load_filter("ImagePropertiesFilter")
        assert passing(flt, [make_host(cpu_info="{}")], make_spec()) == ["host1"]

    def test_architecture_from_cpu_info_when_nothing_reported(self):
        flt = load_filter("ImagePropertiesFilter")
        x86 = make_host("x86")
        arm = make_host("arm", cpu_info=json.dumps({"arch": "aarch64"}))
        assert passing(flt, [x86, arm], make_spec(image_props={"hw_architecture": "x86_64"})) \
            == ["x86"]
        # Aliases are canonicalised.
        assert passing(flt, [x86, arm], make_spec(image_props={"hw_architecture": "arm64"})) \
            == ["arm"]

    def test_supported_instances_triples(self):
        flt = load_filter("ImagePropertiesFilter")
        qemu = make_host("qemu", supported_instances=[["x86_64", "qemu", "hvm"]])
        xen = make_host("xen", supported_instances=[["x86_64", "xen", "xen"]])
        spec = make_spec(image_props={"img_hv_type": "qemu", "hw_vm_mode": "hvm"})
        assert passing(flt, [qemu, xen], spec) == ["qemu"]
        spec = make_spec(image_props={"hw_vm_mode": "pv"})  # pv means xen
        assert passing(flt, [qemu, xen], spec) == ["xen"]

    def test_host_advertising_nothing_fails(self):
        flt = load_filter("ImagePropertiesFilter")
        host = make_host(cpu_info="{}")
        assert not flt.host_passes(host, make_spec(image_props={"hw_architecture": "x86_64"}))

    def test_requested_hypervisor_version(self):
        flt = load_filter("ImagePropertiesFilter")
        old = make_host("old", hypervisor_version=6002000)
        new = make_host("new", hypervisor_version=8001000)
        spec = make_spec(image_props={"hw_architecture": "x86_64",
                                      "img_hv_requested_version": ">=7.0,<9"})
        assert passing(flt, [old, new], spec) == ["new"]

    def test_maxphysaddr_bits(self):
        flt = load_filter("ImagePropertiesFilter")
        spec = make_spec(image_props={"hw_architecture": "x86_64", "hw_maxphysaddr_bits": 48})
        assert passing(flt, [make_host()], spec) == []
        spec = make_spec(image_props={"hw_architecture": "x86_64", "hw_maxphysaddr_bits": 40})
        assert passing(flt, [make_host()], spec) == ["host1"]

    def test_default_architecture_option(self):
        conf = make_conf(filter_scheduler__image_properties_default_architecture="aarch64")
        flt = load_filter("ImagePropertiesFilter", conf)
        arm = make_host("arm", cpu_info=json.dumps({"arch": "aarch64"}))
        assert passing(flt, [make_host("x86"), arm], make_spec()) == ["arm"]

    def test_runs_on_rebuild(self):
        assert load_filter("ImagePropertiesFilter").RUN_ON_REBUILD
