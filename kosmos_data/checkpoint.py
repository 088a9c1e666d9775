"""Per-WARC-file checkpoints: what makes a large run resumable (Beam-free core).

A Common Crawl snapshot is ~90,000 WARC files; a run that dies after 60,000 of them must not
start again from zero. The per-file part of a job (read -> prefilter -> extract -> sampling
-> langid -> quality) depends on one archive only, so its results are checkpointed per file:

    RUN/_per_file/<file_key>-<chunk>.parquet
                                       one part per chunk of records: its kept documents and
                                       dead letters (lossless: the pickled record), plus its
                                       funnel events (``stats``, its drops counted per reason:
                                       their rows are in ``dropped/perfile-*``), written to a
                                       temp name and renamed where the archive is read
    RUN/_done/<file_key>.json          the completion marker, written (tmp + rename) only
                                       AFTER every part is in place; lists the parts with
                                       their sha256 and counts

A resumed run (``--resume``) lists the markers before the pipeline is built, does not read
those archives again, and reads their checkpoints back instead; the global stages and the
writers then see exactly the records an uninterrupted run would have seen, so the final
outputs are byte-identical (writers sort rows and shard by stable hashes). A marker without
its parquet, or a parquet whose sha256 does not match, is an error, never silently skipped.

The checkpoint stores pickled records (protocol 5): they are read back only by the same
kosmos-data version (checked through ``RUN/_run.json``), from a run directory the user owns.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from kosmos_data import rundir
from kosmos_data.funnel import DROPPED, RECORDS_IN
from kosmos_data.records import DeadLetter, Document

PER_FILE_DIR = rundir.PER_FILE
#: ``dropped/`` rows of one archive's per-file stages, one file per chunk of records:
#: ``dropped/perfile-<key>-<chunk>.parquet`` (``kosmos_data.beam.transforms``).
PER_FILE_DROPPED = "perfile-"
DONE_DIR = rundir.DONE
RUN_FILE = rundir.RUN_FILE

#: Test hook (fault injection): after writing this many markers in one process, the
#: checkpoint writer sends SIGKILL to its own process, a death nothing can catch or flush,
#: at a known point between files. Never set in production.
KILL_AFTER_MARKERS_ENV = "KOSMOS_DATA_TEST_KILL_AFTER_MARKERS"

KIND_DOC = "doc"
KIND_DEAD = "dead_letter"
KIND_STATS = "stats"

CHECKPOINT_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("sort_key", pa.string(), nullable=False),
        pa.field("record", pa.binary(), nullable=False),
    ]
)

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_key(path: str) -> str:
    """A file-system-safe, unique name for an archive path: ``<basename>-<hash>``.

    The basename keeps markers readable; the hash of the full path keeps two archives with
    the same basename (different CC segments) apart.
    """
    base = _SAFE.sub("_", path.rstrip("/").rsplit("/", 1)[-1])[:120] or "archive"
    digest = hashlib.blake2b(path.encode("utf-8"), digest_size=8).hexdigest()
    return f"{base}-{digest}"


@dataclass(slots=True)
class FileResult:
    """What the per-file stages produced for one checkpoint part (one chunk of an archive's
    records; its drops as counts among ``stats``: their rows are in ``dropped/`` already,
    see ``ProcessArchiveFn``)."""

    path: str
    docs: list[Document]
    dead: list[DeadLetter]
    stats: list[tuple[tuple[str, str, str], int]]

    @classmethod
    def from_tagged(cls, path: str, tagged: Iterable[tuple[str, object]]) -> FileResult:
        """Collect ``(KIND_*, record)`` pairs (checkpoint rows)."""
        out = cls(path, [], [], [])
        lists: dict[str, list] = {KIND_DOC: out.docs, KIND_DEAD: out.dead, KIND_STATS: out.stats}
        for kind, rec in tagged:
            lists[kind].append(rec)
        return out


def _record_sort_key(kind: str, rec: object) -> str:
    if kind == KIND_STATS:
        (k, stage, reason), n = rec  # type: ignore[misc]
        return f"{k}|{stage}|{reason}|{n}"
    p = rec.provenance  # type: ignore[attr-defined]
    extra = getattr(rec, "id", "") or f"{getattr(rec, 'stage', '')}|{getattr(rec, 'reason', '')}"
    return f"{p.offset:020d}|{p.record_id}|{extra}"


def packed(kind: str, rec: object) -> tuple[str, str, bytes]:
    """A per-file output as it travels to the checkpoint writer: ``(kind, sort key, pickled
    record)``. Grouped per archive as bytes, an archive's documents take the room of their
    pickles (a few KB each), not of live objects, on runners that hold a group in memory."""
    return kind, _record_sort_key(kind, rec), pickle.dumps(rec, protocol=5)


def encode_rows(path: str, rows: Iterable[tuple[str, str, bytes]]) -> bytes:
    """The checkpoint file's bytes from packed rows (deterministic: rows sorted, zstd, no
    timestamps)."""
    ordered = sorted(rows)
    table = pa.Table.from_pydict(
        {
            "kind": [r[0] for r in ordered],
            "sort_key": [r[1] for r in ordered],
            "record": [r[2] for r in ordered],
        },
        schema=CHECKPOINT_SCHEMA,
    )
    table = table.replace_schema_metadata({"kosmos_data.path": path})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def decode_file_result(data: bytes) -> FileResult:
    """A checkpoint file's bytes (``encode_rows``) -> its records."""
    table = pq.read_table(io.BytesIO(data))
    meta = table.schema.metadata or {}
    path = meta.get(b"kosmos_data.path", b"").decode("utf-8")
    kinds, blobs = table.column("kind").to_pylist(), table.column("record").to_pylist()
    return FileResult.from_tagged(
        path, ((kind, pickle.loads(blob)) for kind, blob in zip(kinds, blobs, strict=True))
    )


def part_name(path: str, chunk: int) -> str:
    """File name, in ``_per_file/``, of the checkpoint part of one chunk of records of
    archive ``path`` (the chunks of ``ProcessArchiveFn``, ``archive_chunk_records`` each)."""
    return f"{file_key(path)}-{chunk:06d}.parquet"


def rows_counts(rows: Iterable[tuple[str, str, bytes]]) -> dict[str, int]:
    """Records in, kept, dropped and dead-lettered, from packed rows (a part's)."""
    counts = {"records_in": 0, "kept": 0, "dropped": 0, "dead_letter": 0}
    for kind, _, blob in rows:
        if kind == KIND_STATS:
            (k, _, _), n = pickle.loads(blob)
            if k in (RECORDS_IN, DROPPED):
                counts[k] += n
        else:
            counts["kept" if kind == KIND_DOC else "dead_letter"] += 1
    return counts


def part_entry(chunk: int, name: str, data: bytes, rows) -> dict[str, object]:
    """A part's entry in its archive's marker: enough to check it and to count it."""
    return {
        "chunk": chunk,
        "name": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "counts": rows_counts(rows),
    }


def marker_body(path: str, parts: Iterable[dict]) -> dict[str, object]:
    """The completion marker: the archive's parts (in chunk order) and their summed counts."""
    ordered = sorted(parts, key=lambda p: p["chunk"])
    counts = {"records_in": 0, "kept": 0, "dropped": 0, "dead_letter": 0}
    for p in ordered:
        for k, v in p["counts"].items():
            counts[k] += v
    return {"path": path, "file_key": file_key(path), "parts": ordered, "counts": counts}


def per_file_dropped_name(path: str, chunk: int) -> str:
    """File name, in ``dropped/``, of the per-file stages' dropped rows of one chunk of
    records of archive ``path``."""
    return f"{PER_FILE_DROPPED}{file_key(path)}-{chunk:06d}.parquet"


def per_file_dropped_key(name: str) -> str | None:
    """The file key of a per-file ``dropped/`` file name, or None for other files."""
    base = name.rsplit("/", 1)[-1]
    if not (base.startswith(PER_FILE_DROPPED) and base.endswith(".parquet")):
        return None
    return base[len(PER_FILE_DROPPED) : -len(".parquet")].rsplit("-", 1)[0]


def marker_key(marker_name: str) -> str:
    """``<file_key>.json`` -> ``<file_key>``."""
    return marker_name.rsplit("/", 1)[-1].removesuffix(".json")


def split_done(archives: Iterable[str], done_keys: Iterable[str]) -> tuple[list[str], list[str]]:
    """(archives still to process, archives already checkpointed), both sorted."""
    done = set(done_keys)
    todo, skipped = [], []
    for path in sorted(archives):
        (skipped if file_key(path) in done else todo).append(path)
    return todo, skipped


def run_fingerprint(description: Mapping[str, object]) -> str:
    """A stable hash of what determines per-file outputs (inputs, stage configs, version)."""
    blob = json.dumps(description, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


def kill_after_markers() -> int | None:
    """The fault-injection knob (see ``KILL_AFTER_MARKERS_ENV``), or None when unset."""
    raw = os.environ.get(KILL_AFTER_MARKERS_ENV, "").strip()
    if not raw:
        return None
    n = int(raw)
    if n < 1:
        raise ValueError(f"{KILL_AFTER_MARKERS_ENV} must be >= 1, got {n}")
    return n
