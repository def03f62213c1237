"""Building blocks for the scheduler unit tests: host states, request specs,
configuration, and plugins loaded by name as the scheduler loads them."""
from __future__ import annotations

import json

from compute_core import conf as conf_mod
from compute_core import plugins
from compute_core.scheduler.filters import HostState, HostStates
from compute_core.scheduler.request_spec import RequestSpec

CPU_INFO = json.dumps({"arch": "x86_64", "model": "Skylake", "vendor": "Intel",
                       "maxphysaddr": {"bits": 46}})


def make_conf(**overrides):
    """A ConfigOpts; keyword names use __ for the group dot
    (filter_scheduler__max_io_ops_per_host=4)."""
    return conf_mod.load(overrides={k.replace("__", "."): v for k, v in overrides.items()})


def make_host(name="host1", **values) -> HostState:
    defaults = dict(host=name, nodename=f"{name}-node", uuid=f"uuid-{name}", cell_uuid="cell1",
                    host_ip="10.0.0.10", hypervisor_type="QEMU", hypervisor_version=8000000,
                    cpu_info=CPU_INFO, vcpus_total=16, vcpus_used=0,
                    total_usable_ram_mb=32768, free_ram_mb=32768, total_usable_disk_gb=1000,
                    free_disk_mb=1000 * 1024, service={"up": True, "disabled": False})
    defaults.update(values)
    return HostState(**defaults)


def make_spec(extra_specs=None, image_props=None, **values) -> RequestSpec:
    flavor = {"name": "m1.small", "vcpus": 2, "memory_mb": 2048, "root_gb": 20,
              "ephemeral_gb": 0, "swap": 0, "extra_specs": dict(extra_specs or {})}
    values.setdefault("flavor", flavor)
    values.setdefault("image", {"id": "image-1", "properties": dict(image_props or {})})
    values.setdefault("instance_uuid", "inst-new")
    values.setdefault("project_id", "project-a")
    return RequestSpec(**values)


def aggregate(metadata, agg_id=1, hosts=()):
    return {"id": agg_id, "name": f"agg{agg_id}", "hosts": list(hosts),
            "metadata": dict(metadata)}


def instances(*uuids, **fields):
    return {u: dict({"uuid": u, "project_id": "project-a"}, **fields) for u in uuids}


def load_filter(name, conf=None):
    return plugins.load_one(plugins.FILTERS, name)(conf or make_conf())


def load_weigher(name, conf=None):
    return plugins.load_one(plugins.WEIGHERS, name)(conf or make_conf())


def indexed(hosts) -> HostStates:
    """*hosts* as the host manager hands them over: with an index of where
    each of their instances runs."""
    where = {uuid: h.host for h in hosts for uuid in h.instances}
    return HostStates(hosts, locate=where.get)


def passing(flt, hosts, spec):
    """Names of the hosts the filter keeps, through filter_all as the
    scheduler calls it: over a plain list (every host checked) and over an
    indexed HostStates (only the hosts the index names), which must agree."""
    plain = [h.host for h in flt.filter_all(list(hosts), spec)]
    narrowed = [h.host for h in flt.filter_all(indexed(hosts), spec)]
    assert plain == narrowed, (type(flt).__name__, plain, narrowed)
    return plain


class AllPlacement:
    """Placement stand-in: every host a candidate (only the one provider
    when asked in_tree), every claim succeeds; records what it was asked."""

    def __init__(self, hosts):
        self.hosts = hosts
        self.claims = {}
        self.asked_in_tree = []

    def allocation_candidates(self, resources, limit, traits, in_tree=None):
        self.asked_in_tree.append(in_tree)
        hosts = [h for h in self.hosts if in_tree in (None, h.uuid)]
        reqs = [{"allocations": {h.uuid: {"resources": dict(resources)}}} for h in hosts]
        return reqs, {h.uuid: {"resources": {}} for h in hosts}

    def claim(self, uuid, alloc_req, project_id, user_id):
        self.claims[uuid] = alloc_req
        return True

    def delete_allocations(self, uuid):
        self.claims.pop(uuid, None)


class StaticHostManager:
    """Hands the hosts over with an index of where their instances run, as
    the real host manager does."""

    def __init__(self, hosts):
        self.hosts = hosts

    def host_states(self, summaries=None):
        return indexed([h for h in self.hosts if summaries is None or h.uuid in summaries])
