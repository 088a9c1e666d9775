"""Input specifications: archive paths, globs, and Common Crawl ``warc.paths.gz`` lists.

Common Crawl publishes each snapshot's archives as a ``warc.paths.gz`` file of relative
paths (``crawl-data/CC-MAIN-.../warc/....warc.gz``), one per line; they are resolved against
a prefix such as ``s3://commoncrawl/`` or the CC data host. ``--max-files`` takes a
deterministic sample: the first N after sorting by a seeded hash, so different seeds give
different, reproducible subsets of a snapshot.

Where an input is expanded: local paths, globs and path lists on the launching machine (a
typo fails before any job starts); every remote spec (``gs://``, ``s3://``, ...: globs, path
lists and plain paths alike) by the pipeline itself (``kosmos_data.beam.inputs.ListArchives``:
Beam's ``MatchAll``, then a reshuffle; a spec that matches nothing fails the job, naming it),
so a launcher, a ``--dry-run`` above all, never touches a bucket: it works offline and does
not need the workers' credentials. (A plain remote path used to be checked by the launcher;
offline, that check retried for minutes before it failed.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True, slots=True)
class InputConfig:
    """How ``--input`` specs become archives.

    ``paths_prefix``: joined to the relative entries of a ``warc.paths(.gz)`` list (Common
    Crawl's are relative to its bucket, e.g. ``s3://commoncrawl/``).
    ``max_files``: a deterministic sample of at most this many archives (None: all).
    ``files_seed``: seed of that sample (``path_rank``).
    """

    paths_prefix: str = ""
    max_files: int | None = None
    files_seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.paths_prefix, str):
            raise ValueError(f"InputConfig.paths_prefix must be a str, got {self.paths_prefix!r}")
        if self.max_files is not None and (
            not isinstance(self.max_files, int) or self.max_files < 1
        ):
            raise ValueError(f"InputConfig.max_files must be >= 1 or None, got {self.max_files!r}")
        if not isinstance(self.files_seed, int):
            raise ValueError(f"InputConfig.files_seed must be an int, got {self.files_seed!r}")


def is_remote(spec: str) -> bool:
    """A path on another file system (``gs://``, ``s3://``, ``hdfs://``...); ``file://`` and
    plain paths are local."""
    scheme, sep, _ = spec.partition("://")
    return bool(sep) and scheme.lower() != "file"


def has_glob(spec: str) -> bool:
    return bool(_GLOB.search(spec))


def matched_by_pipeline(spec: str) -> bool:
    """Remote specs (globs, path lists, plain paths) are matched by the pipeline, not the
    launcher."""
    return is_remote(spec)


def path_rank(path: str, seed: int) -> bytes:
    """The ``--max-files`` sample order: the first N paths by this key are kept."""
    return hashlib.blake2b(f"{seed}:{path}".encode(), digest_size=8).digest()


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
    return sorted(sorted(unique, key=lambda p: path_rank(p, seed))[:max_files])
