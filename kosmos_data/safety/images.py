"""Per-image safety verdicts of the image stage: known-bad hashes, then the NSFW classifier.

``ImageSafety.judge`` takes a batch of decoded images (``FetchedImage`` + the shared
``Pixels``) and, for the ok ones:

1. matches the pHash against the block list (``kosmos_data.safety.blocklist``): a match
   becomes ``blocked_hash`` and its bytes are dropped before anything else sees them;
2. scores the rest with the NSFW classifier in one batched call
   (``kosmos_data.safety.nsfw``), keeps the score in ``FetchedImage.nsfw_score`` (it goes to
   ``image_status/`` and the shard metadata) and turns an image scoring above
   ``nsfw_image_threshold`` into ``nsfw_image`` (bytes dropped too). The document-level rule
   (``nsfw_document``) is applied when documents are rebuilt
   (``kosmos_data.images.corpus.rebuild_document``).

``recheck`` applies the same rules to an image a rerun reuses from an earlier
``image_status/`` (the score is kept there; an image stored without one is scored from its
stored resized bytes).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image

from kosmos_data.images.config import ImageConfig
from kosmos_data.images.phash import from_hex
from kosmos_data.images.pixels import Pixels
from kosmos_data.records import FetchedImage
from kosmos_data.safety.blocklist import BlockList
from kosmos_data.safety.nsfw import NsfwClassifier, model_input

BLOCKED_HASH = "blocked_hash"
NSFW_IMAGE = "nsfw_image"
NSFW_DOCUMENT = "nsfw_document"


#: Scores remembered per worker, by sha256 of the bytes (a score is a pure function of the
#: bytes: batched and single inference agree exactly, ``tests/safety/test_images.py``), so
#: CDN copies and repeated site images are classified once. ~100 B an entry.
SCORE_CACHE_SIZE = 100_000


@dataclass(slots=True)
class ImageSafety:
    config: ImageConfig
    blocklist: BlockList | None = None
    classifier: NsfwClassifier | None = None
    _scores: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: ImageConfig) -> ImageSafety:
        blocklist = None
        if config.block_hashes:
            blocklist = BlockList.from_file(
                config.block_hashes, config.block_hash_threshold, config.resize_key
            )
        classifier = None
        if config.nsfw_filter:
            classifier = NsfwClassifier(config.nsfw_batch_size, precision=config.nsfw_precision)
        return cls(config, blocklist, classifier)

    @property
    def wants_input(self) -> bool:
        return self.classifier is not None

    def _block(self, img: FetchedImage) -> bool:
        if self.blocklist is None or not img.ok or not img.phash:
            return False
        m = self.blocklist.match(from_hex(img.phash))
        if m is None:
            return False
        img.reason, img.data = BLOCKED_HASH, b""
        img.error = f"pHash within {m[1]} bits of listed {m[0]}"
        return True

    def _apply_score(self, img: FetchedImage, score: float) -> None:
        img.nsfw_score = round(score, 6)
        if score > self.config.nsfw_image_threshold:
            img.reason, img.data = NSFW_IMAGE, b""
            img.error = f"nsfw score {img.nsfw_score} > {self.config.nsfw_image_threshold}"

    def judge(self, batch: Sequence[tuple[FetchedImage, Pixels | None]]) -> list[FetchedImage]:
        """Block-list, then one classifier call for the batch's not yet scored bytes."""
        if len(self._scores) + len(batch) > SCORE_CACHE_SIZE:
            self._scores.clear()
        todo: dict[str, object] = {}
        for img, px in batch:
            if self._block(img) or not img.ok or px is None or self.classifier is None:
                continue
            if img.sha256 not in self._scores:
                todo.setdefault(img.sha256, px.nsfw_input)
        if todo:
            scores = self.classifier.scores(list(todo.values()))
            self._scores.update(zip(todo, scores, strict=True))
        for img, px in batch:
            if img.ok and px is not None and self.classifier is not None:
                self._apply_score(img, self._scores[img.sha256])
        return [img for img, _ in batch]

    def recheck(self, img: FetchedImage) -> FetchedImage:
        """The rules for a reused image (its stored, resized bytes)."""
        if self._block(img) or not img.ok or self.classifier is None:
            return img
        score = img.nsfw_score
        if score is None:
            with Image.open(io.BytesIO(img.data)) as im:
                score = self.classifier.scores([model_input(im)])[0]
        self._apply_score(img, score)
        return img
