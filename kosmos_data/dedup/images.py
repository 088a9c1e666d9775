"""Image-level deduplication: boilerplate image URLs and identical image sets.

OBELICS (Laurençon et al. 2023, §4.2, "Image deduplication") removes images whose URL appears
more than 10 times across the corpus: logos, icons, banners and placeholders that carry no
document-specific content. ``DedupConfig.image_url_max_pages`` (default 10) counts *pages*
(each page once per URL) per normalised image URL; images above it are removed from every
document that holds them, as image drops with reason ``boilerplate_image``. A document that
had images and has none left is dropped (``no_images_after_dedup``) — an interleaved document
needs one; text-only documents (the text corpus) are never dropped for it.

Documents whose (normalised) image URL *sets* are identical are then deduplicated like exact
text duplicates (``duplicate_image_set``): the same gallery re-published on many pages. For
image-caption pairs this is deduplication by image URL.
"""

from __future__ import annotations

import hashlib

from kosmos_data.dedup.urlnorm import normalize_url
from kosmos_data.records import Document

BOILERPLATE_IMAGE = "boilerplate_image"


def image_keys(doc: Document) -> list[str]:
    """Distinct normalised image URLs of ``doc``, sorted."""
    return sorted({normalize_url(img.url) for img in doc.images})


def image_set_key(doc: Document) -> str | None:
    """Hash of the document's normalised image-URL set (None for a document without images)."""
    keys = image_keys(doc)
    if not keys:
        return None
    return hashlib.blake2b("\n".join(keys).encode("utf-8"), digest_size=16).hexdigest()


def without_images(doc: Document, boilerplate: set[str] | frozenset[str]) -> tuple[Document, int]:
    """A copy of ``doc`` without the images whose normalised URL is in ``boilerplate``,
    and the number of images removed (the input is not modified)."""
    segments = []
    removed = 0
    for seg in doc.segments:
        if seg.image is not None and normalize_url(seg.image.url) in boilerplate:
            removed += 1
        else:
            segments.append(seg)
    if not removed:
        return doc, 0
    meta = dict(doc.meta)
    drops = dict(meta.get("image_drops", {}) or {})
    drops[BOILERPLATE_IMAGE] = int(drops.get(BOILERPLATE_IMAGE, 0)) + removed
    meta["image_drops"] = drops
    out = Document(doc.id, doc.provenance, segments, doc.extractor, meta)
    return out, removed
