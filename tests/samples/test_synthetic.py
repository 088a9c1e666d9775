"""Demo photos: deterministic per id, and far apart in pHash (so image dedup keeps them)."""

from __future__ import annotations

import io
import itertools

import imagehash
from PIL import Image

from kosmos_samples.synthetic import synthetic_photo


def test_same_id_same_bytes_and_real_jpeg():
    a, b = synthetic_photo("3f2a9c01b7de"), synthetic_photo("3f2a9c01b7de")
    assert a == b
    im = Image.open(io.BytesIO(a))
    assert im.format == "JPEG" and im.size == (320, 240)


def test_different_ids_are_distinct_photos():
    hashes = [imagehash.phash(Image.open(io.BytesIO(synthetic_photo(f"id{i}")))) for i in range(60)]
    distances = [a - b for a, b in itertools.combinations(hashes, 2)]
    print(f"min pHash distance over {len(distances)} pairs: {min(distances)}")
    assert min(distances) > 8  # the image stage's near-duplicate threshold is 4
