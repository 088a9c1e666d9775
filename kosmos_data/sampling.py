"""KOSMOS-1 sampling rules for interleaved image-text documents.

KOSMOS-1 (Huang et al. 2023, "Language Is Not All You Need", §3.1 "Multimodal Training Data",
paragraph "Interleaved Image-Text Data", and the data appendix) builds its interleaved corpus
from Common Crawl and states two rules that this module implements:

* "we restrict the number of images per document to five" -> ``cap_images``;
* "we randomly drop half of the documents that only have one image" -> ``sample_single_image``.

Plus the obvious precondition that an interleaved document has an image -> ``require_images``.

The single-image draw must be reproducible: the same URL and seed give the same decision on
every rerun, runner and worker process. It is therefore derived from ``blake2b(seed, url)``
(Python's ``hash()`` is salted per process and must not be used).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kosmos_data.records import Document, Verdict


@dataclass(frozen=True, slots=True)
class SamplingConfig:
    """KOSMOS-1 sampling settings.

    ``max_images``: images kept per document, first in reading order (KOSMOS-1: five).
    ``single_image_keep_prob``: probability a one-image document survives (KOSMOS-1 drops
    "half", so 0.5).
    ``seed``: salts the per-URL draw; change it to draw a different half.
    ``min_images``: documents with fewer images are dropped (``no_images``).
    """

    max_images: int = 5
    single_image_keep_prob: float = 0.5
    seed: int = 0
    min_images: int = 1

    def __post_init__(self) -> None:
        for name in ("max_images", "seed", "min_images"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"SamplingConfig.{name} must be an int, got {v!r}")
        if self.max_images < 1:
            raise ValueError(f"SamplingConfig.max_images must be >= 1, got {self.max_images!r}")
        if self.min_images < 0:
            raise ValueError(f"SamplingConfig.min_images must be >= 0, got {self.min_images!r}")
        if self.min_images > self.max_images:
            raise ValueError(
                f"SamplingConfig.min_images must be <= max_images ({self.max_images}), "
                f"got {self.min_images!r}"
            )
        p = self.single_image_keep_prob
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            raise ValueError(f"SamplingConfig.single_image_keep_prob must be in [0, 1], got {p!r}")


def _sampling_meta(doc: Document) -> dict[str, object]:
    meta = doc.meta.get("sampling")
    if not isinstance(meta, dict):
        meta = {}
        doc.meta["sampling"] = meta
    return meta


def stable_uniform(seed: int, key: str) -> float:
    """A uniform draw in [0, 1) fixed by ``(seed, key)``: 53 bits of ``blake2b``.

    The seed is hashed in decimal followed by a NUL separator, so ``(1, "0x")`` and
    ``(10, "x")`` hash different inputs.
    """
    h = hashlib.blake2b(f"{seed}\x00{key}".encode(), digest_size=8).digest()
    return (int.from_bytes(h, "big") >> 11) / float(1 << 53)


def cap_images(doc: Document, config: SamplingConfig) -> int:
    """Keep the first ``config.max_images`` image segments; remove later ones in place.

    Text segments all stay, in order. Text segments that become adjacent are *not* merged:
    ``Document.text`` joins segments with a blank line either way, and keeping them separate
    preserves the extractor's paragraph boundaries. Returns the number of images removed and
    records it as ``doc.meta["sampling"]["images_capped"]``.
    """
    kept = 0
    removed = 0
    out = []
    for seg in doc.segments:
        if seg.image is not None:
            if kept >= config.max_images:
                removed += 1
                continue
            kept += 1
        out.append(seg)
    if removed:
        doc.segments[:] = out
    _sampling_meta(doc)["images_capped"] = removed
    return removed


def require_images(doc: Document, config: SamplingConfig) -> Verdict:
    """``no_images`` when the document has fewer than ``config.min_images`` images."""
    n = sum(1 for s in doc.segments if s.image is not None)
    return "no_images" if n < config.min_images else None


def sample_single_image(doc: Document, config: SamplingConfig) -> Verdict:
    """Drop a deterministic random share of one-image documents (KOSMOS-1: half of them).

    The draw is ``stable_uniform(config.seed, doc.provenance.url)``; the document is kept
    when ``draw < single_image_keep_prob``. Records ``single_image_draw`` and
    ``single_image_kept`` in ``doc.meta["sampling"]``; documents with any other number of
    images are kept and not annotated.
    """
    n = sum(1 for s in doc.segments if s.image is not None)
    if n != 1:
        return None
    draw = stable_uniform(config.seed, doc.provenance.url)
    keep = draw < config.single_image_keep_prob
    meta = _sampling_meta(doc)
    meta["single_image_draw"] = round(draw, 6)
    meta["single_image_kept"] = keep
    return None if keep else "single_image_sampled_out"
