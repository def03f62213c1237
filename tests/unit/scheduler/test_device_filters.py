"""PciPassthroughFilter and NUMATopologyFilter over the host data drivers
report."""
import json

import pytest

from compute_core import exception
from compute_core_plugins.filters.numa import parse_cpu_set
from tests.unit.scheduler.factories import load_filter, make_conf, make_host, make_spec, passing

ALIASES = [json.dumps({"name": "gpu", "vendor_id": "10DE", "product_id": "1eb8"}),
           json.dumps({"name": "gpu", "vendor_id": "1002", "product_id": "66a1"}),
           json.dumps({"name": "vf", "vendor_id": "8086", "product_id": "154c",
                       "device_type": "type-VF"})]


def _pci_filter():
    return load_filter("PciPassthroughFilter", make_conf(pci__alias=ALIASES))


def _pool(vendor, product, count, dev_type="type-PCI", **tags):
    return dict(vendor_id=vendor, product_id=product, count=count, dev_type=dev_type, **tags)


class TestPciPassthrough:
    def test_counts_against_matching_pools(self):
        flt = _pci_filter()
        nvidia = make_host("nvidia", pci_stats=[_pool("10de", "1eb8", 2)])
        amd = make_host("amd", pci_stats=[_pool("1002", "66a1", 1)])
        none = make_host("none")
        hosts = [nvidia, amd, none]
        assert passing(flt, hosts, make_spec({"pci_passthrough:alias": "gpu:2"})) == ["nvidia"]
        assert passing(flt, hosts, make_spec({"pci_passthrough:alias": "gpu"})) \
            == ["nvidia", "amd"]
        assert passing(flt, hosts, make_spec()) == ["nvidia", "amd", "none"]

    def test_several_aliases_share_pools_fairly(self):
        flt = _pci_filter()
        host = make_host(pci_stats=[_pool("10de", "1eb8", 1), _pool("1002", "66a1", 1),
                                    _pool("8086", "154c", 4, "type-VF")])
        assert flt.host_passes(host, make_spec({"pci_passthrough:alias": "gpu:2, vf:4"}))
        assert not flt.host_passes(host, make_spec({"pci_passthrough:alias": "gpu:3"}))

    def test_device_type_must_match(self):
        flt = _pci_filter()
        host = make_host(pci_stats=[_pool("8086", "154c", 4, "type-PF")])
        assert not flt.host_passes(host, make_spec({"pci_passthrough:alias": "vf"}))

    def test_unknown_alias_fails_every_host(self):
        flt = _pci_filter()
        host = make_host(pci_stats=[_pool("10de", "1eb8", 2)])
        assert passing(flt, [host], make_spec({"pci_passthrough:alias": "fpga:1"})) == []

    def test_bad_alias_option_is_a_clear_start_error(self):
        with pytest.raises(exception.ConfigError, match=r"\[pci\] alias"):
            load_filter("PciPassthroughFilter", make_conf(pci__alias=["{not json"]))


def _numa_host(name="numa", cells=2, cpus_per_cell=4, memory_mb=4096, pinned=(), **values):
    topology = {"cells": [
        {"id": i, "cpus": list(range(i * cpus_per_cell, (i + 1) * cpus_per_cell)),
         "memory_mb": memory_mb, "pinned_cpus": [c for c in pinned
                                                 if i * cpus_per_cell <= c < (i + 1) * cpus_per_cell]}
        for i in range(cells)]}
    return make_host(name, numa_topology=topology, **values)


def _flavor(vcpus, memory_mb):
    return {"name": "f", "vcpus": vcpus, "memory_mb": memory_mb, "root_gb": 1,
            "extra_specs": {}}


class TestNUMATopology:
    def _spec(self, vcpus, memory_mb, **extra):
        flavor = _flavor(vcpus, memory_mb)
        flavor["extra_specs"] = extra
        return make_spec(flavor=flavor)

    def test_no_numa_request_passes_every_host(self):
        flt = load_filter("NUMATopologyFilter")
        assert passing(flt, [make_host("plain"), _numa_host()], self._spec(8, 8192)) \
            == ["plain", "numa"]

    def test_numa_request_needs_a_topology(self):
        flt = load_filter("NUMATopologyFilter")
        spec = self._spec(4, 2048, **{"hw:numa_nodes": "1"})
        assert passing(flt, [make_host("plain"), _numa_host()], spec) == ["numa"]

    def test_guest_cells_need_distinct_host_cells(self):
        flt = load_filter("NUMATopologyFilter")
        assert flt.host_passes(_numa_host(), self._spec(8, 8192, **{"hw:numa_nodes": "2"}))
        # Three guest cells on a two-cell host.
        assert not flt.host_passes(_numa_host(), self._spec(6, 6144, **{"hw:numa_nodes": "3"}))
        # A 6-vCPU cell does not fit a 4-CPU host cell.
        assert not flt.host_passes(_numa_host(), self._spec(6, 2048, **{"hw:numa_nodes": "1"}))
        # Memory of one guest cell exceeds a host cell.
        assert not flt.host_passes(_numa_host(), self._spec(2, 6144, **{"hw:numa_nodes": "1"}))

    def test_dedicated_cpus_count_pinned_ones(self):
        flt = load_filter("NUMATopologyFilter")
        spec = self._spec(3, 1024, **{"hw:cpu_policy": "dedicated"})
        assert flt.host_passes(_numa_host(pinned=[0, 1, 2]), spec)  # cell 1 is free
        assert not flt.host_passes(_numa_host(pinned=[0, 1, 4, 5]), spec)

    def test_image_properties_ask_too(self):
        flt = load_filter("NUMATopologyFilter")
        spec = make_spec(flavor=_flavor(2, 1024), image_props={"hw_numa_nodes": "2"})
        assert passing(flt, [make_host("plain"), _numa_host()], spec) == ["numa"]

    def test_explicit_cells(self):
        flt = load_filter("NUMATopologyFilter")
        spec = self._spec(6, 5120, **{"hw:numa_nodes": "2", "hw:numa_cpus.0": "0-3",
                                      "hw:numa_cpus.1": "4,5", "hw:numa_mem.0": "4096",
                                      "hw:numa_mem.1": "1024"})
        assert flt.host_passes(_numa_host(), spec)
        assert not flt.host_passes(_numa_host(cpus_per_cell=3), spec)

    def test_uneven_split_fails_every_host(self):
        flt = load_filter("NUMATopologyFilter")
        spec = self._spec(3, 2048, **{"hw:numa_nodes": "2"})
        assert passing(flt, [_numa_host()], spec) == []

    def test_cpu_set_syntax(self):
        assert parse_cpu_set("0-3,^2,6") == {0, 1, 3, 6}
