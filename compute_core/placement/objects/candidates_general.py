"""The general path of allocation candidates: trees, sharing providers,
granular groups, ``same_subtree``, ``group_policy``, loaded once and combined
per anchor tree in Python.
"""
from __future__ import annotations

import collections
import itertools

import sqlalchemy as sa

from compute_core.placement import tables as s
from compute_core.placement.objects.candidate_filters import (
    EMPTY, root_id_of, sharing_ids, summary_rows, traits_of)

_Cand = collections.namedtuple("_Cand", "anchor alloc providers suffix same")


class GeneralPath:
    """Trees, traits, aggregates and capacities loaded once; candidates
    combined per anchor tree."""

    def __init__(self, conn, groups, wide, rc_cache):
        self.conn = conn
        self.groups = groups
        self.wide = wide
        self.rc_cache = rc_cache

    # -- loading
    def _load(self) -> bool:
        conn = self.conn
        rp, inv, a = s.resource_providers, s.inventories, s.allocations
        rpa, agg = s.resource_provider_aggregates, s.placement_aggregates
        wanted: dict[int, int] = {}
        for g in self.groups:
            for name, amount in g.resources.items():
                rc_id = self.rc_cache.id_of(name)
                wanted[rc_id] = min(amount, wanted.get(rc_id, amount))
        usage = (sa.select(a.c.resource_provider_id.label("rp"),
                           a.c.resource_class_id.label("rc"),
                           sa.func.sum(a.c.used).label("used"))
                 .where(a.c.resource_class_id.in_(list(wanted) or [-1]))
                 .group_by(a.c.resource_provider_id, a.c.resource_class_id).subquery())
        used = sa.func.coalesce(usage.c.used, 0)
        q = (sa.select(inv.c.resource_provider_id, inv.c.resource_class_id, inv.c.total,
                       inv.c.reserved, inv.c.allocation_ratio, inv.c.min_unit,
                       inv.c.max_unit, inv.c.step_size, used)
             .select_from(inv.outerjoin(usage, sa.and_(
                 usage.c.rp == inv.c.resource_provider_id,
                 usage.c.rc == inv.c.resource_class_id)))
             .where(sa.or_(sa.false(), *[
                 sa.and_(inv.c.resource_class_id == rc_id,
                         (inv.c.total - inv.c.reserved) * inv.c.allocation_ratio
                         >= used + amount)
                 for rc_id, amount in wanted.items()])))
        # (rp, rc) -> (capacity float, used, min, max, step)
        self.inv = {}
        for row in conn.execute(q):
            self.inv[(row[0], row[1])] = ((row[2] - row[3]) * row[4], int(row[8]),
                                          row[5], row[6], row[7])
        holders = {k[0] for k in self.inv}
        self.sharing = sharing_ids(conn)
        roots = set()
        if holders:
            roots = set(conn.execute(sa.select(rp.c.root_provider_id)
                                     .where(rp.c.id.in_(holders))).scalars())
        # Sharing providers holding capacity are anchored to every tree that
        # has a provider in one of their aggregates.
        self.anchors_of: dict[int, set] = {}
        sharing_holders = holders & self.sharing
        if sharing_holders:
            rpa2 = rpa.alias("other")
            for sh, root in conn.execute(
                    sa.select(rpa.c.resource_provider_id, rp.c.root_provider_id)
                    .select_from(rpa.join(rpa2, rpa2.c.aggregate_id == rpa.c.aggregate_id)
                                 .join(rp, rp.c.id == rpa2.c.resource_provider_id))
                    .where(rpa.c.resource_provider_id.in_(sharing_holders))):
                self.anchors_of.setdefault(sh, set()).add(root)
                roots.add(root)
        # Resourceless groups may match anywhere in the trees already found.
        if not roots:
            return False
        self.prov = {}  # id -> (uuid, parent id, root id)
        for row in conn.execute(sa.select(rp.c.id, rp.c.uuid, rp.c.parent_provider_id,
                                          rp.c.root_provider_id)
                                .where(rp.c.root_provider_id.in_(roots))):
            self.prov[row[0]] = (row[1], row[2], row[3])
        for sh in sharing_holders:
            self.anchors_of.setdefault(sh, set()).add(self.prov[sh][2])
        ids = list(self.prov)
        self.traits = traits_of(conn, s.resource_provider_traits.c.resource_provider_id.in_(ids))
        self.aggs = collections.defaultdict(set)
        for rp_id, agg_uuid in conn.execute(
                sa.select(rpa.c.resource_provider_id, agg.c.uuid)
                .join(agg, agg.c.id == rpa.c.aggregate_id)
                .where(rpa.c.resource_provider_id.in_(ids))):
            self.aggs[rp_id].add(agg_uuid)
        self.by_root = collections.defaultdict(list)
        for rp_id, (_, _, root) in sorted(self.prov.items()):
            self.by_root[root].append(rp_id)
        return True

    # -- predicates
    def _fits(self, rp_id, rc_id, amount):
        row = self.inv.get((rp_id, rc_id))
        if row is None:
            return False
        cap, used, lo, hi, step = row
        return lo <= amount <= hi and amount % step == 0 and cap >= used + amount

    @staticmethod
    def _traits_ok(have, required, forbidden):
        return all(any_of & have for any_of in required) and not (forbidden & have)

    def _aggs_ok(self, rp_id, g, with_root):
        have = self.aggs.get(rp_id, set())
        if with_root:
            have = have | self.aggs.get(self.prov[rp_id][2], set())
        return all(any_of & have for any_of in g.member_of) and not (g.forbidden_aggs & have)

    # -- per group
    def _tree_root(self, uuid):
        for rp_id, (u, _, root) in self.prov.items():
            if u == uuid:
                return root
        return root_id_of(self.conn, uuid) or -1

    def _same_provider_cands(self, g):
        rc = {self.rc_cache.id_of(n): amt for n, amt in g.resources.items()}
        tree = self._tree_root(g.in_tree) if g.in_tree else None
        alloc = tuple(sorted(rc.items()))
        out = []
        for rp_id, (_, _, root) in self.prov.items():
            if tree is not None and root != tree:
                continue
            if not all(self._fits(rp_id, c, amt) for c, amt in rc.items()):
                continue
            if not self._traits_ok(self.traits.get(rp_id, set()), g.required, g.forbidden):
                continue
            if not self._aggs_ok(rp_id, g, with_root=False):
                continue
            anchors = {root}
            # A sharing provider serves the trees it shares with, also when
            # in_tree{N} names it (as in openstack-placement).
            if rc and rp_id in self.sharing:
                anchors |= self.anchors_of.get(rp_id, set())
            cells = tuple((rp_id, c, amt) for c, amt in alloc)
            for anchor in anchors:
                out.append(_Cand(anchor, cells, frozenset([rp_id]), g.suffix, True))
        return out

    def _spread_cands(self, g):
        rc = {self.rc_cache.id_of(n): amt for n, amt in g.resources.items()}
        tree = self._tree_root(g.in_tree) if g.in_tree else None
        shared_by_anchor = collections.defaultdict(set)
        if tree is None:
            for sh, anchors in self.anchors_of.items():
                for anchor in anchors:
                    shared_by_anchor[anchor].add(sh)
        out = []
        for anchor in sorted(self.by_root):
            if tree is not None and anchor != tree:
                continue
            members = list(self.by_root[anchor])
            members += sorted(shared_by_anchor.get(anchor, set()) - set(members))
            options = []
            for c, amt in sorted(rc.items()):
                opts = [p for p in members
                        if self._fits(p, c, amt) and self._aggs_ok(p, g, with_root=True)]
                if not opts:
                    break
                options.append([(p, c, amt) for p in opts])
            else:
                for combo in itertools.product(*options):
                    provs = frozenset(p for p, _, _ in combo)
                    have = set()
                    bad = False
                    for p in provs:
                        t = self.traits.get(p, set())
                        if g.forbidden & t:
                            bad = True
                            break
                        have |= t
                    if bad or not all(any_of & have for any_of in g.required):
                        continue
                    out.append(_Cand(anchor, combo, provs, g.suffix, False))
        return out

    # -- combination
    def _ancestors(self, rp_id):
        out = set()
        while rp_id is not None:
            out.add(rp_id)
            rp_id = self.prov[rp_id][1] if rp_id in self.prov else None
        return out

    def _same_subtree_ok(self, combo):
        for suffixes in self.wide.same_subtree:
            provs = set().union(*(c.providers for c in combo if c.suffix in suffixes))
            if len(provs) <= 1:
                continue
            common = set.intersection(*(self._ancestors(p) for p in provs))
            if not common & provs:
                return False
        return True

    def run(self) -> dict:
        if not self._load():
            return EMPTY
        wide = self.wide
        by_group = []
        for g in self.groups:
            cands = (self._same_provider_cands(g) if g.same_provider
                     else self._spread_cands(g))
            if not cands:
                return EMPTY
            per_anchor = collections.defaultdict(list)
            for c in cands:
                per_anchor[c.anchor].append(c)
            by_group.append(per_anchor)
        numbered = sum(1 for g in self.groups if g.same_provider)
        results: dict = {}
        anchors = set.intersection(*(set(pa) for pa in by_group))
        for anchor in sorted(anchors):
            if not self._traits_ok(self.traits.get(anchor, set()), wide.root_required,
                                   wide.root_forbidden):
                continue
            isolate = wide.group_policy == "isolate" and numbered > 1
            for combo, amounts in self._combinations([pa[anchor] for pa in by_group],
                                                     isolate):
                if not self._same_subtree_ok(combo):
                    continue
                mappings = collections.defaultdict(set)
                for c in combo:
                    mappings[c.suffix] |= c.providers
                if not wide.nested_aware:
                    provs = {p for p, _ in amounts}
                    if len({self.prov[p][2] for p in provs}) != len(provs):
                        continue
                key = (frozenset(amounts.items()),
                       frozenset((k, frozenset(v)) for k, v in mappings.items()))
                if key not in results:
                    results[key] = (amounts, mappings)
                if wide.limit is not None and len(results) >= wide.limit:
                    break
            if wide.limit is not None and len(results) >= wide.limit:
                break
        if not results:
            return EMPTY
        return self._render(list(results.values()))

    def _combinations(self, lists, isolate):
        """(combo, {(provider, class): amount}) for each combination of one
        candidate per list that keeps within every inventory and, when
        *isolate*, puts the same-provider groups on distinct providers: in
        itertools.product's order, but found by a depth-first search that
        drops a partial combination as soon as it breaks either rule (both
        only get worse as candidates are added), and under isolation as
        soon as the groups still to place cannot all get distinct
        providers. Its cost is then bounded by what it yields, instead of
        the product of the lists' lengths."""
        depth = len(lists)
        # Per list, the providers its same-provider candidates offer (for
        # the look-ahead of isolation).
        offers = [{p for c in cands if c.same for p in c.providers} if isolate else set()
                  for cands in lists]
        amounts: dict = collections.defaultdict(int)
        taken: set = set()  # providers of same-provider candidates chosen
        chosen: list = []
        position = [-1] * depth
        level = 0
        while level >= 0:
            if len(chosen) > level:  # undo this level's previous choice
                self._take(chosen.pop(), amounts, taken, isolate, -1)
            position[level] += 1
            if position[level] == len(lists[level]):
                position[level] = -1
                level -= 1
                continue
            cand = lists[level][position[level]]
            if isolate and cand.same and cand.providers & taken:
                continue
            if any(not self._fits_total((p, rc_id), amounts[(p, rc_id)] + amt)
                   for p, rc_id, amt in cand.alloc):
                continue
            self._take(cand, amounts, taken, isolate, 1)
            chosen.append(cand)
            if isolate and not _distinct_providers_left(offers[level + 1:], taken):
                continue  # undone at the top of the loop
            if level == depth - 1:
                yield tuple(chosen), {k: v for k, v in amounts.items() if v}
            else:
                level += 1

    @staticmethod
    def _take(cand, amounts, taken, isolate, sign):
        for p, rc_id, amt in cand.alloc:
            amounts[(p, rc_id)] += sign * amt
        if isolate and cand.same:
            if sign > 0:
                taken |= cand.providers
            else:
                taken -= cand.providers

    def _fits_total(self, key, amount):
        cap, used, _lo, hi, _step = self.inv[key]
        return amount <= hi and cap >= used + amount

    def _render(self, results) -> dict:
        uuid = {p: v[0] for p, v in self.prov.items()}
        requests = []
        in_requests = set()
        for amounts, mappings in results:
            allocs: dict = {}
            for (p, rc_id), amt in sorted(amounts.items()):
                allocs.setdefault(uuid[p], {"resources": {}})["resources"][
                    self.rc_cache.name_of(rc_id)] = amt
                in_requests.add(p)
            requests.append({"allocations": allocs, "mappings": {
                sfx: sorted(uuid[p] for p in provs) for sfx, provs in mappings.items()}})
        if self.wide.nested_aware:
            roots = {self.prov[p][2] for p in in_requests}
            shown = [p for p in self.prov if self.prov[p][2] in roots]
        else:
            shown = sorted(in_requests)
        summaries = {}
        for p in shown:
            u, parent, root = self.prov[p]
            summaries[u] = {"resources": {}, "traits": sorted(self.traits.get(p, ())),
                            "parent_provider_uuid": uuid.get(parent),
                            "root_provider_uuid": uuid[root]}
        for rp_id, rc_id, total, reserved, ratio, used in summary_rows(
                self.conn, s.inventories.c.resource_provider_id.in_(shown)):
            summaries[uuid[rp_id]]["resources"][self.rc_cache.name_of(rc_id)] = {
                "capacity": int((total - reserved) * ratio), "used": int(used)}
        return {"allocation_requests": requests, "provider_summaries": summaries}


def _distinct_providers_left(offers, taken) -> bool:
    """Whether every set of *offers* that is not empty (the providers a
    same-provider group still to place may use) can get a provider of its
    own outside *taken*: a bipartite matching grown by one augmenting path
    (breadth-first, no recursion) per group."""
    owner: dict = {}  # provider -> group matched to it
    owned: dict = {}  # group -> its provider
    for start, offer in enumerate(offers):
        if not offer:
            continue
        reached_from = {}  # provider -> group the search reached it from
        queue, seen, free = collections.deque([start]), {start}, None
        while queue and free is None:
            group = queue.popleft()
            for p in offers[group]:
                if p in taken or p in reached_from:
                    continue
                reached_from[p] = group
                if p not in owner:
                    free = p
                    break
                if owner[p] not in seen:
                    seen.add(owner[p])
                    queue.append(owner[p])
        if free is None:
            return False
        p = free
        while True:  # each group on the path moves to the provider it reached
            group = reached_from[p]
            previous = owned.get(group)
            owner[p], owned[group] = group, p
            if group == start:
                break
            p = previous
    return True
