"""Expand input specs to archive paths through Beam's FileSystems (local, gs://, s3://).

Local specs are expanded on the launching machine (``expand_inputs``), so a typo fails before
a job starts. Remote specs (globs, path lists, plain paths) are kept as they are with
``defer_remote=True`` and expanded by the pipeline (``ListArchives``: ``fileio.MatchAll``,
then a reshuffle), so a launcher or a ``--dry-run`` never touches a bucket (see
``kosmos_data.inputs``).
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Sequence

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from kosmos_data.checkpoint import file_key
from kosmos_data.inputs import (
    InputConfig,
    is_paths_list,
    matched_by_pipeline,
    parse_paths_list,
    path_rank,
    sample_paths,
)


class InputError(ValueError):
    """An input spec that names no readable archive."""


def read_paths_list(spec: str, prefix: str) -> list[str]:
    """The archives of a (gzipped) ``warc.paths`` list, joined to ``prefix``."""
    with FileSystems.open(spec, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return parse_paths_list(io.StringIO(data.decode("utf-8")), prefix)


def _check_file_system(spec: str) -> None:
    """A remote spec left to the pipeline still needs a Beam file system for its scheme. The
    lookup is local (no listing, no credentials), so ``https://``, a typo'd scheme or a
    missing Beam extra (``hdfs://`` without ``apache-beam[hadoop]``) is one error line before
    launch instead of a traceback from the running job."""
    try:
        FileSystems.get_filesystem(spec)
    except (ValueError, OSError) as e:  # Beam: ValueError (unknown), BeamIOError (extra)
        raise InputError(f"--input {spec}: no Beam file system for it: {e}") from e


def expand_inputs(
    specs: Sequence[str],
    paths_prefix: str = "",
    max_files: int | None = None,
    seed: int = 0,
    *,
    defer_remote: bool = False,
) -> list[str]:
    """Resolve paths, globs and path lists into a sorted, de-duplicated list of archives.

    Raises ``InputError`` naming the spec when a glob or path matches nothing, so a typo
    fails before a job is launched rather than producing an empty corpus. With
    ``defer_remote``, remote globs and path lists are returned unexpanded (``ListArchives``
    matches them in the pipeline); the ``max_files`` sample is then taken there too, over all
    inputs, so it is the same sample as an eager expansion would give.
    """
    if not specs:
        raise InputError("--input: give at least one archive path, glob or warc.paths(.gz) list")
    paths: list[str] = []
    deferred: list[str] = []
    for spec in specs:
        if defer_remote and matched_by_pipeline(spec):
            _check_file_system(spec)
            deferred.append(spec)
            continue
        if is_paths_list(spec):
            listed = read_paths_list(spec, paths_prefix)
            if not listed:
                raise InputError(f"--input {spec}: the path list is empty")
            paths.extend(listed)
            continue
        result = FileSystems.match([spec])[0]
        matched = [m.path for m in result.metadata_list]
        if not matched:
            raise InputError(f"--input {spec}: matches no file")
        paths.extend(matched)
    if deferred:
        return sorted(set(paths) | set(deferred))
    return sample_paths(paths, max_files, seed)


class _ReadPathsListFn(beam.DoFn):
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def process(self, spec: str):
        listed = read_paths_list(spec, self.prefix)
        if not listed:
            raise InputError(f"--input {spec}: the path list is empty")
        yield from listed


class ListArchives(beam.PTransform):
    """Archive specs -> archive paths, one element each.

    Specs ``expand_inputs(..., defer_remote=True)`` left unexpanded (remote globs, path lists
    and plain paths) are matched here, on the workers: globs and plain paths by Beam's
    ``fileio.MatchAll`` (a spec that matches nothing fails the job, naming it), path lists
    read and joined to ``InputConfig.paths_prefix``; then duplicates go, the ``max_files``
    sample is taken (the same ``path_rank`` order as ``sample_paths``) and a ``Reshuffle``
    spreads the matched archives over workers (one list expanded on one worker would
    otherwise stay there). Archives whose key is in ``skip_keys`` (completed before a
    ``--resume``) are left out.
    Already expanded paths pass through a plain ``Create``.
    """

    def __init__(
        self,
        specs: Sequence[str],
        inputs: InputConfig | None = None,
        skip_keys: Iterable[str] = (),
    ) -> None:
        super().__init__()
        self.specs = sorted(specs)
        self.inputs = inputs or InputConfig()
        self.skip_keys = frozenset(skip_keys)  # file keys of archives a resumed run completed

    def expand(self, pbegin):
        deferred = [s for s in self.specs if matched_by_pipeline(s)]
        if not deferred:
            return pbegin | "Paths" >> beam.Create(self.specs)
        fixed = [s for s in self.specs if not matched_by_pipeline(s)]
        globs = [s for s in deferred if not is_paths_list(s)]
        lists = [s for s in deferred if is_paths_list(s)]
        parts = []
        if fixed:
            parts.append(pbegin | "Paths" >> beam.Create(fixed))
        if globs:
            parts.append(
                pbegin
                | "Globs" >> beam.Create(globs)
                | "MatchGlobs" >> fileio.MatchAll(fileio.EmptyMatchTreatment.DISALLOW)
                | "MatchedPaths" >> beam.Map(lambda m: m.path)
            )
        if lists:
            parts.append(
                pbegin
                | "PathLists" >> beam.Create(lists)
                | "ReadPathLists" >> beam.ParDo(_ReadPathsListFn(self.inputs.paths_prefix))
            )
        paths = parts | "FlattenArchives" >> beam.Flatten() | "Distinct" >> beam.Distinct()
        if self.inputs.max_files is not None:
            seed = self.inputs.files_seed
            paths = (
                paths
                | "SampleFiles"
                >> beam.combiners.Top.Smallest(
                    self.inputs.max_files, key=lambda p: path_rank(p, seed)
                )
                | "SampledPaths" >> beam.FlatMap(sorted)
            )
        if self.skip_keys:  # --resume: after the sample, so it is the first run's sample
            skip = self.skip_keys
            paths = paths | "SkipCompleted" >> beam.Filter(lambda p: file_key(p) not in skip)
        return paths | "SpreadMatched" >> beam.Reshuffle()
