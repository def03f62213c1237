"""A multi-instance request: filters run once per request still hold for
every instance (the later instances keep only the hosts the first run
left), and each built-in once-per-request filter is checked that way."""
import pytest

from compute_core import exception
from compute_core.scheduler import filters as filters_mod
from compute_core.scheduler import manager
from tests.unit.scheduler.factories import (AllPlacement, StaticHostManager, aggregate,
                                            instances, make_conf, make_host, make_spec)


class RackFilter(filters_mod.BaseHostFilter):
    """A third-party style filter: the hint ``rack`` names the one host."""

    run_filter_once_per_request = True

    def __init__(self, conf):
        super().__init__(conf)
        self.runs = 0

    def host_passes(self, host_state, spec_obj):
        return host_state.host == (spec_obj.scheduler_hints.get("rack") or [None])[0]

    def filter_all(self, host_states, spec_obj):
        self.runs += 1
        return super().filter_all(host_states, spec_obj)


def _select(hosts, spec, count, filters=None, **conf):
    conf.setdefault("filter_scheduler__host_subset_size", 1)
    sched = manager.FilterScheduler(make_conf(**conf), StaticHostManager(hosts),
                                    AllPlacement(hosts))
    if filters is not None:
        sched.filters = filters
    uuids = [f"inst-{i}" for i in range(count)]
    return [sel[0]["service_host"] for sel in sched.select(None, spec, uuids)]


def _roomy(*names, **values):
    return [make_host(n, vcpus_total=1000, free_ram_mb=10 ** 6, **values) for n in names]


def test_a_once_per_request_filter_holds_for_every_instance():
    rack = RackFilter(make_conf())
    hosts = _roomy("host1", "host2", "host3")
    spec = make_spec(scheduler_hints={"rack": ["host2"]})
    assert _select(hosts, spec, 3, filters=[rack]) == ["host2"] * 3
    assert rack.runs == 1  # run once, its answer kept for instances 2 and 3


def test_a_host_the_first_run_rejected_is_never_chosen_later():
    # host3 has the most room: the weighers want it for every instance.
    hosts = _roomy("host1", "host2") + [make_host("host3", vcpus_total=1000,
                                                  free_ram_mb=10 ** 7)]
    spec = make_spec(scheduler_hints={"rack": ["host1"]})
    assert _select(hosts, spec, 4, filters=[RackFilter(make_conf())]) == ["host1"] * 4


def test_each_request_starts_afresh():
    rack = RackFilter(make_conf())
    hosts = _roomy("host1", "host2")
    assert _select(hosts, make_spec(scheduler_hints={"rack": ["host1"]}), 2,
                   filters=[rack]) == ["host1"] * 2
    sched_hosts = _select(hosts, make_spec(scheduler_hints={"rack": ["host2"]}), 2,
                          filters=[rack])
    assert sched_hosts == ["host2"] * 2


def _builtin(name):
    from tests.unit.scheduler.factories import load_filter
    flt = load_filter(name)
    assert flt.run_filter_once_per_request, f"{name} is expected to run once per request"
    return flt


@pytest.mark.parametrize("name, hosts, spec, allowed", [
    ("DifferentHostFilter",
     [make_host("host1", vcpus_total=1000, free_ram_mb=10 ** 7, instances=instances("a")),
      make_host("host2", vcpus_total=1000), make_host("host3", vcpus_total=1000)],
     make_spec(scheduler_hints={"different_host": ["a"]}), {"host2", "host3"}),
    ("SameHostFilter",
     [make_host("host1", vcpus_total=1000, free_ram_mb=10 ** 7),
      make_host("host2", vcpus_total=1000, instances=instances("a")),
      make_host("host3", vcpus_total=1000)],
     make_spec(scheduler_hints={"same_host": ["a"]}), {"host2"}),
    ("AvailabilityZoneFilter",
     [make_host("host1", vcpus_total=1000, free_ram_mb=10 ** 7),
      make_host("host2", vcpus_total=1000,
                aggregates=[aggregate({"availability_zone": "az2"}, hosts=["host2"])]),
      make_host("host3", vcpus_total=1000)],
     make_spec(availability_zone="az2"), {"host2"}),
    ("ImagePropertiesFilter",
     [make_host("host1", vcpus_total=1000, free_ram_mb=10 ** 7, hypervisor_type="Xen"),
      make_host("host2", vcpus_total=1000), make_host("host3", vcpus_total=1000)],
     make_spec(image_props={"img_hv_type": "qemu"}), {"host2", "host3"}),
    ("AggregateInstanceExtraSpecsFilter",
     [make_host("host1", vcpus_total=1000, free_ram_mb=10 ** 7),
      make_host("host2", vcpus_total=1000,
                aggregates=[aggregate({"ssd": "true"}, hosts=["host2"])]),
      make_host("host3", vcpus_total=1000)],
     make_spec(extra_specs={"aggregate_instance_extra_specs:ssd": "true"}), {"host2"}),
    ("AggregateMultiTenancyIsolation",
     [make_host("host1", vcpus_total=1000, free_ram_mb=10 ** 7,
                aggregates=[aggregate({"filter_tenant_id": "someone-else"}, hosts=["host1"])]),
      make_host("host2", vcpus_total=1000), make_host("host3", vcpus_total=1000)],
     make_spec(), {"host2", "host3"}),
    ("AggregateImagePropertiesIsolation",
     [make_host("host1", vcpus_total=1000, free_ram_mb=10 ** 7,
                aggregates=[aggregate({"os_distro": "windows"}, hosts=["host1"])]),
      make_host("host2", vcpus_total=1000), make_host("host3", vcpus_total=1000)],
     make_spec(image_props={"os_distro": "linux"}), {"host2", "host3"}),
    ("ComputeCapabilitiesFilter",
     [make_host("host1", vcpus_total=1000, free_ram_mb=10 ** 7, hypervisor_type="Xen"),
      make_host("host2", vcpus_total=1000), make_host("host3", vcpus_total=1000)],
     make_spec(extra_specs={"capabilities:hypervisor_type": "QEMU"}), {"host2", "host3"}),
])
def test_every_builtin_once_filter_holds_for_every_instance(name, hosts, spec, allowed):
    chosen = _select(hosts, spec, 4, filters=[_builtin(name)])
    assert len(chosen) == 4
    assert set(chosen) <= allowed, (name, chosen)


def test_isolated_hosts_filter_holds_for_every_instance():
    hosts = [make_host("host1", vcpus_total=1000, free_ram_mb=10 ** 7),
             make_host("host2", vcpus_total=1000)]
    conf = make_conf(filter_scheduler__isolated_hosts=["host1"],
                     filter_scheduler__isolated_images=["image-iso"])
    flt = type(_builtin("IsolatedHostsFilter"))(conf)
    spec = make_spec(image={"id": "image-other", "properties": {}})
    assert _select(hosts, spec, 3, filters=[flt]) == ["host2"] * 3


def test_when_the_first_run_leaves_too_few_hosts_the_request_fails():
    spec = make_spec(scheduler_hints={"rack": ["nowhere"]})
    with pytest.raises(exception.NoValidHost):
        _select(_roomy("host1", "host2"), spec, 2, filters=[RackFilter(make_conf())])
