"""Which document to keep, candidate edges from LSH buckets, and connected components.

**Keep rule.** Every duplicate group (same URL, same text, same image set, or a near-duplicate
cluster) keeps one document, chosen deterministically: most images, then longest text, then
smallest normalised-URL hash, then smallest id. ``rank_key`` encodes that order in a string
whose lexicographic minimum is the document to keep, so "keep the minimum" is the whole rule
in every stage, in memory and in Beam.

**Edges.** An LSH bucket (documents sharing one band) yields a *star*: its minimum-rank member
(the anchor) joined to every other member whose signature agrees with the anchor's on at least
``threshold`` of the slots. Two passes over the bucket, O(1) memory besides the iterable — a
bucket of a million copies does not have to fit anywhere — and O(n) edges instead of O(n**2).

**Components.** In memory: union-find. In Beam: the alternating *large-star* / *small-star*
algorithm of Kiveris et al. 2014 ("Connected Components in MapReduce and Beyond", SoCC),
which converges to a forest of stars centred on each component's minimum vertex in
O(log**2 n) rounds; each round is one GroupByKey on a vertex, and its reducer streams the
vertex's neighbours twice (min, then emit), so no group has to be materialised. Vertices are
rank keys, so each star's centre is exactly the document to keep. The Beam graph unrolls a
fixed number of rounds and then checks that the result is a star forest (``star_violations``);
a run that needed more rounds reports it in the funnel rather than silently keeping two
documents of one cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from kosmos_data.dedup.lsh import agreement
from kosmos_data.dedup.urlnorm import url_hash
from kosmos_data.records import Document

_MAX_IMAGES = 0xFFFF
_MAX_CHARS = 0xFFFFFFFFFF
RANK_PREFIX = 4 + 10 + 16  # hex digits before the document id in a rank key


def rank_key(doc: Document) -> str:
    """A string whose minimum over a duplicate group is the document to keep."""
    n_images = min(len(doc.images), _MAX_IMAGES)
    n_chars = min(sum(len(s.text) for s in doc.segments if s.text), _MAX_CHARS)
    url = url_hash(doc.provenance.url)
    return f"{_MAX_IMAGES - n_images:04x}{_MAX_CHARS - n_chars:010x}{url}{doc.id}"


def rank_doc_id(rank: str) -> str:
    """The document id inside a rank key."""
    return rank[RANK_PREFIX:]


def bucket_edges(members: Iterable[tuple[str, bytes]], threshold: float) -> Iterator[tuple]:
    """Star edges (anchor rank, member rank) of one LSH bucket, verified on the signatures.

    ``members`` is re-iterable (a Beam grouped iterable or a list) of (rank, signature bytes).
    """
    anchor = None
    anchor_sig = b""
    for rank, sig in members:
        if anchor is None or rank < anchor:
            anchor, anchor_sig = rank, sig
    if anchor is None:
        return
    for rank, sig in members:
        if rank != anchor and agreement(anchor_sig, sig) >= threshold:
            yield anchor, rank


def large_star(u: str, neighbours: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Kiveris et al. Large-Star at ``u``: connect every larger neighbour to the minimum of
    ``u``'s closed neighbourhood. ``neighbours`` is re-iterable (two passes)."""
    m = u
    for v in neighbours:
        if v < m:
            m = v
    for v in neighbours:
        if v > u and v != m:
            yield v, m


def small_star(u: str, smaller: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Kiveris et al. Small-Star at ``u`` (``smaller``: neighbours <= ``u``): connect ``u`` and
    its smaller neighbours to their minimum."""
    m = u
    for v in smaller:
        if v < m:
            m = v
    if m != u:
        yield u, m
    for v in smaller:
        if v != m:
            yield v, m


def undirected(edges: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Both directions of each edge, self-loops removed (the map phase of Large-Star)."""
    for a, b in edges:
        if a != b:
            yield a, b
            yield b, a


def towards_smaller(edges: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Each edge keyed by its larger end (the map phase of Small-Star)."""
    for a, b in edges:
        if a < b:
            yield b, a
        elif b < a:
            yield a, b


class UnionFind:
    """Union-find with the minimum element as each set's representative."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = (ra, rb) if ra < rb else (rb, ra)
            self.parent[hi] = lo
            self.parent.setdefault(lo, lo)


def components(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """vertex -> its component's minimum vertex, for every non-minimum vertex of ``edges``."""
    uf = UnionFind()
    for a, b in edges:
        uf.union(a, b)
    out = {}
    for v in list(uf.parent):
        r = uf.find(v)
        if r != v:
            out[v] = r
    return out
