"""Expand input specs to archive paths through Beam's FileSystems (local, gs://, s3://)."""

from __future__ import annotations

import gzip
import io
from collections.abc import Sequence

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from kosmos_data.inputs import is_paths_list, parse_paths_list, sample_paths


class InputError(ValueError):
    """An input spec that names no readable archive."""


def _read_paths_list(spec: str, prefix: str) -> list[str]:
    with FileSystems.open(spec, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return parse_paths_list(io.StringIO(data.decode("utf-8")), prefix)


def expand_inputs(
    specs: Sequence[str], paths_prefix: str = "", max_files: int | None = None, seed: int = 0
) -> list[str]:
    """Resolve paths, globs and path lists into a sorted, de-duplicated list of archives.

    Raises ``InputError`` naming the spec when a glob or path matches nothing, so a typo
    fails before a job is launched rather than producing an empty corpus.
    """
    if not specs:
        raise InputError("--input: give at least one archive path, glob or warc.paths(.gz) list")
    paths: list[str] = []
    for spec in specs:
        if is_paths_list(spec):
            listed = _read_paths_list(spec, paths_prefix)
            if not listed:
                raise InputError(f"--input {spec}: the path list is empty")
            paths.extend(listed)
            continue
        result = FileSystems.match([spec])[0]
        matched = [m.path for m in result.metadata_list]
        if not matched:
            raise InputError(f"--input {spec}: matches no file")
        paths.extend(matched)
    return sample_paths(paths, max_files, seed)
