"""Resumable runs on Beam: per-WARC-file checkpoints, completion markers and progress.

``CheckpointPerFile`` sits between the per-file stages (read ... sampling) and the global
ones (dedup, image fetching, writers). It groups the per-file outputs by archive, writes each
archive's results durably (``RUN/_per_file/<key>.parquet``, tmp + rename) and only then its
completion marker (``RUN/_done/<key>.json``), and passes the records on. Archives that were
completed by an earlier attempt of the same run are not read again: their checkpoints are
read back and flattened with the fresh results, so everything downstream — and the funnel —
sees the whole corpus, exactly as in an uninterrupted run. See ``kosmos_data.checkpoint``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import signal
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from kosmos_data import __version__
from kosmos_data.beam.transforms import DEAD_TAG, STATS_TAG, publish_bytes
from kosmos_data.checkpoint import (
    DONE_DIR,
    KIND_DEAD,
    KIND_DOC,
    KIND_STATS,
    PER_FILE_DIR,
    RUN_FILE,
    FileResult,
    decode_file_result,
    encode_rows,
    file_key,
    kill_after_markers,
    marker_body,
    marker_key,
    run_fingerprint,
)
from kosmos_data.funnel import DROPPED, RECORDS_IN

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
        ckpt = FileSystems.join(run_dir, PER_FILE_DIR, str(marker.get("checkpoint", "")))
        if not marker.get("checkpoint") or not FileSystems.exists(ckpt):
            raise ValueError(f"--resume: marker {path} names a missing checkpoint {ckpt}")
        digest = hashlib.sha256()
        with FileSystems.open(ckpt) as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() != marker.get("sha256"):
            raise ValueError(
                f"--resume: checkpoint {ckpt} does not match its marker (sha256); nothing was "
                "changed: rerun with --overwrite, or delete the marker to redo that archive"
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


def _emit(result: FileResult) -> Iterator[object]:
    yield from result.docs
    for d in result.dead:
        yield TaggedOutput(DEAD_TAG, d)
    for e in result.stats:
        yield TaggedOutput(STATS_TAG, e)


def _emit_packed(rows: list[tuple[str, str, bytes]]) -> Iterator[object]:
    """Packed rows -> tagged outputs, unpickling one record at a time."""
    tags = {KIND_DEAD: DEAD_TAG, KIND_STATS: STATS_TAG}
    for kind, _, blob in rows:
        rec = pickle.loads(blob)
        yield rec if kind == KIND_DOC else TaggedOutput(tags[kind], rec)


class _WriteCheckpointFn(beam.DoFn):
    """One archive's grouped results -> checkpoint parquet, then marker; records pass on."""

    _markers_written = 0  # per process, for the fault-injection hook
    _lock = threading.Lock()

    def __init__(self, run_dir: str, total: int, started_at: float) -> None:
        self.run_dir = run_dir
        self.total = total
        self.started_at = started_at

    def setup(self) -> None:
        self.files = Metrics.counter("kosmos_data.checkpoint", "files_checkpointed")
        self.kill_after = kill_after_markers()

    def process(self, element) -> Iterator[object]:
        path, batches = element
        key = file_key(path)
        name = f"{key}.parquet"
        # Values arrive packed (``packed``), in batches (a chunk of records each): documents
        # stay pickles until they are emitted, one at a time, so an archive's group never
        # holds its documents as live objects.
        rows: list[tuple[str, str, bytes]] = []
        counts = {"records_in": 0, "kept": 0, "dropped": 0, "dead_letter": 0}
        names = {KIND_DOC: "kept", KIND_DEAD: "dead_letter"}
        for kind, sort_key, blob in (row for batch in batches for row in batch):
            if kind == KIND_STATS:
                (k, _, _), n = pickle.loads(blob)
                if k in (RECORDS_IN, DROPPED):  # drops travel as counts (ProcessArchiveFn)
                    counts[k] += n
            else:
                counts[names[kind]] += 1
            rows.append((kind, sort_key, blob))
        data = encode_rows(path, rows)
        # Order matters: the marker is published only once the checkpoint is in place, so a
        # kill at any point leaves either no marker (file redone) or a complete checkpoint.
        publish_bytes(FileSystems.join(self.run_dir, PER_FILE_DIR, name), data)
        marker = json.dumps(marker_body(path, name, data, counts), indent=2, sort_keys=True)
        publish_bytes(
            FileSystems.join(self.run_dir, DONE_DIR, f"{key}.json"), marker.encode("utf-8")
        )
        del data
        self.files.inc()
        records = counts["records_in"]
        log.info("%s", _Progress.update("checkpointed", self.total, self.started_at, records))
        with self._lock:
            type(self)._markers_written += 1
            written = type(self)._markers_written
        if self.kill_after is not None and written >= self.kill_after:
            log.warning("fault injection: %d marker(s) written; SIGKILL to this process", written)
            os.kill(os.getpid(), signal.SIGKILL)
        yield from _emit_packed(rows)


class _ReadCheckpointFn(beam.DoFn):
    """An archive completed earlier: its checkpoint's records, verified against the marker."""

    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir

    def setup(self) -> None:
        self.files = Metrics.counter("kosmos_data.checkpoint", "files_resumed")

    def process(self, key: str) -> Iterator[object]:
        with FileSystems.open(FileSystems.join(self.run_dir, DONE_DIR, f"{key}.json")) as f:
            marker = json.loads(f.read())
        ckpt = FileSystems.join(self.run_dir, PER_FILE_DIR, marker["checkpoint"])
        with FileSystems.open(ckpt) as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != marker["sha256"]:
            raise OSError(
                f"checkpoint {ckpt} does not match its marker (sha256); rerun with "
                "--overwrite or delete the marker to redo that archive"
            )
        self.files.inc()
        yield from _emit(decode_file_result(data))


class CheckpointPerFile(beam.PTransform):
    """Per-file outputs of fresh archives + checkpoints of completed ones -> the whole corpus.

    Input: ``(archive, packed rows)`` batches (``ReadAndProcessArchives``: documents, dead
    letters and funnel events, the per-file stages' drops among them as counts). Output: a
    dict with ``docs``, ``dead_letter`` and ``stats`` (unkeyed events) covering fresh and
    resumed archives alike. The branch that reads checkpoints back exists only in a run
    that resumes some: the FnApiRunner copies every element of a ``Flatten`` once more, and
    the merge of the two branches would be one, for every document of every run.
    """

    def __init__(
        self,
        run_dir: str,
        total_files: int,
        resumed_keys: list[str],
        started_at: float,
    ) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.total_files = total_files
        self.resumed_keys = sorted(resumed_keys)
        self.started_at = started_at

    def expand(self, per_file):
        fresh = (
            per_file
            | "GroupByFile" >> beam.GroupByKey()
            | "WriteCheckpoint"
            >> beam.ParDo(
                _WriteCheckpointFn(self.run_dir, self.total_files, self.started_at)
            ).with_outputs(DEAD_TAG, STATS_TAG, main="docs")
        )
        if not self.resumed_keys:
            return {"docs": fresh.docs, "dead_letter": fresh[DEAD_TAG], "stats": fresh[STATS_TAG]}
        restored = (
            per_file.pipeline
            | "ListCompleted" >> beam.Create(self.resumed_keys)
            | "SpreadCompleted" >> beam.Reshuffle()
            | "ReadCheckpoint"
            >> beam.ParDo(_ReadCheckpointFn(self.run_dir)).with_outputs(
                DEAD_TAG, STATS_TAG, main="docs"
            )
        )
        return {
            "docs": (fresh.docs, restored.docs) | "MergeDocs" >> beam.Flatten(),
            "dead_letter": (fresh[DEAD_TAG], restored[DEAD_TAG])
            | "MergeDeadLetters" >> beam.Flatten(),
            "stats": (fresh[STATS_TAG], restored[STATS_TAG]) | "MergeStats" >> beam.Flatten(),
        }
