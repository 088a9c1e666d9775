"""Deduplication's per-document decisions as steps answering ``Outcome`` (Beam-free).

Deduplication needs the whole corpus grouped before it can decide about one document: by
key (URL, text hash, image-URL set), by image URL (boilerplate images), by LSH band and
connected component (near duplicates). That grouping stays in the runner
(``kosmos_data.beam.dedup``) or in dicts (``kosmos_data.dedup.local``); what it hands each
document is its group's decision, and the last step is per document like every other stage:

* ``DuplicateStep`` gets ``(document, kept id)``: kept when the id is None, else dropped
  with the stage's reason and ``kept=<id>`` (``kept_detail``) as the detail;
* ``BoilerplateImagesStep`` gets ``(document, boilerplate image URLs)``: the images removed
  (counted per image, ``boilerplate_image``), and the document dropped
  (``no_images_after_dedup``) when it had images and none is left.

``keep_min_rank`` is the decision of one exact-duplicate group. The steps are routed by the
same transform as every other stage (``kosmos_data.beam.transforms.ApplyStep``), which
counts ``dropped_<reason>`` and emits the ``Dropped``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

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
from kosmos_data.dedup.images import BOILERPLATE_IMAGE, image_set_key, without_images
from kosmos_data.dedup.local import text_key, url_key
from kosmos_data.funnel import IMAGE_DROPPED
from kosmos_data.records import Document
from kosmos_data.stages import Outcome


class DuplicateStep:
    """``(document, kept id or None)`` -> kept, or dropped as a duplicate of the kept id.

    ``key`` is the grouping key of an exact stage (documents without one pass); None for
    near duplicates, whose groups are connected components of LSH candidate pairs.
    """

    def __init__(
        self, stage: str, reason: str, key: Callable[[Document], str | None] | None = None
    ) -> None:
        self.name = stage
        self.reason = reason
        self.key = key

    def setup(self) -> None:
        pass

    def __call__(self, decided: tuple[Document, str | None]) -> Outcome:
        doc, kept_id = decided
        if kept_id is None:
            return Outcome(record=doc)
        return Outcome(self.reason, record=doc, detail=kept_detail(kept_id))


class BoilerplateImagesStep:
    """``(document, boilerplate image URLs)`` -> the document without those images (OBELICS
    §4.2: image URLs on more than ``max_pages`` pages); dropped when it had images and has
    none left (text-only documents are never dropped for it)."""

    name = STAGE_IMAGES

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages

    def setup(self) -> None:
        pass

    def __call__(self, element: tuple[Document, Iterable[str]]) -> Outcome:
        doc, urls = element
        urls = set(urls)
        if not urls:
            return Outcome(record=doc)
        stripped, removed = without_images(doc, urls)
        counters = {(IMAGE_DROPPED, self.name, BOILERPLATE_IMAGE): removed} if removed else {}
        if doc.images and not stripped.images:
            return Outcome(
                NO_IMAGES_AFTER_DEDUP, counters, record=stripped, detail=f"removed={removed}"
            )
        return Outcome(counters=counters, record=stripped)


def dedup_steps(config: DedupConfig) -> tuple[DuplicateStep | BoilerplateImagesStep, ...]:
    """The deduplication stages ``config`` enables, in order: URL, text, boilerplate images,
    image sets, near duplicates (each removes what the next would otherwise compare)."""
    steps: list[DuplicateStep | BoilerplateImagesStep] = []
    if config.url:
        steps.append(DuplicateStep(STAGE_URL, DUPLICATE_URL, url_key))
    if config.text:
        steps.append(DuplicateStep(STAGE_TEXT, DUPLICATE_TEXT, text_key))
    if config.images and config.image_url_max_pages > 0:
        steps.append(BoilerplateImagesStep(config.image_url_max_pages))
    if config.images and config.image_sets:
        steps.append(DuplicateStep(STAGE_IMAGES, DUPLICATE_IMAGE_SET, image_set_key))
    if config.near:
        steps.append(DuplicateStep(STAGE_NEAR, NEAR_DUPLICATE))
    return tuple(steps)


def keep_min_rank(
    members: Iterable[tuple[str, Document]],
) -> Iterator[tuple[Document, str | None]]:
    """One exact-duplicate group of ``(rank, document)``: ``(document, None)`` for the
    minimum rank (``components.rank_key``), ``(document, kept id)`` for every other member.

    Two passes over ``members``, never a copy: a runner may page a large group. Equal ranks
    (the same document read twice) keep one.
    """
    best_rank, best = None, None
    for rank, doc in members:
        if best_rank is None or rank < best_rank:
            best_rank, best = rank, doc
    if best is None:
        return
    yield best, None
    kept_one = False
    for rank, doc in members:
        if rank == best_rank and not kept_one:
            kept_one = True
        else:
            yield doc, best.id
