"""Hand-written request sequences, one per resource or feature.

Each scenario is a function returning a list of :class:`runner.Request`;
the runner empties both services before each. Uuids are fixed per label
(:func:`runner.new_uuid`), so both services get the same ones.
"""
from __future__ import annotations

from tests.placement_diff.runner import Request
from tests.placement_diff.runner import consumer_generation_of as cgen
from tests.placement_diff.runner import generation_of as gen
from tests.placement_diff.runner import new_uuid

ALL_VERSIONS = [f"1.{n}" for n in range(0, 40)]
SERVICE = {"X-Roles": "service"}  # noauth2's roles header, in both services
SCENARIOS = []


def scenario(fn):
    SCENARIOS.append((fn.__name__, fn))
    return fn


def all_scenarios(profile="new-defaults"):
    return list(SCENARIOS)


def R(method, path, body=None, v="1.39", **kw):  # noqa: N802 - reads like the HTTP line
    return Request(method, path, body, v, **kw)


def at_every_version(method, path, body=None, versions=ALL_VERSIONS, **kw):
    return [Request(method, path, body, v, **kw) for v in versions]


class U:
    """Fixed uuids by attribute: ``u.cn1``."""

    def __init__(self, scope):
        self.scope = scope

    def __getattr__(self, label):
        return new_uuid(f"{self.scope}/{label}")


def provider(u_, name, parent=None, v="1.39"):
    body = {"name": name, "uuid": u_}
    if parent:
        body["parent_provider_uuid"] = parent
    return R("POST", "/resource_providers", body, v=v)


def inventory(rp, **classes):
    inv = {}
    for rc, spec in classes.items():
        inv[rc] = spec if isinstance(spec, dict) else {"total": spec}
    return R("PUT", f"/resource_providers/{rp}/inventories",
             {"resource_provider_generation": gen(rp), "inventories": inv})


def traits(rp, *names):
    return R("PUT", f"/resource_providers/{rp}/traits",
             {"resource_provider_generation": gen(rp), "traits": list(names)})


def aggregates(rp, *aggs):
    return R("PUT", f"/resource_providers/{rp}/aggregates",
             {"resource_provider_generation": gen(rp), "aggregates": list(aggs)})


def allocate(consumer, allocations, v="1.39", ctype="INSTANCE", generation=None,
             project="proj", user="user", **extra):
    body = {"allocations": {rp: {"resources": res} for rp, res in allocations.items()},
            "project_id": project, "user_id": user}
    if _v(v) >= (1, 28):
        body["consumer_generation"] = generation
    if _v(v) >= (1, 38):
        body["consumer_type"] = ctype
    body.update(extra)
    return R("PUT", f"/allocations/{consumer}", body, v=v)


def _v(v):
    major, minor = v.split(".")
    return int(major), int(minor)


# ----------------------------------------------------------------- root, http

@scenario
def root_and_http():
    steps = [R("GET", "/", v=None, token=None), R("GET", "/", v=None)]
    steps += at_every_version("GET", "/", token=None)
    steps += [R("GET", "/", v="latest"), R("GET", "/", v="1.40"), R("GET", "/", v="2.0"),
              R("GET", "/", v="1.a"), R("GET", "/", v="0.9"),
              R("GET", "/resource_providers", v="1.40"),
              R("GET", "/resource_providers", v="latest"),
              R("GET", "/resource_providers", token=None),
              R("GET", "/nothing/here"),
              R("PATCH", "/resource_providers"),
              R("DELETE", "/traits"),
              R("GET", "/resource_providers", headers={"Accept": "text/plain"}),
              R("GET", "/resource_providers", headers={"Accept": "application/json"}),
              R("GET", "/resource_providers/xyz", headers={"Accept": "text/plain"}),
              R("GET", "/resource_providers/xyz", headers={"Accept": "text/html"}),
              R("GET", "/resource_providers/xyz", headers={"Accept": "*/*"}),
              R("POST", "/resource_providers", '{"name": "x"}'),
              R("POST", "/resource_providers", '{"name": "x"}',
                headers={"Content-Type": "text/plain"}),
              R("POST", "/resource_providers", "{not json",
                headers={"Content-Type": "application/json"}),
              R("POST", "/resource_providers", "",
                headers={"Content-Type": "application/json"}),
              R("PUT", "/resource_providers/" + new_uuid("nope"), '{"name": "x"}')]
    return steps


# ------------------------------------------------------------------ providers

@scenario
def providers():
    u = U("providers")
    steps = [provider(u.cn1, "cn1")]
    steps += at_every_version("GET", f"/resource_providers/{u.cn1}")
    steps += at_every_version("GET", "/resource_providers")
    steps += [
        R("POST", "/resource_providers", {"name": "cn2", "uuid": u.cn2}, v="1.0"),
        R("POST", "/resource_providers", {"name": "cn3", "uuid": u.cn3}, v="1.19"),
        R("POST", "/resource_providers", {"name": "cn4", "uuid": u.cn4}, v="1.20"),
        R("POST", "/resource_providers", {"name": "generated"}),
        R("POST", "/resource_providers", {"name": "cn1"}),
        R("POST", "/resource_providers", {"name": "other", "uuid": u.cn1}),
        R("POST", "/resource_providers", {"name": ""}),
        R("POST", "/resource_providers", {"name": "x" * 201}),
        R("POST", "/resource_providers", {"name": "x" * 200, "uuid": u.long}),
        R("POST", "/resource_providers", {}),
        R("POST", "/resource_providers", {"name": "bad", "uuid": "not-a-uuid"}),
        R("POST", "/resource_providers", {"name": "hex", "uuid": u.hex.replace("-", "")}),
        R("POST", "/resource_providers", {"name": "extra", "foo": 1}),
        R("POST", "/resource_providers", {"name": 5}),
        R("POST", "/resource_providers", [1, 2]),
        R("POST", "/resource_providers", {"name": "p", "parent_provider_uuid": u.cn1},
          v="1.13"),
        R("POST", "/resource_providers", {"name": "orphan", "uuid": u.orphan,
                                          "parent_provider_uuid": u.missing}),
        R("GET", "/resource_providers?name=cn1"),
        R("GET", "/resource_providers?name=nothing"),
        R("GET", f"/resource_providers?uuid={u.cn2}"),
        R("GET", "/resource_providers?uuid=bad"),
        R("GET", "/resource_providers?uuid=" + u.cn2.replace("-", "")),
        R("GET", "/resource_providers?foo=bar"),
        R("GET", "/resource_providers?name=cn1&name=cn2"),
        R("GET", "/resource_providers?in_tree=" + u.cn1, v="1.13"),
        R("GET", "/resource_providers?required=HW_CPU_X86_AVX", v="1.17"),
        R("GET", "/resource_providers/" + u.missing),
        R("GET", "/resource_providers/not-a-uuid"),
        R("GET", "/resource_providers/" + u.cn1.replace("-", "")),
        R("GET", "/resource_providers/" + u.cn1.upper()),
        R("PUT", f"/resource_providers/{u.cn1}", {"name": "cn1-renamed"}),
        R("GET", f"/resource_providers/{u.cn1}"),
        R("PUT", f"/resource_providers/{u.cn1}", {"name": "cn1-renamed"}),
        R("PUT", f"/resource_providers/{u.cn1}", {"name": "cn2"}),
        R("PUT", f"/resource_providers/{u.cn1}", {"name": "x", "uuid": u.cn1}),
        R("PUT", f"/resource_providers/{u.cn1}", {}),
        R("PUT", f"/resource_providers/{u.missing}", {"name": "ghost"}),
        R("PUT", f"/resource_providers/{u.cn1}", {"name": "x", "generation": 1}),
        R("DELETE", f"/resource_providers/{u.cn4}"),
        R("DELETE", f"/resource_providers/{u.cn4}"),
        R("DELETE", "/resource_providers/not-a-uuid"),
        R("GET", "/resource_providers"),
    ]
    return steps


@scenario
def trees():
    u = U("trees")
    steps = [provider(u.root, "root"), provider(u.numa0, "numa0", u.root),
             provider(u.numa1, "numa1", u.root), provider(u.pf0, "pf0", u.numa0),
             provider(u.other, "other")]
    steps += at_every_version("GET", f"/resource_providers/{u.pf0}",
                              versions=["1.13", "1.14", "1.37", "1.39"])
    steps += [
        R("GET", f"/resource_providers?in_tree={u.pf0}"),
        R("GET", f"/resource_providers?in_tree={u.other}"),
        R("GET", f"/resource_providers?in_tree={u.missing}"),
        R("GET", "/resource_providers?in_tree=bad"),
        R("GET", f"/resource_providers?in_tree={u.root}&in_tree={u.other}"),
        # re-parenting: forbidden before 1.37, and loops always
        R("PUT", f"/resource_providers/{u.numa1}", {"name": "numa1",
                                                    "parent_provider_uuid": u.numa0},
          v="1.36"),
        R("PUT", f"/resource_providers/{u.numa1}", {"name": "numa1",
                                                    "parent_provider_uuid": u.numa0}),
        R("GET", f"/resource_providers/{u.numa1}"),
        R("PUT", f"/resource_providers/{u.numa0}", {"name": "numa0",
                                                    "parent_provider_uuid": u.pf0}),
        R("PUT", f"/resource_providers/{u.numa0}", {"name": "numa0",
                                                    "parent_provider_uuid": u.numa0}),
        R("PUT", f"/resource_providers/{u.numa0}", {"name": "numa0",
                                                    "parent_provider_uuid": u.other}),
        R("PUT", f"/resource_providers/{u.numa0}", {"name": "numa0",
                                                    "parent_provider_uuid": u.missing}),
        R("PUT", f"/resource_providers/{u.numa1}", {"name": "numa1",
                                                    "parent_provider_uuid": None}),
        R("PUT", f"/resource_providers/{u.numa1}", {"name": "numa1",
                                                    "parent_provider_uuid": None}, v="1.36"),
        R("PUT", f"/resource_providers/{u.other}", {"name": "other",
                                                    "parent_provider_uuid": u.root}, v="1.14"),
        R("GET", f"/resource_providers?in_tree={u.root}"),
        R("DELETE", f"/resource_providers/{u.root}"),
        R("DELETE", f"/resource_providers/{u.numa0}"),
        R("GET", "/resource_providers"),
    ]
    return steps


# ---------------------------------------------------------------- inventories

@scenario
def inventories():
    u = U("inventories")
    rp = u.cn1
    base = f"/resource_providers/{rp}/inventories"
    steps = [provider(rp, "cn1"),
             R("GET", base),
             inventory(rp, VCPU={"total": 8, "allocation_ratio": 16.0},
                       MEMORY_MB={"total": 4096, "reserved": 512, "max_unit": 2048}),
             R("GET", base), R("GET", base + "/VCPU"), R("GET", base + "/DISK_GB"),
             R("GET", base + "/NOT_A_CLASS")]
    steps += at_every_version("GET", base + "/MEMORY_MB", versions=["1.0", "1.15", "1.39"])
    steps += [
        R("POST", base, {"resource_class": "DISK_GB", "total": 100}),
        R("GET", f"/resource_providers/{rp}"),
        R("POST", base, {"resource_class": "DISK_GB", "total": 100,
                         "resource_provider_generation": gen(rp)}),
        R("POST", base, {"resource_class": "DISK_GB", "total": 100,
                         "resource_provider_generation": gen(rp)}),
        R("POST", base, {"resource_class": "IPV4_ADDRESS", "total": 10,
                         "resource_provider_generation": gen(rp, -1)}),
        R("POST", base, {"resource_class": "CUSTOM_NOPE", "total": 1,
                         "resource_provider_generation": gen(rp)}),
        R("POST", base, {"resource_class": "lower", "total": 1}),
        R("POST", base, {"total": 1}),
        R("POST", base, {"resource_class": "SRIOV_NET_VF", "total": 0}),
        R("POST", base, {"resource_class": "SRIOV_NET_VF", "total": 4, "reserved": 5}),
        R("POST", base, {"resource_class": "SRIOV_NET_VF", "total": 4, "reserved": 4},
          v="1.25"),
        R("POST", base, {"resource_class": "SRIOV_NET_VF", "total": 4, "reserved": 4},
          v="1.26"),
        R("POST", base, {"resource_class": "PCI_DEVICE", "total": 4, "min_unit": 5}),
        R("POST", base, {"resource_class": "PCI_DEVICE", "total": 4, "max_unit": 0}),
        R("POST", base, {"resource_class": "PCI_DEVICE", "total": 4,
                         "allocation_ratio": 0}),
        R("POST", base, {"resource_class": "PCI_DEVICE", "total": 4,
                         "allocation_ratio": "x"}),
        R("POST", base, {"resource_class": "PCI_DEVICE", "total": 2147483648}),
        R("POST", f"/resource_providers/{u.missing}/inventories",
          {"resource_class": "VCPU", "total": 1}),
        R("PUT", base + "/VCPU", {"total": 16, "resource_provider_generation": gen(rp)}),
        R("PUT", base + "/VCPU", {"total": 16, "resource_provider_generation": gen(rp, -1)}),
        R("PUT", base + "/VCPU", {"total": 16}),
        R("PUT", base + "/NUMA_CORE", {"total": 16, "resource_provider_generation": gen(rp)}),
        R("PUT", base + "/CUSTOM_X", {"total": 16, "resource_provider_generation": gen(rp)}),
        R("PUT", base + "/VCPU", {"total": 16, "resource_provider_generation": gen(rp),
                                  "resource_class": "VCPU"}),
        R("PUT", base, {"resource_provider_generation": gen(rp, 5), "inventories": {}}),
        R("PUT", base, {"inventories": {}}),
        R("PUT", base, {"resource_provider_generation": gen(rp),
                        "inventories": {"VCPU": {"total": 4, "min_unit": 2, "max_unit": 1}}}),
        R("PUT", base, {"resource_provider_generation": gen(rp),
                        "inventories": {"VCPU": {"reserved": 1}}}),
        R("PUT", base, {"resource_provider_generation": gen(rp),
                        "inventories": {"CUSTOM_UNKNOWN": {"total": 1}}}),
        R("PUT", base, {"resource_provider_generation": gen(rp),
                        "inventories": {"VCPU": {"total": 4, "step_size": 0}}}),
        R("GET", base),
        R("DELETE", base + "/DISK_GB"),
        R("DELETE", base + "/DISK_GB"),
        R("DELETE", base + "/NOT_A_CLASS"),
        R("DELETE", base, v="1.4"),
        R("DELETE", base, v="1.5"),
        R("GET", base),
        R("GET", f"/resource_providers/{rp}"),
        R("DELETE", base),
        R("DELETE", f"/resource_providers/{u.missing}/inventories"),
    ]
    return steps


@scenario
def inventories_in_use():
    u = U("inuse")
    rp = u.cn1
    base = f"/resource_providers/{rp}/inventories"
    return [
        provider(rp, "cn1"),
        inventory(rp, VCPU=8, MEMORY_MB=2048),
        allocate(u.c1, {rp: {"VCPU": 4, "MEMORY_MB": 1024}}),
        R("PUT", base + "/VCPU", {"total": 2, "resource_provider_generation": gen(rp)}),
        R("PUT", base, {"resource_provider_generation": gen(rp),
                        "inventories": {"VCPU": {"total": 8}}}),
        R("DELETE", base + "/VCPU"),
        R("DELETE", base),
        R("DELETE", f"/resource_providers/{rp}"),
        R("GET", f"/resource_providers/{rp}/usages"),
        R("GET", f"/resource_providers/{rp}/allocations"),
        R("GET", f"/resource_providers/{rp}/allocations", v="1.27"),
    ]


# --------------------------------------------------------- resource classes

@scenario
def resource_classes():
    steps = at_every_version("GET", "/resource_classes", versions=["1.1", "1.2", "1.39"])
    steps += [
        R("GET", "/resource_classes/VCPU"), R("GET", "/resource_classes/CUSTOM_NONE"),
        R("POST", "/resource_classes", {"name": "CUSTOM_GOLD"}),
        R("POST", "/resource_classes", {"name": "CUSTOM_GOLD"}),
        R("POST", "/resource_classes", {"name": "GOLD"}),
        R("POST", "/resource_classes", {"name": "CUSTOM_lower"}),
        R("POST", "/resource_classes", {"name": "CUSTOM_" + "A" * 249}),
        R("POST", "/resource_classes", {}),
        R("GET", "/resource_classes/CUSTOM_GOLD"),
        R("PUT", "/resource_classes/CUSTOM_SILVER", v="1.7"),
        R("PUT", "/resource_classes/CUSTOM_SILVER", v="1.7"),
        R("PUT", "/resource_classes/CUSTOM_SILVER", v="1.39"),
        R("PUT", "/resource_classes/SILVER", v="1.7"),
        R("PUT", "/resource_classes/VCPU", v="1.7"),
        R("PUT", "/resource_classes/CUSTOM_GOLD", {"name": "CUSTOM_PLATINUM"}, v="1.6"),
        R("PUT", "/resource_classes/CUSTOM_NONE", {"name": "CUSTOM_PLATINUM2"}, v="1.6"),
        R("PUT", "/resource_classes/VCPU", {"name": "CUSTOM_X"}, v="1.6"),
        R("PUT", "/resource_classes/CUSTOM_SILVER", {"name": "CUSTOM_PLATINUM"}, v="1.6"),
        R("GET", "/resource_classes"),
        R("DELETE", "/resource_classes/CUSTOM_PLATINUM"),
        R("DELETE", "/resource_classes/CUSTOM_PLATINUM"),
        R("DELETE", "/resource_classes/VCPU"),
        R("DELETE", "/resource_classes/CUSTOM_SILVER", v="1.1"),
    ]
    u = U("rc")
    steps += [provider(u.cn1, "cn1"), inventory(u.cn1, CUSTOM_SILVER=4),
              R("DELETE", "/resource_classes/CUSTOM_SILVER"),
              R("GET", "/resource_classes/CUSTOM_SILVER")]
    return steps


# --------------------------------------------------------------------- traits

@scenario
def trait_resources():
    u = U("traits")
    rp = u.cn1
    steps = at_every_version("GET", "/traits?name=startswith:CUSTOM_",
                             versions=["1.5", "1.6", "1.39"])
    steps += [
        R("PUT", "/traits/CUSTOM_FAST"), R("PUT", "/traits/CUSTOM_FAST"),
        R("PUT", "/traits/FAST"), R("PUT", "/traits/CUSTOM_lower"),
        R("PUT", "/traits/HW_CPU_X86_AVX"),
        R("GET", "/traits/CUSTOM_FAST"), R("GET", "/traits/CUSTOM_SLOW"),
        R("GET", "/traits/HW_CPU_X86_AVX"),
        R("GET", "/traits?name=in:CUSTOM_FAST,HW_CPU_X86_AVX"),
        R("GET", "/traits?name=in:"),
        R("GET", "/traits?name=CUSTOM_FAST"),
        R("GET", "/traits?name=startswith:HW_CPU_X86_AVX5"),
        R("GET", "/traits?associated=true"),
        R("GET", "/traits?associated=false&name=startswith:CUSTOM"),
        R("GET", "/traits?associated=maybe"),
        R("GET", "/traits?foo=bar"),
        provider(rp, "cn1"),
        R("GET", f"/resource_providers/{rp}/traits"),
        traits(rp, "CUSTOM_FAST", "HW_CPU_X86_AVX"),
        R("GET", f"/resource_providers/{rp}/traits"),
        R("GET", "/traits?associated=true"),
        R("GET", f"/resource_providers/{rp}/traits", v="1.5"),
        R("PUT", f"/resource_providers/{rp}/traits",
          {"resource_provider_generation": gen(rp, -1), "traits": []}),
        R("PUT", f"/resource_providers/{rp}/traits",
          {"resource_provider_generation": gen(rp), "traits": ["CUSTOM_MISSING"]}),
        R("PUT", f"/resource_providers/{rp}/traits",
          {"resource_provider_generation": gen(rp), "traits": ["CUSTOM_FAST", "CUSTOM_FAST"]}),
        R("PUT", f"/resource_providers/{rp}/traits", {"traits": ["CUSTOM_FAST"]}),
        R("PUT", f"/resource_providers/{rp}/traits",
          {"resource_provider_generation": gen(rp), "traits": ["bad trait"]}),
        R("PUT", f"/resource_providers/{u.missing}/traits",
          {"resource_provider_generation": 0, "traits": []}),
        R("DELETE", "/traits/CUSTOM_FAST"),
        R("DELETE", "/traits/HW_CPU_X86_AVX"),
        R("DELETE", "/traits/CUSTOM_NOTHERE"),
        R("DELETE", f"/resource_providers/{rp}/traits"),
        R("GET", f"/resource_providers/{rp}"),
        R("DELETE", "/traits/CUSTOM_FAST"),
        R("DELETE", f"/resource_providers/{u.missing}/traits"),
        R("GET", f"/resource_providers/{u.missing}/traits"),
    ]
    return steps


# ----------------------------------------------------------------- aggregates

@scenario
def aggregate_resources():
    u = U("aggregates")
    rp = u.cn1
    path = f"/resource_providers/{rp}/aggregates"
    steps = [provider(rp, "cn1"), provider(u.cn2, "cn2")]
    steps += at_every_version("GET", path, versions=["1.0", "1.1", "1.18", "1.19", "1.39"])
    steps += [
        R("PUT", path, [u.agg1, u.agg2], v="1.1"),
        R("GET", f"/resource_providers/{rp}"),
        R("PUT", path, [u.agg1, u.agg1], v="1.1"),
        R("PUT", path, ["not-a-uuid"], v="1.1"),
        R("PUT", path, {"aggregates": [u.agg1]}, v="1.1"),
        R("PUT", path, [u.agg1], v="1.19"),
        R("PUT", path, {"aggregates": [u.agg3]}, v="1.19"),
        R("PUT", path, {"aggregates": [u.agg3], "resource_provider_generation": gen(rp, 1)}),
        R("PUT", path, {"aggregates": [u.agg3, u.agg1],
                        "resource_provider_generation": gen(rp)}),
        R("GET", path),
        R("PUT", f"/resource_providers/{u.cn2}/aggregates",
          {"aggregates": [u.agg1], "resource_provider_generation": gen(u.cn2)}),
        R("GET", f"/resource_providers?member_of={u.agg1}", v="1.3"),
        R("GET", f"/resource_providers?member_of={u.agg1}", v="1.2"),
        R("GET", f"/resource_providers?member_of=in:{u.agg3},{u.agg2}"),
        R("GET", f"/resource_providers?member_of={u.agg1}&member_of={u.agg3}", v="1.24"),
        R("GET", f"/resource_providers?member_of={u.agg1}&member_of={u.agg3}", v="1.23"),
        R("GET", f"/resource_providers?member_of=!{u.agg3}", v="1.32"),
        R("GET", f"/resource_providers?member_of=!{u.agg3}", v="1.31"),
        R("GET", f"/resource_providers?member_of=!in:{u.agg3},{u.agg2}", v="1.32"),
        R("GET", "/resource_providers?member_of=in:"),
        R("GET", "/resource_providers?member_of=bad"),
        R("PUT", f"/resource_providers/{u.missing}/aggregates",
          {"aggregates": [], "resource_provider_generation": 0}),
        R("GET", f"/resource_providers/{u.missing}/aggregates"),
        R("GET", f"/resource_providers/{u.missing}/aggregates", v="1.0"),
        R("PUT", path, {"aggregates": [], "resource_provider_generation": gen(rp)}),
        R("GET", path),
    ]
    return steps


# ---------------------------------------------------------------- allocations

@scenario
def allocations():
    u = U("allocations")
    cn1, cn2 = u.cn1, u.cn2
    steps = [provider(cn1, "cn1"), provider(cn2, "cn2"),
             inventory(cn1, VCPU={"total": 8, "max_unit": 4}, MEMORY_MB={"total": 4096,
                                                                         "step_size": 256},
                       DISK_GB={"total": 100, "min_unit": 10}),
             inventory(cn2, VCPU=8, MEMORY_MB=4096)]
    steps += [
        R("PUT", f"/allocations/{u.c1}", {"allocations": [
            {"resource_provider": {"uuid": cn1}, "resources": {"VCPU": 1}}]}, v="1.0"),
        R("PUT", f"/allocations/{u.c1}", {"allocations": [
            {"resource_provider": {"uuid": cn1}, "resources": {"VCPU": 1}}],
            "project_id": "p", "user_id": "u"}, v="1.8"),
        R("GET", f"/resource_providers/{cn1}"),
    ]
    steps += at_every_version("GET", f"/allocations/{u.c1}",
                              versions=["1.0", "1.11", "1.12", "1.27", "1.28", "1.37", "1.38"])
    steps += [
        allocate(u.c2, {cn1: {"VCPU": 2, "MEMORY_MB": 512}}, v="1.12"),
        allocate(u.c2, {cn1: {"VCPU": 2, "MEMORY_MB": 512}}, v="1.28"),
        allocate(u.c2, {cn1: {"VCPU": 2, "MEMORY_MB": 512}}, v="1.28",
                 generation=cgen(u.c2)),
        allocate(u.c3, {cn1: {"VCPU": 1}}, v="1.28", generation=5),
        allocate(u.c3, {cn1: {"VCPU": 1}}, ctype="MIGRATION"),
        allocate(u.c3, {cn1: {"VCPU": 1}}, ctype="MIGRATION"),
        allocate(u.c3, {cn1: {"VCPU": 2}}, ctype="MIGRATION", generation=cgen(u.c3)),
        allocate(u.c3, {cn1: {"VCPU": 2}}, ctype="lower", generation=cgen(u.c3)),
        allocate(u.c3, {cn1: {"VCPU": 2}}, ctype="", generation=cgen(u.c3)),
        allocate(u.c3, {cn1: {"VCPU": 2}}, ctype="INSTANCE", generation=cgen(u.c3)),
        R("GET", f"/allocations/{u.c3}"),
        # capacity, unit rules, unknown classes
        allocate(u.c4, {cn1: {"VCPU": 5}}),
        allocate(u.c4, {cn1: {"VCPU": 4, "MEMORY_MB": 100}}),
        allocate(u.c4, {cn1: {"DISK_GB": 5}}),
        allocate(u.c4, {cn1: {"IPV4_ADDRESS": 1}}),
        allocate(u.c4, {cn1: {"CUSTOM_NOPE": 1}}),
        allocate(u.c4, {cn1: {"VCPU": 0}}),
        allocate(u.c4, {cn1: {"VCPU": 4}, cn2: {"VCPU": 8}}),
        allocate(u.c4, {cn2: {"VCPU": 8}}),
        allocate(u.c5, {cn2: {"VCPU": 1}}),
        allocate(u.c4, {u.missing: {"VCPU": 1}}),
        allocate(u.c4, {"not-a-uuid": {"VCPU": 1}}),
        allocate(u.c4, {}, v="1.27"),
        allocate(u.c4, {}, v="1.28"),
        allocate(u.c4, {cn1: {"VCPU": 1}}, project="", generation=cgen(u.c4)),
        allocate(u.c4, {cn1: {"VCPU": 1}}, project="x" * 256),
        allocate(u.c4, {cn1: {"VCPU": 1}}, mappings={}, v="1.34"),
        allocate(u.c4, {cn1: {"VCPU": 1}}, mappings={"g": [cn1]}, v="1.33"),
        allocate(u.c4, {cn1: {"VCPU": 1}}, mappings={"g": [cn1]}, v="1.34"),
        R("PUT", f"/allocations/{u.c4}", {"allocations": {}}),
        R("PUT", "/allocations/not-a-uuid", {"allocations": {}, "project_id": "p",
                                             "user_id": "u", "consumer_generation": None,
                                             "consumer_type": "INSTANCE"}),
        R("GET", f"/allocations/{u.c4}"),
        R("GET", f"/allocations/{u.never}"),
        R("GET", "/allocations/not-a-uuid"),
        R("GET", f"/resource_providers/{cn1}/allocations"),
        R("GET", f"/resource_providers/{cn1}/allocations", v="1.10"),
        R("GET", f"/resource_providers/{cn1}/usages"),
        R("GET", f"/resource_providers/{cn2}/usages", v="1.0"),
        R("GET", f"/resource_providers/{cn1}"),
        R("DELETE", f"/allocations/{u.c2}"),
        R("DELETE", f"/allocations/{u.c2}"),
        R("DELETE", "/allocations/not-a-uuid"),
        R("GET", f"/resource_providers/{cn1}"),
        R("GET", f"/resource_providers/{cn1}/usages"),
    ]
    return steps


@scenario
def allocations_post():
    u = U("allocpost")
    cn1, cn2 = u.cn1, u.cn2
    body = {u.c1: {"allocations": {cn1: {"resources": {"VCPU": 1}}}, "project_id": "p",
                   "user_id": "u", "consumer_generation": None, "consumer_type": "INSTANCE"},
            u.c2: {"allocations": {cn2: {"resources": {"VCPU": 2}}}, "project_id": "p",
                   "user_id": "u2", "consumer_generation": None, "consumer_type": "MIGRATION"}}
    return [
        provider(cn1, "cn1"), provider(cn2, "cn2"), inventory(cn1, VCPU=4),
        inventory(cn2, VCPU=4),
        R("POST", "/allocations", body, v="1.12"),
        R("POST", "/allocations", body),
        R("GET", f"/allocations/{u.c1}"), R("GET", f"/allocations/{u.c2}"),
        R("POST", "/allocations", body),
        R("POST", "/allocations", {u.c1: {"allocations": {}, "project_id": "p",
                                          "user_id": "u", "consumer_generation": cgen(u.c1),
                                          "consumer_type": "INSTANCE"}}),
        R("GET", f"/allocations/{u.c1}"),
        R("POST", "/allocations", {u.c3: {"allocations": {}, "project_id": "p",
                                          "user_id": "u", "consumer_generation": None,
                                          "consumer_type": "INSTANCE"}}),
        R("POST", "/allocations", {}),
        R("POST", "/allocations", {"bad": {"allocations": {}}}),
        R("POST", "/allocations", {u.c2: {"allocations": {cn2: {"resources": {"VCPU": 9}}},
                                          "project_id": "p", "user_id": "u",
                                          "consumer_generation": cgen(u.c2),
                                          "consumer_type": "MIGRATION"}}),
        R("POST", "/allocations", {u.c2: {"allocations": {cn2: {"resources": {"VCPU": 1}}},
                                          "project_id": "p", "user_id": "u",
                                          "consumer_generation": cgen(u.c2),
                                          "consumer_type": "MIGRATION"}}, v="1.37"),
        R("POST", "/allocations", {u.c2: {"allocations": {cn2: {"resources": {"VCPU": 1}}},
                                          "project_id": "p", "user_id": "u",
                                          "consumer_generation": cgen(u.c2)}}, v="1.37"),
        R("GET", f"/allocations/{u.c2}"),
        R("GET", f"/resource_providers/{cn2}"),
    ]


@scenario
def usages():
    u = U("usages")
    cn1 = u.cn1
    return [
        provider(cn1, "cn1"), inventory(cn1, VCPU=16, MEMORY_MB=8192),
        allocate(u.c1, {cn1: {"VCPU": 1, "MEMORY_MB": 256}}, project="pA", user="uA"),
        allocate(u.c2, {cn1: {"VCPU": 2}}, project="pA", user="uB", ctype="MIGRATION"),
        allocate(u.c3, {cn1: {"VCPU": 4}}, project="pB", user="uA", v="1.37"),
        R("GET", "/usages?project_id=pA", v="1.8"),
        R("GET", "/usages?project_id=pA", v="1.9"),
        R("GET", "/usages?project_id=pA&user_id=uA", v="1.9"),
        R("GET", "/usages?project_id=pA", v="1.38"),
        R("GET", "/usages?project_id=pB", v="1.38"),
        R("GET", "/usages?project_id=pA&consumer_type=INSTANCE"),
        R("GET", "/usages?project_id=pA&consumer_type=MIGRATION"),
        R("GET", "/usages?project_id=pA&consumer_type=migration"),
        R("GET", "/usages?project_id=pB&consumer_type=unknown"),
        R("GET", "/usages?project_id=pB&consumer_type=UNKNOWN"),
        R("GET", "/usages?project_id=pA&consumer_type=all"),
        R("GET", "/usages?project_id=pA&consumer_type=ALL"),
        R("GET", "/usages?project_id=pA&consumer_type=INSTANCE", v="1.37"),
        R("GET", "/usages?project_id=pA&consumer_type=bad-type"),
        R("GET", "/usages"),
        R("GET", "/usages?user_id=uA"),
        R("GET", "/usages?project_id="),
        R("GET", "/usages?project_id=" + "p" * 256),
        R("GET", "/usages?project_id=pA&user_id=" + "u" * 256),
        R("GET", "/usages?project_id=pA&other=1"),
        R("GET", "/usages?project_id=nobody"),
        R("GET", "/usages?project_id=pA&project_id=pB"),
    ]


# -------------------------------------------------------------------- reshape

@scenario
def reshape():
    u = U("reshape")
    root, child = u.root, u.child
    good = lambda v="1.39", **kw: R("POST", "/reshaper", {  # noqa: E731
        "inventories": {
            root: {"resource_provider_generation": gen(root), "inventories": {
                "MEMORY_MB": {"total": 1024}}},
            child: {"resource_provider_generation": gen(child), "inventories": {
                "VCPU": {"total": 8}}}},
        "allocations": {
            u.c1: {"allocations": {child: {"resources": {"VCPU": 2}},
                                   root: {"resources": {"MEMORY_MB": 256}}},
                   "project_id": "p", "user_id": "u",
                   "consumer_generation": cgen(u.c1), "consumer_type": "INSTANCE"}}}, v=v,
        headers=kw.get("headers", SERVICE))
    return [
        provider(root, "root"), provider(child, "child", root),
        inventory(root, VCPU=8, MEMORY_MB=1024),
        allocate(u.c1, {root: {"VCPU": 2, "MEMORY_MB": 256}}),
        good("1.29"),
        good(headers={}),  # the admin: not the service role
        R("POST", "/reshaper", {"inventories": {}, "allocations": {}}, headers=SERVICE),
        R("POST", "/reshaper", {"inventories": {u.missing: {
            "resource_provider_generation": 0, "inventories": {}}}, "allocations": {}},
          headers=SERVICE),
        R("POST", "/reshaper", {"inventories": {root: {
            "resource_provider_generation": gen(root, 3), "inventories": {}}},
            "allocations": {}}, headers=SERVICE),
        R("POST", "/reshaper", {"inventories": {root: {
            "resource_provider_generation": gen(root), "inventories": {
                "CUSTOM_NOPE": {"total": 1}}}}, "allocations": {}}, headers=SERVICE),
        R("POST", "/reshaper", {"inventories": {root: {
            "resource_provider_generation": gen(root), "inventories": {}}}},
          headers=SERVICE),
        good(),
        R("GET", f"/resource_providers/{root}"),
        R("GET", f"/resource_providers/{child}"),
        R("GET", f"/allocations/{u.c1}"),
        R("GET", f"/resource_providers/{child}/inventories"),
        R("GET", f"/resource_providers/{root}/inventories"),
        good("1.37"),
    ]


# ------------------------------------------------------ allocation candidates

def _candidate_world(u):
    """A compute node with two NUMA children (one with an SR-IOV PF), a
    shared storage provider in an aggregate, a second plain compute node."""
    return [
        provider(u.cn1, "cn1"), provider(u.numa0, "cn1-numa0", u.cn1),
        provider(u.numa1, "cn1-numa1", u.cn1), provider(u.pf, "cn1-pf", u.numa1),
        provider(u.cn2, "cn2"), provider(u.ss, "shared-storage"),
        inventory(u.cn1, MEMORY_MB=8192, DISK_GB=50),
        inventory(u.numa0, VCPU=4), inventory(u.numa1, VCPU=4),
        inventory(u.pf, SRIOV_NET_VF=8, NET_BW_EGR_KILOBIT_PER_SEC=10000),
        inventory(u.cn2, VCPU=8, MEMORY_MB=4096, DISK_GB=20),
        inventory(u.ss, DISK_GB=1000),
        traits(u.cn1, "HW_CPU_X86_AVX2", "COMPUTE_STATUS_DISABLED"),
        traits(u.numa1, "HW_NUMA_ROOT"), traits(u.numa0, "HW_NUMA_ROOT"),
        traits(u.pf, "CUSTOM_PHYSNET1", "HW_NIC_SRIOV"),
        traits(u.cn2, "HW_CPU_X86_AVX2", "STORAGE_DISK_SSD"),
        traits(u.ss, "MISC_SHARES_VIA_AGGREGATE", "STORAGE_DISK_SSD"),
        R("PUT", "/traits/CUSTOM_PHYSNET1"),
        traits(u.pf, "CUSTOM_PHYSNET1", "HW_NIC_SRIOV"),
        aggregates(u.cn1, u.agg), aggregates(u.cn2, u.agg), aggregates(u.ss, u.agg),
        aggregates(u.numa0, u.agg2),
        allocate(u.used, {u.cn2: {"VCPU": 6, "MEMORY_MB": 1024}}),
    ]


@scenario
def allocation_candidates():
    u = U("candidates")
    steps = _candidate_world(u)
    q = "/allocation_candidates?"
    steps += at_every_version("GET", q + "resources=VCPU:1,MEMORY_MB:512",
                              versions=[f"1.{n}" for n in range(9, 40)])
    steps += at_every_version("GET", q + "resources=VCPU:1,MEMORY_MB:512,DISK_GB:10",
                              versions=["1.10", "1.12", "1.17", "1.27", "1.29", "1.34", "1.39"])
    for query in [
        "resources=VCPU:1,DISK_GB:100",
        "resources=VCPU:3",
        "resources=VCPU:5",
        "resources=VCPU:1&limit=1",
        "resources=VCPU:1&limit=0",
        "resources=VCPU:1&limit=x",
        "resources=VCPU:1&limit=1&limit=2",
        "resources=VCPU:1&required=HW_CPU_X86_AVX2",
        "resources=VCPU:1&required=!HW_CPU_X86_AVX2",
        "resources=VCPU:1&required=STORAGE_DISK_SSD",
        "resources=VCPU:1&required=CUSTOM_NOPE",
        "resources=VCPU:1&required=!COMPUTE_STATUS_DISABLED",
        "resources=VCPU:1&required=in:HW_CPU_X86_AVX2,STORAGE_DISK_SSD",
        "resources=VCPU:1&required=HW_CPU_X86_AVX2&required=!STORAGE_DISK_SSD",
        "resources=VCPU:1&required=HW_CPU_X86_AVX2,!HW_CPU_X86_AVX2",
        f"resources=VCPU:1&member_of={u.agg}",
        f"resources=VCPU:1&member_of=!{u.agg}",
        f"resources=VCPU:1&member_of=in:{u.agg},{u.agg2}",
        f"resources=VCPU:1&member_of={u.agg2}",
        "resources=VCPU:1&member_of=bad",
        f"resources=VCPU:1&in_tree={u.cn1}",
        f"resources=VCPU:1&in_tree={u.numa0}",
        f"resources=VCPU:1&in_tree={u.missing}",
        "resources=VCPU:1&in_tree=bad",
        f"resources=VCPU:1,DISK_GB:10&in_tree={u.ss}",
        "resources=SRIOV_NET_VF:1",
        "resources=VCPU:1&root_required=HW_CPU_X86_AVX2",
        "resources=VCPU:1&root_required=!COMPUTE_STATUS_DISABLED",
        "resources=VCPU:1&root_required=HW_NUMA_ROOT",
        "resources=VCPU:1&root_required=in:HW_CPU_X86_AVX2",
        "resources=CUSTOM_NOPE:1",
        "resources=VCPU:0",
        "resources=VCPU",
        "resources=",
        "",
        "foo=bar",
        "resources=VCPU:1&group_policy=isolate",
    ]:
        steps.append(R("GET", q + query))
    for query in [
        "resources=VCPU:1&required=!HW_CPU_X86_AVX2",
        "resources=VCPU:1&required=in:HW_CPU_X86_AVX2,STORAGE_DISK_SSD",
        "resources=VCPU:1&root_required=HW_CPU_X86_AVX2",
        f"resources=VCPU:1&member_of=!{u.agg}",
        f"resources=VCPU:1&in_tree={u.cn1}",
    ]:
        for v in ("1.16", "1.20", "1.21", "1.22", "1.30", "1.31", "1.32", "1.34", "1.35",
                  "1.38"):
            steps.append(R("GET", q + query, v=v))
    return steps


@scenario
def granular_candidates():
    u = U("granular")
    steps = _candidate_world(u)
    q = "/allocation_candidates?"
    for query in [
        "resources=MEMORY_MB:512&resources1=VCPU:1&resources2=VCPU:1&group_policy=isolate",
        "resources=MEMORY_MB:512&resources1=VCPU:1&resources2=VCPU:1&group_policy=none",
        "resources=MEMORY_MB:512&resources1=VCPU:1&resources2=VCPU:1",
        "resources1=VCPU:1&resources2=VCPU:1&group_policy=isolate&group_policy=none",
        "resources1=VCPU:1&group_policy=isolate",
        "resources1=VCPU:1,MEMORY_MB:1024&group_policy=none",
        "resources_COMPUTE=VCPU:1&resources_NET=SRIOV_NET_VF:1&group_policy=none",
        "resources_COMPUTE=VCPU:1&resources_NET=SRIOV_NET_VF:1&group_policy=none"
        "&same_subtree=_COMPUTE,_NET",
        "resources_COMPUTE=VCPU:1&resources_NET=SRIOV_NET_VF:1&group_policy=none"
        "&same_subtree=_COMPUTE, _NET",
        "resources_COMPUTE=VCPU:1&resources_NET=SRIOV_NET_VF:1&group_policy=none"
        "&same_subtree=_COMPUTE,_NOPE",
        "resources_COMPUTE=VCPU:1&required_NUMA=HW_NUMA_ROOT&group_policy=none"
        "&same_subtree=_COMPUTE,_NUMA&resources_NET=SRIOV_NET_VF:1",
        "resources_COMPUTE=VCPU:1&required_NUMA=HW_NUMA_ROOT&group_policy=none"
        "&same_subtree=_COMPUTE,_NUMA",
        "resources1=SRIOV_NET_VF:1&required1=CUSTOM_PHYSNET1&resources=VCPU:1&group_policy=none",
        "resources1=SRIOV_NET_VF:1&required1=!CUSTOM_PHYSNET1&group_policy=none",
        "resources1=SRIOV_NET_VF:1&required1=in:CUSTOM_PHYSNET1,HW_NIC_SRIOV"
        "&group_policy=none",
        f"resources1=VCPU:1&member_of1={u.agg2}&group_policy=none",
        f"resources1=VCPU:1&member_of1=!{u.agg2}&group_policy=none",
        f"resources1=DISK_GB:10&in_tree1={u.ss}&resources=VCPU:1&group_policy=none",
        f"resources1=DISK_GB:10&in_tree1={u.cn1}&resources=VCPU:1&group_policy=none",
        f"resources=VCPU:1,DISK_GB:10&member_of={u.agg}",
        "resources1=VCPU:1&resources1=VCPU:2&group_policy=none",
        "resources1=VCPU:1",
        "required1=HW_NUMA_ROOT&group_policy=none",
        "resources_=VCPU:1&group_policy=none",
        "resources_" + "X" * 65 + "=VCPU:1&group_policy=none",
        "resources1=VCPU:1&same_subtree=1&group_policy=none",
        "resources1=VCPU:1&same_subtree=_1&group_policy=none",
    ]:
        for v in ("1.25", "1.33", "1.36", "1.39"):
            steps.append(R("GET", q + query, v=v))
    return steps


@scenario
def sharing_providers():
    u = U("sharing")
    return [
        provider(u.cn1, "cn1"), provider(u.ss1, "ss1"), provider(u.ss2, "ss2"),
        inventory(u.cn1, VCPU=8, MEMORY_MB=4096),
        inventory(u.ss1, DISK_GB=500), inventory(u.ss2, DISK_GB=200, IPV4_ADDRESS=16),
        traits(u.ss1, "MISC_SHARES_VIA_AGGREGATE"), traits(u.ss2, "MISC_SHARES_VIA_AGGREGATE"),
        aggregates(u.cn1, u.aggA, u.aggB), aggregates(u.ss1, u.aggA),
        aggregates(u.ss2, u.aggB),
        R("GET", "/allocation_candidates?resources=VCPU:1,DISK_GB:100"),
        R("GET", "/allocation_candidates?resources=VCPU:1,DISK_GB:300"),
        R("GET", "/allocation_candidates?resources=DISK_GB:100"),
        R("GET", "/allocation_candidates?resources=DISK_GB:100,IPV4_ADDRESS:1"),
        R("GET", "/allocation_candidates?resources=VCPU:1,DISK_GB:100,IPV4_ADDRESS:1"),
        R("GET", f"/allocation_candidates?resources=VCPU:1,DISK_GB:100&member_of={u.aggA}"),
        R("GET", f"/allocation_candidates?resources=VCPU:1,DISK_GB:100&in_tree={u.ss1}"),
        R("GET", f"/allocation_candidates?resources=VCPU:1,DISK_GB:100&in_tree={u.cn1}"),
        R("GET", "/allocation_candidates?resources=VCPU:1&resources1=DISK_GB:100"
                 f"&in_tree1={u.ss2}&group_policy=none"),
        R("GET", "/allocation_candidates?resources=VCPU:1&resources1=DISK_GB:100"
                 f"&in_tree1={u.ss2}&group_policy=none", v="1.33"),
        R("GET", "/allocation_candidates?resources=VCPU:1,DISK_GB:100", v="1.26"),
        R("GET", "/allocation_candidates?resources=VCPU:1,DISK_GB:100", v="1.10"),
        allocate(u.c1, {u.cn1: {"VCPU": 1}, u.ss1: {"DISK_GB": 450}}),
        R("GET", "/allocation_candidates?resources=VCPU:1,DISK_GB:100"),
        R("GET", f"/resource_providers?resources=DISK_GB:100&member_of={u.aggB}"),
        R("GET", "/resource_providers?resources=DISK_GB:100"),
        R("GET", "/resource_providers?resources=DISK_GB:100", v="1.3"),
        R("GET", "/resource_providers?resources=VCPU:1,DISK_GB:1"),
        R("GET", "/resource_providers?resources=NOPE:1"),
        R("GET", "/resource_providers?resources=VCPU:x"),
        R("GET", "/resource_providers?resources=VCPU:1&required=MISC_SHARES_VIA_AGGREGATE"),
        R("GET", "/resource_providers?required=MISC_SHARES_VIA_AGGREGATE"),
        R("GET", "/resource_providers?required=!MISC_SHARES_VIA_AGGREGATE"),
        R("GET", "/resource_providers?required=!MISC_SHARES_VIA_AGGREGATE", v="1.21"),
        R("GET", "/resource_providers?required=in:MISC_SHARES_VIA_AGGREGATE,HW_CPU_X86_AVX"),
        R("GET", "/resource_providers?required=in:MISC_SHARES_VIA_AGGREGATE", v="1.38"),
        R("GET", "/resource_providers?required=CUSTOM_NOPE"),
        R("DELETE", f"/resource_providers/{u.ss1}"),
    ]


# --------------------------------------------------------------------- policy

@scenario
def policy_roles_and_scopes():
    """The same requests as different callers: what each policy profile
    lets through (the roles and scope as openstack-placement's noauth2
    reads them: X-Roles, OpenStack-System-Scope)."""
    u = U("policy")
    callers = {
        "admin": dict(token="admin:admin"),
        "service": dict(token="nova:service", headers={"X-Roles": "service"}),
        "reader": dict(token="alice:p1", headers={"X-Roles": "reader"}),
        "member": dict(token="alice:p1", headers={"X-Roles": "member,reader"}),
        "nobody": dict(token="bob:p2"),
        "system-admin": dict(token="admin:admin", headers={
            "X-Roles": "admin,member,reader", "OpenStack-System-Scope": "all"}),
        "system-reader": dict(token="carol:carol", headers={
            "X-Roles": "reader", "OpenStack-System-Scope": "all"}),
    }
    steps = [provider(u.cn1, "cn1"), inventory(u.cn1, VCPU=8),
             allocate(u.c1, {u.cn1: {"VCPU": 1}}, project="p1", user="alice")]
    for name, caller in callers.items():
        kw = dict(caller)
        headers = kw.pop("headers", {})
        for method, path, body in [
                ("GET", "/resource_providers", None),
                ("POST", "/resource_providers", {"name": f"by-{name}"}),
                ("GET", f"/resource_providers/{u.cn1}/inventories", None),
                ("GET", f"/resource_providers/{u.cn1}/usages", None),
                ("GET", "/usages?project_id=p1", None),
                ("GET", "/usages?project_id=p2", None),
                ("GET", "/allocation_candidates?resources=VCPU:1", None),
                ("GET", f"/allocations/{u.c1}", None),
                ("GET", "/traits?name=startswith:CUSTOM_", None),
                ("PUT", "/traits/CUSTOM_BY_" + name.upper().replace("-", "_"), None),
                ("GET", "/resource_classes/VCPU", None),
                ("POST", "/reshaper", {"inventories": {}, "allocations": {}})]:
            steps.append(Request(method, path, body, "1.39", headers=dict(headers), **kw))
    return steps
