"""A hypothesis state machine over placement's resources: each rule builds
one request (valid or not), the comparison sends it to both services.

The machine keeps a small world (a few providers, consumers, custom traits
and classes, aggregates, all with fixed names) so that requests refer to
things that exist as often as to things that do not. Generations are read
from each service just before a request (``runner.generation_of``), or
made stale on purpose, so that a generation that drifted on one side shows
as one difference rather than as every later request.
"""
from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from tests.placement_diff import runner
from tests.placement_diff.runner import Request
from tests.placement_diff.runner import consumer_generation_of as cgen
from tests.placement_diff.runner import generation_of as gen

PROVIDERS = [runner.new_uuid(f"machine/rp{i}") for i in range(5)]
CONSUMERS = [runner.new_uuid(f"machine/consumer{i}") for i in range(4)]
AGGREGATES = [runner.new_uuid(f"machine/agg{i}") for i in range(3)]
MISSING = runner.new_uuid("machine/missing")
CLASSES = ["VCPU", "MEMORY_MB", "DISK_GB", "SRIOV_NET_VF", "CUSTOM_MAGIC", "CUSTOM_NOPE"]
TRAITS = ["HW_CPU_X86_AVX2", "STORAGE_DISK_SSD", "MISC_SHARES_VIA_AGGREGATE", "CUSTOM_GOLD",
          "CUSTOM_NOPE"]
CONSUMER_TYPES = ["INSTANCE", "MIGRATION", "lower", "X" * 256]
PROJECTS = ["p1", "p2", "", "x" * 256]

versions = st.sampled_from([f"1.{n}" for n in range(0, 40)] + ["latest"])
late = st.sampled_from([f"1.{n}" for n in range(12, 40)])
provider_ids = st.sampled_from(PROVIDERS + [MISSING, "not-a-uuid"])
known_providers = st.sampled_from(PROVIDERS)
amounts = st.sampled_from([0, 1, 2, 3, 8, 64, 1024, 2147483648])
classes = st.sampled_from(CLASSES)
trait_names = st.sampled_from(TRAITS)


def _generation(rp, drift):
    return gen(rp, drift) if drift is not None else None


drifts = st.sampled_from([0, 0, 0, 0, -1, 1, None])


class PlacementMachine(RuleBasedStateMachine):
    cmp: runner.Comparison = None

    def send(self, req: Request):
        self.cmp.send(req)

    @initialize()
    def empty(self):
        self.cmp.on_both(runner.reset)

    @rule(rp=provider_ids, name=st.sampled_from(["a", "b", "c", "", "n" * 201]),
          parent=st.one_of(st.none(), known_providers), v=versions,
          with_uuid=st.booleans())
    def create_provider(self, rp, name, parent, v, with_uuid):
        body = {"name": f"{name}-{rp[:4]}" if name == "a" else name}
        if with_uuid:
            body["uuid"] = rp
        if parent:
            body["parent_provider_uuid"] = parent
        self.send(Request("POST", "/resource_providers", body, v))

    @rule(rp=provider_ids, name=st.sampled_from(["renamed", "a"]),
          parent=st.one_of(st.none(), st.just("same"), known_providers), v=versions)
    def update_provider(self, rp, name, parent, v):
        body = {"name": name}
        if parent != "same":
            body["parent_provider_uuid"] = parent
        self.send(Request("PUT", f"/resource_providers/{rp}", body, v))

    @rule(rp=provider_ids, v=versions)
    def delete_provider(self, rp, v):
        self.send(Request("DELETE", f"/resource_providers/{rp}", None, v))

    @rule(rp=provider_ids, v=versions,
          what=st.sampled_from(["", "/inventories", "/usages", "/allocations", "/traits",
                                "/aggregates", "/inventories/VCPU"]))
    def read_provider(self, rp, v, what):
        self.send(Request("GET", f"/resource_providers/{rp}{what}", None, v))

    @rule(rp=known_providers, inv=st.dictionaries(
        classes, st.fixed_dictionaries({"total": amounts}, optional={
            "reserved": st.sampled_from([0, 1, 8]), "max_unit": st.sampled_from([1, 4, 16]),
            "min_unit": st.sampled_from([1, 2]), "step_size": st.sampled_from([1, 2]),
            "allocation_ratio": st.sampled_from([1.0, 2.0, 0.5])}), max_size=3),
          drift=drifts, v=versions)
    def set_inventories(self, rp, inv, drift, v):
        body = {"inventories": inv}
        if drift is not None:
            body["resource_provider_generation"] = gen(rp, drift)
        self.send(Request("PUT", f"/resource_providers/{rp}/inventories", body, v))

    @rule(rp=known_providers, rc=classes, total=amounts, drift=drifts, v=versions,
          post=st.booleans())
    def one_inventory(self, rp, rc, total, drift, v, post):
        body = {"total": total}
        if drift is not None:
            body["resource_provider_generation"] = gen(rp, drift)
        if post:
            body["resource_class"] = rc
            self.send(Request("POST", f"/resource_providers/{rp}/inventories", body, v))
        else:
            self.send(Request("PUT", f"/resource_providers/{rp}/inventories/{rc}", body, v))

    @rule(rp=known_providers, rc=st.one_of(st.none(), classes), v=versions)
    def delete_inventory(self, rp, rc, v):
        path = f"/resource_providers/{rp}/inventories" + (f"/{rc}" if rc else "")
        self.send(Request("DELETE", path, None, v))

    @rule(name=st.sampled_from(["CUSTOM_MAGIC", "CUSTOM_GOLD", "MAGIC"]), trait=st.booleans(),
          delete=st.booleans(), v=versions)
    def custom_names(self, name, trait, delete, v):
        path = ("/traits/" if trait else "/resource_classes/") + name
        self.send(Request("DELETE" if delete else "PUT", path, None, v))

    @rule(rp=known_providers, names=st.lists(trait_names, max_size=3), drift=drifts,
          v=versions)
    def set_traits(self, rp, names, drift, v):
        body = {"traits": names}
        if drift is not None:
            body["resource_provider_generation"] = gen(rp, drift)
        self.send(Request("PUT", f"/resource_providers/{rp}/traits", body, v))

    @rule(rp=known_providers, aggs=st.lists(st.sampled_from(AGGREGATES), max_size=2,
                                            unique=True),
          drift=drifts, v=versions)
    def set_aggregates(self, rp, aggs, drift, v):
        body = {"aggregates": aggs, "resource_provider_generation": _generation(rp, drift)}
        if drift is None:
            body = aggs
        self.send(Request("PUT", f"/resource_providers/{rp}/aggregates", body, v))

    @rule(consumer=st.sampled_from(CONSUMERS), allocs=st.dictionaries(
        known_providers, st.dictionaries(classes, amounts, min_size=1, max_size=2),
        max_size=2), consumer_gen=st.sampled_from(["current", None, 99]),
          ctype=st.sampled_from(CONSUMER_TYPES), project=st.sampled_from(PROJECTS),
          v=late, post=st.booleans())
    def allocate(self, consumer, allocs, consumer_gen, ctype, project, v, post):
        body = {"allocations": {rp: {"resources": res} for rp, res in allocs.items()},
                "project_id": project, "user_id": "u"}
        minor = int(v.split(".")[1])
        if minor >= 28:
            body["consumer_generation"] = (cgen(consumer) if consumer_gen == "current"
                                           else consumer_gen)
        if minor >= 38:
            body["consumer_type"] = ctype
        if post and minor >= 13:
            self.send(Request("POST", "/allocations", {consumer: body}, v))
        else:
            self.send(Request("PUT", f"/allocations/{consumer}", body, v))

    @rule(consumer=st.sampled_from(CONSUMERS + ["not-a-uuid"]), v=versions,
          delete=st.booleans())
    def consumer(self, consumer, v, delete):
        self.send(Request("DELETE" if delete else "GET", f"/allocations/{consumer}", None, v))

    @rule(resources=st.dictionaries(classes, amounts, max_size=3),
          required=st.lists(st.sampled_from(TRAITS + ["!" + t for t in TRAITS]
                                            + ["in:HW_CPU_X86_AVX2,STORAGE_DISK_SSD"]),
                            max_size=2),
          member_of=st.one_of(st.none(), st.sampled_from(AGGREGATES + ["!" + AGGREGATES[0]])),
          in_tree=st.one_of(st.none(), provider_ids),
          limit=st.one_of(st.none(), st.sampled_from([1, 0])),
          v=versions, providers=st.booleans())
    def query(self, resources, required, member_of, in_tree, limit, v, providers):
        params = []
        if resources or not providers:
            params.append("resources=" + ",".join(f"{k}:{n}" for k, n in resources.items()))
        params += [f"required={r}" for r in required]
        if member_of:
            params.append(f"member_of={member_of}")
        if in_tree:
            params.append(f"in_tree={in_tree}")
        if limit is not None and not providers:
            params.append(f"limit={limit}")
        path = "/resource_providers" if providers else "/allocation_candidates"
        self.send(Request("GET", path + "?" + "&".join(params), None, v))

    @rule(groups=st.lists(st.tuples(st.sampled_from(["1", "2", "_A"]),
                                    st.dictionaries(classes, st.sampled_from([1, 2]),
                                                    min_size=1, max_size=2)),
                          min_size=1, max_size=2),
          policy=st.sampled_from(["none", "isolate", None]),
          subtree=st.booleans(), v=st.sampled_from(["1.25", "1.33", "1.36", "1.39"]))
    def granular(self, groups, policy, subtree, v):
        params = [f"resources{s}=" + ",".join(f"{k}:{n}" for k, n in res.items())
                  for s, res in groups]
        if policy:
            params.append(f"group_policy={policy}")
        if subtree:
            params.append("same_subtree=" + ",".join(s if s.startswith("_") else "_" + s
                                                      for s, _ in groups))
        self.send(Request("GET", "/allocation_candidates?" + "&".join(params), None, v))

    @rule(project=st.sampled_from(PROJECTS + ["nobody"]),
          ctype=st.one_of(st.none(), st.sampled_from(["INSTANCE", "all", "unknown",
                                                      "UNKNOWN", "bad-one"])),
          v=versions)
    def usages(self, project, ctype, v):
        path = f"/usages?project_id={project}" + (f"&consumer_type={ctype}" if ctype else "")
        self.send(Request("GET", path, None, v))

    @rule(src=known_providers, dst=known_providers, consumer=st.sampled_from(CONSUMERS),
          amount=amounts, drift=drifts, v=st.sampled_from(["1.30", "1.38", "1.39", "1.29"]))
    def reshape(self, src, dst, consumer, amount, drift, v):
        body = {"inventories": {
            dst: {"resource_provider_generation": gen(dst, drift or 0),
                  "inventories": {"VCPU": {"total": 8}}}},
            "allocations": {consumer: {
                "allocations": {dst: {"resources": {"VCPU": amount}}},
                "project_id": "p1", "user_id": "u", "consumer_generation": cgen(consumer),
                "consumer_type": "INSTANCE"}}}
        if drift is None:
            body["inventories"][src] = {"resource_provider_generation": gen(src),
                                        "inventories": {}}
        self.send(Request("POST", "/reshaper", body, v))

    @rule(path=st.sampled_from(["/resource_providers", "/allocations/" + CONSUMERS[0],
                                "/resource_providers/" + PROVIDERS[0] + "/inventories",
                                "/reshaper", "/allocations"]),
          body=st.sampled_from(["{", "[]", "null", '{"a": 1}', "", '"x"']),
          method=st.sampled_from(["POST", "PUT"]), ctype=st.sampled_from(
              ["application/json", "text/plain", None]), v=versions)
    def junk(self, path, body, method, ctype, v):
        headers = {"Content-Type": ctype} if ctype else {}
        self.send(Request(method, path, body, v, headers=headers))


def run(cmp: runner.Comparison, examples: int, steps: int, seed: int | None = None) -> None:
    PlacementMachine.cmp = cmp
    PlacementMachine.TestCase.settings = settings(
        max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
        derandomize=seed is not None, suppress_health_check=list(HealthCheck))
    run_state_machine_as_test(PlacementMachine, settings=PlacementMachine.TestCase.settings)
