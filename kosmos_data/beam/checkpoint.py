"""Resumable runs on Beam: per-WARC-file checkpoints, completion markers and progress.

The per-file stages (read ... PII) write each archive's results durably where the archive is
read (``ArchiveCheckpoints`` in ``ProcessArchiveFn``: a part per chunk of records,
``RUN/_per_file/<key>-<chunk>.parquet``, tmp + rename) and only then its completion marker
(``RUN/_done/<key>.json``), so an archive is done the moment its reader is, on every
runner. ``CheckpointPerFile`` sits between them and the global stages (dedup, image
fetching, writers): it writes the markers of archives shared by several workers, and for
archives completed by an earlier attempt of the same run, which are not read again, reads
their checkpoints back and flattens them with the fresh results, so everything downstream —
and the funnel — sees the whole corpus, exactly as in an uninterrupted run. See
``kosmos_data.checkpoint``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from typing import ClassVar

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from kosmos_data import __version__
from kosmos_data.beam.transforms import DEAD_TAG, STATS_TAG, publish_bytes
from kosmos_data.checkpoint import (
    DONE_DIR,
    PER_FILE_DIR,
    RUN_FILE,
    decode_file_result,
    encode_rows,
    file_key,
    kill_after_markers,
    marker_body,
    marker_key,
    part_entry,
    part_name,
    run_fingerprint,
)

log = logging.getLogger(__name__)


# --- run directory -------------------------------------------------------------------------


def _ls(directory: str, pattern: str = "*") -> list[str]:
    if not FileSystems.exists(directory):
        return []
    return sorted(
        m.path for m in FileSystems.match([FileSystems.join(directory, pattern)])[0].metadata_list
    )


def done_keys(run_dir: str) -> set[str]:
    """File keys of the archives an earlier attempt completed (markers present)."""
    return {marker_key(p) for p in _ls(FileSystems.join(run_dir, DONE_DIR), "*.json")}


def verify_checkpoints(run_dir: str, markers: list[str]) -> None:
    """Every completed-file marker's checkpoint exists and matches its sha256.

    Checked when ``--resume`` starts, before any earlier output is deleted: a damaged or
    tampered checkpoint found only while the job runs would leave the earlier run's
    ``funnel.json`` (balanced) beside the emptied ``docs/``.
    """
    for path in markers:
        with FileSystems.open(path) as f:
            marker = json.loads(f.read())
        parts = marker.get("parts")
        if not isinstance(parts, list):
            raise ValueError(
                f"--resume: marker {path} lists no checkpoint parts (a marker of an earlier "
                "checkpoint layout, or damaged); rerun with --overwrite"
            )
        for part in parts:
            ckpt = FileSystems.join(run_dir, PER_FILE_DIR, str(part.get("name", "")))
            if not part.get("name") or not FileSystems.exists(ckpt):
                raise ValueError(f"--resume: marker {path} names a missing checkpoint {ckpt}")
            digest = hashlib.sha256()
            with FileSystems.open(ckpt) as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            if digest.hexdigest() != part.get("sha256"):
                raise ValueError(
                    f"--resume: checkpoint {ckpt} does not match its marker (sha256); nothing "
                    "was changed: rerun with --overwrite, or delete the marker to redo that "
                    "archive"
                )


def prepare_checkpoints(run_dir: str, description: dict, *, resume: bool, overwrite: bool) -> int:
    """Validate and initialise ``_per_file/``, ``_done/`` and ``_run.json``.

    Returns the number of archives already completed. Refuses to mix checkpoints of a
    different job (inputs, per-file stage configs or version differ) into a resumed run,
    and refuses to silently discard an interrupted run's work without ``--overwrite``.
    """
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    per_file = FileSystems.join(run_dir, PER_FILE_DIR)
    done_dir = FileSystems.join(run_dir, DONE_DIR)
    run_file = FileSystems.join(run_dir, RUN_FILE)
    markers = _ls(done_dir, "*.json")
    fingerprint = run_fingerprint(description)
    if overwrite:
        stale = _ls(per_file) + markers + ([run_file] if FileSystems.exists(run_file) else [])
        if stale:
            FileSystems.delete(stale)
        markers = []
    elif markers and not resume:
        raise FileExistsError(
            f"--output {run_dir} holds {len(markers)} completed-file checkpoint(s) of an "
            "earlier, possibly interrupted run; pass --resume to continue it or --overwrite "
            "to start again"
        )
    if resume and FileSystems.exists(run_file):
        with FileSystems.open(run_file) as f:
            previous = json.loads(f.read())
        if previous.get("fingerprint") != fingerprint:
            raise ValueError(
                f"--resume: {run_dir} was started with different inputs, stage configs or "
                f"kosmos-data version ({RUN_FILE} fingerprint {previous.get('fingerprint')} != "
                f"{fingerprint}); use --overwrite or another --output"
            )
    elif resume and markers:
        raise ValueError(f"--resume: {run_dir} has markers but no {RUN_FILE}; use --overwrite")
    if resume:
        verify_checkpoints(run_dir, markers)
    for d in (per_file, done_dir):
        if not FileSystems.exists(d):
            FileSystems.mkdirs(d)
    body = {"fingerprint": fingerprint, "kosmos_data_version": __version__, **description}
    publish_bytes(run_file, json.dumps(body, indent=2, sort_keys=True).encode("utf-8"))
    return len(markers)


# --- progress --------------------------------------------------------------------------------


class _Progress:
    """Run-wide progress of one phase (files done, records/s, ETA), for local runs.

    On the DirectRunner every DoFn lives in this process, so the log lines describe the
    whole run. The worker processes of a local multi-process run are forked from it
    (``forked_workers``): just before a fork, the counts of ``PHASES`` move to memory the
    children share (``_share``, an ``os.register_at_fork`` hook), so every worker counts
    into the same totals and the lines still describe the whole run; without it each worker
    logged its own share against the run's total ("checkpointed: 1/2 archives" twice, never
    2/2). Spawned workers and Dataflow/Flink workers each log their own share (the UI shows
    the rest). Counts are per run (``started_at``): a second run in the process starts at 0.
    """

    PHASES = ("read", "checkpointed")
    _lock = threading.Lock()
    #: phase -> [run start, files, records]; a new run (another ``started_at``) starts at 0
    _state: ClassVar[dict[str, list[float]]] = {}
    #: phase -> ``multiprocessing.Array("d", 3)``, the same three, shared with forked children
    _shared: ClassVar[dict[str, object]] = {}

    @classmethod
    def _share(cls) -> None:
        """Before a fork: the counts of ``PHASES`` in shared memory (with their values)."""
        if cls._shared:
            return
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        with cls._lock:
            for phase in cls.PHASES:
                cls._shared[phase] = ctx.Array("d", cls._state.get(phase, [0.0, 0.0, 0.0]))

    @staticmethod
    def _count(st, started_at: float, records: int) -> tuple[int, int]:
        if st[0] != started_at:
            st[0], st[1], st[2] = started_at, 0, 0
        st[1] += 1
        st[2] += records
        return int(st[1]), int(st[2])

    @classmethod
    def update(cls, phase: str, total: int, started_at: float, records: int) -> str:
        shared = cls._shared.get(phase)
        if shared is not None:
            with shared.get_lock():
                files, recs = cls._count(shared, started_at, records)
        else:
            with cls._lock:
                st = cls._state.setdefault(phase, [0.0, 0.0, 0.0])
                files, recs = cls._count(st, started_at, records)
        elapsed = max(time.time() - started_at, 1e-6)
        rate = recs / elapsed
        eta = (total - files) * elapsed / files if files and total >= files else 0.0
        return (
            f"{phase}: {files}/{total} archives, {recs:,} records, {rate:,.0f} records/s, "
            f"elapsed {elapsed:,.0f}s, ETA {eta:,.0f}s"
        )


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_Progress._share)


class ReadProgress:
    """Picklable progress callback for the archive reader: one call per archive read."""

    def __init__(self, total: int, started_at: float) -> None:
        self.total = total
        self.started_at = started_at

    def __call__(self, records: int) -> None:
        log.info("%s", _Progress.update("read", self.total, self.started_at, records))


# --- checkpoint writer / reader --------------------------------------------------------------


class ArchiveCheckpoints:
    """Writes an archive's checkpoint where it is read (``ProcessArchiveFn``): a part per
    chunk of records, then, once every part is in place, the completion marker.

    A part is ``RUN/_per_file/<file key>-<chunk>.parquet`` (``encode_rows``: the chunk's
    documents, dead letters and funnel events); the marker ``RUN/_done/<file key>.json``
    lists every part with its sha256. Order matters: a kill at any point leaves either no
    marker (the archive is read again) or complete parts. Picklable; ``setup`` on the
    worker.
    """

    _markers_written = 0  # per process, for the fault-injection hook
    _lock = threading.Lock()

    def __init__(self, run_dir: str, total: int, started_at: float) -> None:
        self.run_dir = run_dir
        self.total = total
        self.started_at = started_at
        self.files = None
        self.kill_after = None

    def setup(self) -> None:
        self.files = Metrics.counter("kosmos_data.checkpoint", "files_checkpointed")
        self.kill_after = kill_after_markers()

    def write_part(self, path: str, chunk: int, rows: list[tuple[str, str, bytes]]) -> dict:
        """Publish one chunk's part; its entry in the marker."""
        name = part_name(path, chunk)
        data = encode_rows(path, rows)
        publish_bytes(FileSystems.join(self.run_dir, PER_FILE_DIR, name), data)
        return part_entry(chunk, name, data, rows)

    def complete(self, path: str, parts: list[dict]) -> None:
        """All of the archive's parts are published: its marker."""
        body = marker_body(path, parts)
        marker = json.dumps(body, indent=2, sort_keys=True).encode("utf-8")
        publish_bytes(FileSystems.join(self.run_dir, DONE_DIR, f"{file_key(path)}.json"), marker)
        self.files.inc()
        records = body["counts"]["records_in"]
        log.info("%s", _Progress.update("checkpointed", self.total, self.started_at, records))
        with self._lock:
            type(self)._markers_written += 1
            written = type(self)._markers_written
        if self.kill_after is not None and written >= self.kill_after:
            log.warning("fault injection: %d marker(s) written; SIGKILL to this process", written)
            os.kill(os.getpid(), signal.SIGKILL)


class _WriteMarkerFn(beam.DoFn):
    """An archive shared by several workers: every split's parts -> the marker."""

    def __init__(self, checkpoints: ArchiveCheckpoints) -> None:
        self.checkpoints = checkpoints

    def setup(self) -> None:
        self.checkpoints.setup()

    def process(self, element: tuple[str, Iterable[list[dict]]]) -> Iterator[str]:
        path, per_split = element
        self.checkpoints.complete(path, [p for parts in per_split for p in parts])
        yield path


class _ReadCheckpointFn(beam.DoFn):
    """An archive completed earlier: its checkpoint parts' records, each verified against the
    marker."""

    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir

    def setup(self) -> None:
        self.files = Metrics.counter("kosmos_data.checkpoint", "files_resumed")

    def process(self, key: str) -> Iterator[object]:
        with FileSystems.open(FileSystems.join(self.run_dir, DONE_DIR, f"{key}.json")) as f:
            marker = json.loads(f.read())
        for part in marker["parts"]:
            ckpt = FileSystems.join(self.run_dir, PER_FILE_DIR, part["name"])
            with FileSystems.open(ckpt) as f:
                data = f.read()
            if hashlib.sha256(data).hexdigest() != part["sha256"]:
                raise OSError(
                    f"checkpoint {ckpt} does not match its marker (sha256); rerun with "
                    "--overwrite or delete the marker to redo that archive"
                )
            result = decode_file_result(data)
            yield from result.docs
            for d in result.dead:
                yield TaggedOutput(DEAD_TAG, d)
            for e in result.stats:
                yield TaggedOutput(STATS_TAG, e)
        self.files.inc()


class CheckpointPerFile(beam.PTransform):
    """Per-file outputs of fresh archives + checkpoints of completed ones -> the whole corpus.

    Input: ``ReadAndProcessArchives``' dict of outputs (``docs``, ``dead_letter``,
    ``stats``, whose checkpoint parts ``ProcessArchiveFn`` has written, and ``parts``). The
    markers of archives read by one worker are written there too; those of archives shared
    by several workers here, once every split's parts are in (``GroupByFile`` of the small
    part lists, never of documents). Output: a dict with ``docs``, ``dead_letter`` and
    ``stats`` covering fresh and resumed archives alike. The branch that reads checkpoints
    back exists only in a run that resumes some: the FnApiRunner copies every element of a
    ``Flatten`` once more, and the merge of the two branches would be one, for every
    document of every run.
    """

    def __init__(self, checkpoints: ArchiveCheckpoints, resumed_keys: list[str]) -> None:
        super().__init__()
        self.checkpoints = checkpoints
        self.resumed_keys = sorted(resumed_keys)

    def expand(self, per_file):
        _ = (
            per_file["parts"]
            | "GroupByFile" >> beam.GroupByKey()
            | "WriteMarker" >> beam.ParDo(_WriteMarkerFn(self.checkpoints))
        )
        fresh = {k: per_file[k] for k in ("docs", "dead_letter", "stats")}
        if not self.resumed_keys:
            return fresh
        restored = (
            per_file["docs"].pipeline
            | "ListCompleted" >> beam.Create(self.resumed_keys)
            | "SpreadCompleted" >> beam.Reshuffle()
            | "ReadCheckpoint"
            >> beam.ParDo(_ReadCheckpointFn(self.checkpoints.run_dir)).with_outputs(
                DEAD_TAG, STATS_TAG, main="docs"
            )
        )
        return {
            "docs": (fresh["docs"], restored.docs) | "MergeDocs" >> beam.Flatten(),
            "dead_letter": (fresh["dead_letter"], restored[DEAD_TAG])
            | "MergeDeadLetters" >> beam.Flatten(),
            "stats": (fresh["stats"], restored[STATS_TAG]) | "MergeStats" >> beam.Flatten(),
        }
