"""Known-bad image hash lists (``--block-image-hashes FILE``), matched before bytes are kept.

The LAION-5B re-release (Re-LAION, 2024) was cleaned by matching its images against hash
lists of known abuse material supplied by child-safety organisations; no interleaved web
corpus documents doing the same. Here every fetched image's 64-bit pHash (the one the stage
computes anyway, ``kosmos_data.images.phash``) is compared with the list right after the
decode; a match is dropped as ``blocked_hash``, its bytes are discarded there and then, and
only its hashes, URL and the count reach ``image_status/`` and the funnel.

File format: one hash per line, 16 hex digits (a pHash), optionally followed by a space and
a label; blank lines and ``#`` comments are ignored. ``kosmos-data images hash-block DIR
--out FILE`` writes such a list from a directory of images through the run's resize, with a
``# kosmos-data block phash resize_key=...`` first line; a list with such a line is refused
under other resize settings (the pHash is of the resized image). Other hash kinds (PDQ's
256 bits, 64 hex digits) are refused with a clear error: not supported yet.

Threshold: Hamming distance <= ``ImageConfig.block_hash_threshold`` (default 6 of 64 bits).
Re-encoded and 0.6-0.8x resized copies of the shared test photos stay within 4 bits and the
photos are > 12 bits apart (``tests/images/test_phash_corpus.py``); 6 leaves a margin on
both sides and errs towards blocking.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kosmos_data.images.phash import IMAGE_SUFFIXES, to_hex

HEADER = "# kosmos-data block phash resize_key="
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")


class BlockList:
    """pHashes of known-bad images; ``match(h)`` -> (listed hash hex, distance) or None."""

    def __init__(self, hashes: list[int], threshold: int) -> None:
        self.hashes = np.array(sorted(set(hashes)), dtype=np.uint64)
        self.threshold = threshold

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def from_file(cls, path: str, threshold: int, resize_key: str) -> BlockList:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"--block-image-hashes: no such file: {path}")
        hashes = []
        for n, raw in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.strip()
            if line.startswith(HEADER) and line[len(HEADER) :] != resize_key:
                raise ValueError(
                    f"{path}: made with resize_key={line[len(HEADER) :]}, this run resizes "
                    f"with {resize_key} (the pHash is of the resized image)"
                )
            if not line or line.startswith("#"):
                continue
            h = line.split()[0]
            if not _HEX16.fullmatch(h):
                kind = "a PDQ hash (not supported yet)" if len(h) == 64 else "not a pHash"
                raise ValueError(f"{path}:{n}: {h[:70]!r} is {kind}; expected 16 hex digits")
            hashes.append(int(h, 16))
        return cls(hashes, threshold)

    def match(self, h: int) -> tuple[str, int] | None:
        if not len(self.hashes):
            return None
        d = np.bitwise_count(self.hashes ^ np.uint64(h))
        i = int(np.argmin(d))
        return (to_hex(int(self.hashes[i])), int(d[i])) if int(d[i]) <= self.threshold else None


def write_block_file(hashes: dict[str, int], path: str | Path, resize_key: str) -> None:
    lines = [HEADER + resize_key] + [f"{to_hex(hashes[n])} {n}" for n in sorted(hashes)]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def hash_images(directory: Path, hasher: Callable[[bytes], int | None]) -> dict[str, int]:
    """``hasher`` (``ImageFetcher.phash_of``) of every usable image under ``directory``."""
    out: dict[str, int] = {}
    for f in sorted(directory.rglob("*")):
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
            h = hasher(f.read_bytes())
            if h is not None:
                out[f.relative_to(directory).as_posix()] = h
    return out
