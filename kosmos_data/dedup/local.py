"""The whole deduplication in memory: the reference the Beam transforms must match.

Used by the quality tests (thousands of documents in seconds) and by small corpora; Beam
(``kosmos_data.beam.dedup``) runs the same functions, grouped by key instead of in dicts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from kosmos_data.dedup import (
    DUPLICATE_IMAGE_SET,
    DUPLICATE_TEXT,
    DUPLICATE_URL,
    NEAR_DUPLICATE,
    NO_IMAGES_AFTER_DEDUP,
    STAGE_IMAGES,
    STAGE_NEAR,
    STAGE_TEXT,
    STAGE_URL,
    DedupConfig,
    kept_detail,
)
from kosmos_data.dedup.components import bucket_edges, components, rank_doc_id, rank_key
from kosmos_data.dedup.images import BOILERPLATE_IMAGE, image_keys, image_set_key, without_images
from kosmos_data.dedup.lsh import band_keys
from kosmos_data.dedup.minhash import MinHasher
from kosmos_data.dedup.text import text_hash
from kosmos_data.dedup.urlnorm import normalize_url
from kosmos_data.funnel import IMAGE_DROPPED
from kosmos_data.records import Document, Dropped


def url_key(doc: Document) -> str | None:
    return normalize_url(doc.provenance.url) if doc.provenance.url else None


def text_key(doc: Document) -> str | None:
    text = doc.text
    return text_hash(text) if text.strip() else None


def near_signature(doc: Document, hasher: MinHasher) -> bytes | None:
    """Raw signature bytes of the document's text, or None when it has no word."""
    keys = hasher.shingles(doc.text)
    if len(keys) == 0:
        return None
    return np.ascontiguousarray(hasher.signature_of_shingles(keys), dtype="<u4").tobytes()


def dropped_duplicate(doc: Document, stage: str, reason: str, kept_id: str) -> Dropped:
    return Dropped(stage, reason, doc.provenance, kept_detail(kept_id), document=doc)


@dataclass
class DedupResult:
    kept: list[Document]
    dropped: list[Dropped] = field(default_factory=list)
    counters: dict[tuple[str, str, str], int] = field(default_factory=dict)


def dedup_exact(
    docs: list[Document], key: Callable[[Document], str | None], stage: str, reason: str
) -> tuple[list[Document], list[Dropped]]:
    """Keep the minimum-rank document of each key; documents without a key pass."""
    groups: dict[str, list[tuple[str, Document]]] = defaultdict(list)
    kept, dropped = [], []
    for d in docs:
        k = key(d)
        if k is None:
            kept.append(d)
        else:
            groups[k].append((rank_key(d), d))
    for members in groups.values():
        members.sort(key=lambda m: m[0])
        winner = members[0][1]
        kept.append(winner)
        dropped.extend(dropped_duplicate(d, stage, reason, winner.id) for _, d in members[1:])
    return kept, dropped


def boilerplate_urls(docs: Iterable[Document], max_pages: int) -> set[str]:
    """Normalised image URLs found on more than ``max_pages`` documents."""
    pages: dict[str, int] = defaultdict(int)
    for d in docs:
        for u in image_keys(d):
            pages[u] += 1
    return {u for u, n in pages.items() if n > max_pages}


def near_duplicate_map(items: Iterable[tuple[str, bytes]], config: DedupConfig) -> dict[str, str]:
    """rank -> kept rank, for every near duplicate among (rank, signature bytes) items."""
    buckets: dict[bytes, list[tuple[str, bytes]]] = defaultdict(list)
    for rank, sig in items:
        for b in band_keys(sig, config.bands, config.rows):
            buckets[b].append((rank, sig))
    edges = []
    for members in buckets.values():
        if len(members) > 1:
            edges.extend(bucket_edges(members, config.threshold))
    return components(edges)


def dedup_documents(docs: Iterable[Document], config: DedupConfig) -> DedupResult:
    """Run the enabled stages in order on an in-memory corpus."""
    kept = list(docs)
    result = DedupResult(kept=[])
    if config.url:
        kept, dropped = dedup_exact(kept, url_key, STAGE_URL, DUPLICATE_URL)
        result.dropped += dropped
    if config.text:
        kept, dropped = dedup_exact(kept, text_key, STAGE_TEXT, DUPLICATE_TEXT)
        result.dropped += dropped
    if config.images:
        boiler = (
            boilerplate_urls(kept, config.image_url_max_pages)
            if config.image_url_max_pages > 0
            else set()
        )
        survivors = []
        removed_total = 0
        for d in kept:
            had = len(d.images)
            d2, removed = without_images(d, boiler)
            removed_total += removed
            if had and not d2.images:
                result.dropped.append(Dropped(STAGE_IMAGES, NO_IMAGES_AFTER_DEDUP, d2.provenance,
                                              f"removed={removed}", document=d2))  # fmt: skip
            else:
                survivors.append(d2)
        if removed_total:
            result.counters[(IMAGE_DROPPED, STAGE_IMAGES, BOILERPLATE_IMAGE)] = removed_total
        kept = survivors
        if config.image_sets:
            kept, dropped = dedup_exact(kept, image_set_key, STAGE_IMAGES, DUPLICATE_IMAGE_SET)
            result.dropped += dropped
    if config.near:
        hasher = MinHasher(config.num_perm, config.ngram, config.seed)
        by_rank = {}
        items = []
        for d in kept:
            r = rank_key(d)
            by_rank[r] = d
            sig = near_signature(d, hasher)
            if sig is not None:
                items.append((r, sig))
        dup = near_duplicate_map(items, config)
        kept = []
        for r, d in by_rank.items():
            if r in dup:
                kept_id = rank_doc_id(dup[r])
                result.dropped.append(dropped_duplicate(d, STAGE_NEAR, NEAR_DUPLICATE, kept_id))
            else:
                kept.append(d)
    result.kept = sorted(kept, key=lambda d: d.id)
    return result
