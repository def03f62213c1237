"""A rebuild with a new image (Nova's ``_nova_check_type: rebuild`` hint):
FilterScheduler.select judges only the server's own host, with only the
filters that run on a rebuild, and claims nothing."""
import pytest

from compute_core import exception
from compute_core.scheduler import manager
from tests.unit.scheduler.factories import (AllPlacement, StaticHostManager, make_conf,
                                            make_host, make_spec)

REBUILD = {"_nova_check_type": ["rebuild"]}


class TraitPlacement(AllPlacement):
    def __init__(self, hosts, traits):
        super().__init__(hosts)
        self.traits = traits

    def allocation_candidates(self, *args, **kwargs):
        raise AssertionError("a rebuild check asks placement for no candidates")

    def provider_traits(self, uuid):
        return self.traits.get(uuid, [])


def _scheduler(hosts, traits=None, **conf):
    placement = TraitPlacement(hosts, traits or {})
    return manager.FilterScheduler(make_conf(**conf), StaticHostManager(hosts), placement), \
        placement


def _hosts():
    # h1 is down and full: filters that do not run on a rebuild would refuse it
    return [make_host("h1", free_ram_mb=0, service={"up": False, "disabled": True}),
            make_host("h2")]


def _spec(image_props=None, host="h1"):
    return make_spec(image_props=image_props, scheduler_hints=dict(REBUILD),
                     force_hosts=[host], force_nodes=[f"{host}-node"], instance_uuid="i1")


def test_the_current_host_is_judged_only_by_rebuild_filters_and_nothing_is_claimed():
    sched, placement = _scheduler(_hosts())
    [[selection]] = sched.select(None, _spec(), ["i1"], False)
    assert selection["service_host"] == "h1" and selection["allocation_request"] is None
    assert placement.claims == {}


def test_an_image_the_host_cannot_run_is_no_valid_host():
    sched, placement = _scheduler(_hosts())
    with pytest.raises(exception.NoValidHost) as caught:
        sched.select(None, _spec({"hw_architecture": "aarch64"}), ["i1"], False)
    assert "ImagePropertiesFilter" in caught.value.message
    assert placement.claims == {}


def test_isolated_hosts_take_only_isolated_images():
    conf = {"filter_scheduler__enabled_filters": ["ImagePropertiesFilter",
                                                   "IsolatedHostsFilter"],
            "filter_scheduler__isolated_hosts": ["h1"],
            "filter_scheduler__isolated_images": ["golden"]}
    sched, _ = _scheduler(_hosts(), **conf)
    spec = _spec()
    spec.image["id"] = "golden"
    assert sched.select(None, spec, ["i1"], False)[0][0]["service_host"] == "h1"
    with pytest.raises(exception.NoValidHost, match="IsolatedHostsFilter"):
        sched.select(None, _spec(), ["i1"], False)  # image-1 is not isolated


def test_the_images_required_traits_must_be_on_the_hosts_provider():
    sched, _ = _scheduler(_hosts(), traits={"uuid-h1": ["HW_CPU_X86_AVX2"]})
    props = {"trait:HW_CPU_X86_AVX2": "required"}
    assert sched.select(None, _spec(props), ["i1"], False)[0][0]["service_host"] == "h1"
    props["trait:CUSTOM_GPU"] = "required"
    with pytest.raises(exception.NoValidHost, match="CUSTOM_GPU"):
        sched.select(None, _spec(props), ["i1"], False)


def test_an_unknown_host_is_no_valid_host():
    sched, _ = _scheduler(_hosts())
    with pytest.raises(exception.NoValidHost):
        sched.select(None, _spec(host="h9"), ["i1"], False)
