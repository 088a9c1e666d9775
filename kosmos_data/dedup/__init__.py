"""Deduplication of documents at web scale (Beam-free core).

Four stages, in this order (each removes what the next would otherwise have to compare):

=================  ===========================================  =================================
stage              key                                          drop reason
=================  ===========================================  =================================
``dedup_url``      normalised URL (``urlnorm``)                 ``duplicate_url``
``dedup_text``     blake2b of the normalised text (``text``)    ``duplicate_text``
``dedup_images``   image URL on > N pages: image removed;       ``no_images_after_dedup``,
                   then identical image-URL sets (``images``)   ``duplicate_image_set``
``dedup_near``     MinHash + LSH + connected components         ``near_duplicate``
=================  ===========================================  =================================

Every group keeps one document by ``components.rank_key`` (most images, longest text,
smallest URL hash); every dropped record says which document was kept (``kept=<id>`` in
``Dropped.detail``). ``kosmos_data.dedup.local`` runs the whole thing in memory (tests, small
corpora); ``kosmos_data.beam.dedup.DropDuplicates`` runs it on Beam with no step holding more
than one key's group.
"""

from __future__ import annotations

from dataclasses import dataclass

STAGE_URL = "dedup_url"
STAGE_TEXT = "dedup_text"
STAGE_IMAGES = "dedup_images"
STAGE_NEAR = "dedup_near"
STAGES = (STAGE_URL, STAGE_TEXT, STAGE_IMAGES, STAGE_NEAR)

DUPLICATE_URL = "duplicate_url"
DUPLICATE_TEXT = "duplicate_text"
DUPLICATE_IMAGE_SET = "duplicate_image_set"
NO_IMAGES_AFTER_DEDUP = "no_images_after_dedup"
NEAR_DUPLICATE = "near_duplicate"


def kept_detail(kept_id: str) -> str:
    """``Dropped.detail`` of a duplicate: the id of the document that was kept."""
    return f"kept={kept_id}"


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """Deduplication settings (defaults and their sources in the module docstrings).

    ``num_perm`` must equal ``bands * rows``. ``threshold`` is the estimated Jaccard an LSH
    candidate pair must reach on the full signature to become an edge (``lsh``).
    ``max_rounds`` is the number of Large-Star/Small-Star rounds unrolled in the Beam graph
    (``components``). ``image_url_max_pages`` = OBELICS' 10; 0 disables boilerplate removal.
    """

    url: bool = True
    text: bool = True
    images: bool = True
    near: bool = True
    image_sets: bool = True
    num_perm: int = 112
    bands: int = 14
    rows: int = 8
    ngram: int = 5
    seed: int = 1
    threshold: float = 0.7
    max_rounds: int = 6
    image_url_max_pages: int = 10

    def __post_init__(self) -> None:
        for name in ("num_perm", "bands", "rows", "ngram", "max_rounds"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"DedupConfig.{name} must be an int >= 1, got {v!r}")
        if self.bands > 255:
            raise ValueError(f"DedupConfig.bands must be <= 255, got {self.bands}")
        if self.bands * self.rows != self.num_perm:
            raise ValueError(
                f"DedupConfig.num_perm ({self.num_perm}) must equal bands * rows "
                f"({self.bands} * {self.rows} = {self.bands * self.rows})"
            )
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"DedupConfig.threshold must be in (0, 1], got {self.threshold!r}")
        v = self.image_url_max_pages
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"DedupConfig.image_url_max_pages must be an int >= 0, got {v!r}")
        for name in ("url", "text", "images", "near", "image_sets"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"DedupConfig.{name} must be a bool")

    @property
    def enabled(self) -> bool:
        return self.url or self.text or self.images or self.near
