"""64-bit perceptual hashes, near-duplicate bands, and the evaluation-image index.

pHash (Zauner 2010; the ``imagehash.phash`` implementation: 32x32 greyscale, 2-D DCT, the
8x8 low frequencies against their median) maps re-encodes, resizes and small edits of a
photo to hashes a few bits apart. Two uses here:

* **near-duplicate dedup across the corpus** (``bands``): split the 64 bits into
  ``threshold + 1`` contiguous bands; by the pigeonhole principle two hashes within Hamming
  distance ``threshold`` agree exactly on at least one band, so grouping by (band index,
  band value) finds *every* near pair (no false negatives), and the exact distance is then
  checked inside each group;
* **image decontamination** (``EvalIndex``): every fetched image is compared with every
  evaluation image (e.g. COCO / Flickr30k / VQAv2 images a model will be tested on) by XOR
  and popcount over a ``uint64`` array; 200k evaluation images cost well under a
  millisecond per query with numpy.

What is hashed: the image **as the trainer will see it**, i.e. the output of the resize
(``ImageFetcher.resize``, img2dataset's ``Resizer`` with the run's size and mode), decoded
from the small JPEG. This costs ~1 ms instead of a second full decode of the original, and
evaluation images go through the very same resize before hashing, so both sides are
computed identically (a precomputed hash file records the resize settings it was made with
and is refused under others). A web copy cropped differently from the evaluation image can
be missed; pHash tolerates small crops only.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")


def phash_image(img: Image.Image) -> int:
    """pHash of a Pillow image as a 64-bit int (the bit order of ``imagehash``'s hex)."""
    import imagehash

    bits = imagehash.phash(img).hash.flatten()
    value = 0
    for b in bits:
        value = (value << 1) | int(b)
    return value


def phash_bytes(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as img:
        return phash_image(img)


def to_hex(h: int) -> str:
    return f"{h:016x}"


def from_hex(s: str) -> int:
    return int(s, 16)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def bands(h: int, threshold: int) -> list[tuple[int, int]]:
    """``threshold + 1`` (band index, band value) pairs covering the 64 bits."""
    n = threshold + 1
    out = []
    start = 0
    for i in range(n):
        width = 64 // n + (1 if i < 64 % n else 0)
        out.append((i, (h >> (64 - start - width)) & ((1 << width) - 1)))
        start += width
    return out


class EvalIndex:
    """pHashes of evaluation images; ``match(h)`` names one within the threshold, if any."""

    def __init__(self, hashes: dict[str, int], threshold: int) -> None:
        self.names = sorted(hashes)
        self.hashes = np.array([hashes[n] for n in self.names], dtype=np.uint64)
        self.threshold = threshold

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_path(
        cls, path: str, threshold: int, transform: Transform, resize_key: str
    ) -> EvalIndex:
        """A directory of images (searched recursively; each passed through ``transform``,
        the run's resize, before hashing) or a hash file written by ``write_hash_file``."""
        p = Path(path)
        if p.is_file():
            return cls(read_hash_file(p, resize_key), threshold)
        if not p.is_dir():
            raise FileNotFoundError(f"evaluation images: no such file or directory: {path}")
        return cls(hash_directory(p, transform), threshold)

    def match(self, h: int) -> tuple[str, int] | None:
        """(name, distance) of the closest evaluation image within the threshold, else None."""
        if not self.names:
            return None
        d = np.bitwise_count(self.hashes ^ np.uint64(h))
        i = int(np.argmin(d))
        return (self.names[i], int(d[i])) if int(d[i]) <= self.threshold else None


#: ``transform(original bytes) -> resized bytes or None`` (None: not usable, skipped).
Transform = Callable[[bytes], bytes | None]


def hash_directory(directory: Path, transform: Transform) -> dict[str, int]:
    """pHash of every usable image under ``directory`` (relative path -> hash)."""
    out: dict[str, int] = {}
    for f in sorted(directory.rglob("*")):
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
            data = transform(f.read_bytes())
            if data:
                out[f.relative_to(directory).as_posix()] = phash_bytes(data)
    return out


def write_hash_file(hashes: dict[str, int], path: str | Path, resize_key: str) -> None:
    lines = [f"# kosmos-data eval phash resize_key={resize_key}"]
    lines += [f"{to_hex(hashes[n])} {n}" for n in sorted(hashes)]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_hash_file(path: Path, resize_key: str) -> dict[str, int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = f"# kosmos-data eval phash resize_key={resize_key}"
    if not lines or lines[0].strip() != header:
        found = lines[0] if lines else "(empty file)"
        raise ValueError(f"{path}: expected header {header!r} (same resize), got {found!r}")
    hashes: dict[str, int] = {}
    for line in lines[1:]:
        if line.strip():
            h, _, name = line.strip().partition(" ")
            hashes[name or h] = from_hex(h)
    return hashes
