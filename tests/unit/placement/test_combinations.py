"""The depth-first combination of the groups' candidates
(compute_core.placement.objects.candidates_general.GeneralPath._combinations) yields exactly
what filtering itertools.product would, in the same order."""
import collections
import itertools
import random

import pytest

from compute_core.placement.objects import candidates_general
from compute_core.placement.objects.candidates_general import _Cand

VCPU = 1


def general(capacity):
    """A _General whose inventories are {provider: VCPU capacity}."""
    g = candidates_general.GeneralPath.__new__(candidates_general.GeneralPath)
    g.inv = {(p, VCPU): (float(cap), 0, 1, cap, 1) for p, cap in capacity.items()}
    return g


def naive(g, lists, isolate):
    """What run() did before: every product, filtered."""
    numbered = sum(1 for cands in lists if cands[0].same)
    for combo in itertools.product(*lists):
        if isolate:
            used = set().union(*(c.providers for c in combo if c.same))
            if len(used) != numbered:
                continue
        amounts = collections.defaultdict(int)
        for c in combo:
            for p, rc, amt in c.alloc:
                amounts[(p, rc)] += amt
        if all(g._fits_total(k, v) for k, v in amounts.items()):
            yield combo, dict(amounts)


def same(p, amount, suffix):
    return _Cand(0, ((p, VCPU, amount),), frozenset([p]), suffix, True)


@pytest.mark.parametrize("seed", range(40))
def test_same_answers_as_the_product_in_the_same_order(seed):
    rnd = random.Random(seed)
    providers = list(range(rnd.randint(1, 5)))
    g = general({p: rnd.randint(1, 6) for p in providers})
    lists = []
    for i in range(rnd.randint(1, 5)):
        offered = rnd.sample(providers, rnd.randint(1, len(providers)))
        lists.append([same(p, rnd.randint(1, 3), str(i + 1)) for p in offered])
    if rnd.random() < 0.5:  # an unnumbered group spread over two providers
        a, b = rnd.choice(providers), rnd.choice(providers)
        lists.append([_Cand(0, ((a, VCPU, 1), (b, VCPU, 1)) if a != b else ((a, VCPU, 2),),
                            frozenset([a, b]), "", False)])
    isolate = rnd.random() < 0.6
    assert list(g._combinations(lists, isolate)) == list(naive(g, lists, isolate))


@pytest.mark.timeout(30)
def test_isolation_with_too_few_providers_ends_at_once():
    g = general({p: 100 for p in range(8)})
    lists = [[same(p, 1, str(i)) for p in range(8)] for i in range(1, 31)]
    assert list(g._combinations(lists, True)) == []  # 8^30 products before


@pytest.mark.parametrize("offers, taken, expected", [
    ([{1, 2}, {1, 2}], set(), True),
    ([{1, 2}, {1, 2}, {1, 2}], set(), False),
    ([{1}, {1, 2}, {2, 3}], set(), True),
    ([{1}, {1, 2}, {2, 3}], {3}, False),
    ([set(), {4}], {1}, True),       # a group with no same-provider offer
    ([{1, 2, 3}, {1}, {2}], set(), True),  # needs an augmenting path
])
def test_distinct_providers_left(offers, taken, expected):
    assert candidates_general._distinct_providers_left(offers, taken) is expected
