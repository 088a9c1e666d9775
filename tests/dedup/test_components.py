"""Large-Star/Small-Star against union-find, on random graphs, run as the Beam job runs it."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict

from kosmos_data.dedup.components import (
    components,
    large_star,
    small_star,
    towards_smaller,
    undirected,
)


def _round(edges, phase):
    groups = defaultdict(list)
    pairs = undirected(edges) if phase == "large" else towards_smaller(edges)
    for u, v in pairs:
        groups[u].append(v)
    fn = large_star if phase == "large" else small_star
    return sorted({e for u, vs in groups.items() for e in fn(u, vs)})


def _labels(edges):
    out = {}
    for a, b in edges:
        hi, lo = max(a, b), min(a, b)
        out[hi] = min(out.get(hi, lo), lo)
    return out


def test_alternating_stars_converge_to_the_component_minimum():
    rng = random.Random(0)
    for trial in range(30):
        n = rng.randint(2, 300)
        verts = [f"{i:05d}" for i in range(n)]
        edges = [tuple(rng.sample(verts, 2)) for _ in range(rng.randint(1, n))]
        if trial % 3 == 0:  # long chains: the worst case for label propagation
            order = verts[:]
            rng.shuffle(order)
            edges = list(itertools.pairwise(order))
        want = components(edges)
        cur = edges
        for _ in range(12):
            cur = _round(_round(cur, "large"), "small")
        assert _labels(cur) == want


def test_union_find_representative_is_the_minimum():
    assert components([("c", "b"), ("b", "d"), ("x", "y")]) == {"c": "b", "d": "b", "y": "x"}
