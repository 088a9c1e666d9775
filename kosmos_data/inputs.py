"""Input specifications: archive paths, globs, and Common Crawl ``warc.paths.gz`` lists.

Common Crawl publishes each snapshot's archives as a ``warc.paths.gz`` file of relative
paths (``crawl-data/CC-MAIN-.../warc/....warc.gz``), one per line; they are resolved against
a prefix such as ``s3://commoncrawl/`` or the CC data host. ``--max-files`` takes a
deterministic sample: the first N after sorting by a seeded hash, so different seeds give
different, reproducible subsets of a snapshot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def is_paths_list(spec: str) -> bool:
    """A path list is recognised by name: ``*.paths`` or ``*.paths.gz`` (CC's convention)."""
    return spec.endswith((".paths", ".paths.gz"))


def parse_paths_list(lines: Iterable[str], prefix: str = "") -> list[str]:
    """Non-empty, non-comment lines, each joined to ``prefix`` unless already absolute."""
    out = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "://" in line or line.startswith("/") or not prefix:
            out.append(line)
        else:
            out.append(prefix.rstrip("/") + "/" + line.lstrip("/"))
    return out


def sample_paths(paths: Iterable[str], max_files: int | None, seed: int = 0) -> list[str]:
    """Deterministic subset of at most ``max_files`` paths (all of them when None), sorted."""
    unique = sorted(set(paths))
    if max_files is None or max_files >= len(unique):
        return unique

    def rank(p: str) -> bytes:
        return hashlib.blake2b(f"{seed}:{p}".encode(), digest_size=8).digest()

    return sorted(sorted(unique, key=rank)[:max_files])
