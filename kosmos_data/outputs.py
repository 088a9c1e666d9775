"""Parquet schemas and row conversion for ``docs/``, ``dropped/`` and ``dead_letter/``.

The ``docs/`` schema follows OBELICS (Laurençon et al. 2023, the ``HuggingFaceM4/OBELICS``
dataset card): a document is two parallel lists, ``texts`` and ``images``, of equal length,
where position *i* holds either a text (and ``images[i]`` is null) or an image URL (and
``texts[i]`` is null), in reading order. OBELICS' ``metadata`` (per position, JSON) and
``general_metadata`` (per document, JSON) columns are kept, plus flat provenance columns so
that users can filter in SQL without parsing JSON.

Writing is deterministic: rows are sorted by a key before writing, and pyarrow writes the
same bytes for the same table, so a rerun produces identical files.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from kosmos_data.records import DeadLetter, Document, Dropped, Provenance
from kosmos_data.sampling import stable_uniform

_PROVENANCE_FIELDS = [
    pa.field("url", pa.string()),
    pa.field("warc_file", pa.string()),
    pa.field("warc_record_id", pa.string()),
    pa.field("warc_record_offset", pa.int64()),
    pa.field("fetch_date", pa.string()),
]

DOCS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("texts", pa.list_(pa.string())),
        pa.field("images", pa.list_(pa.string())),
        pa.field("image_alts", pa.list_(pa.string())),
        pa.field("metadata", pa.string()),
        pa.field("general_metadata", pa.string()),
        *_PROVENANCE_FIELDS,
        pa.field("language", pa.string()),
        pa.field("language_score", pa.float64()),
        pa.field("num_images", pa.int32()),
        pa.field("num_words", pa.int32()),
        pa.field("extractor", pa.string()),
        pa.field("sampling", pa.string()),
        pa.field("quality", pa.string()),
    ]
)

DROPPED_SCHEMA = pa.schema(
    [
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        *_PROVENANCE_FIELDS,
        pa.field("doc_id", pa.string()),
        pa.field("texts", pa.list_(pa.string())),
        pa.field("images", pa.list_(pa.string())),
    ]
)

DEAD_LETTER_SCHEMA = pa.schema(
    [
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("error", pa.string()),
        *_PROVENANCE_FIELDS,
        pa.field("sample", pa.binary()),
    ]
)


def _provenance_row(p: Provenance) -> dict[str, object]:
    return {
        "url": p.url,
        "warc_file": p.warc_file,
        "warc_record_id": p.record_id,
        "warc_record_offset": p.offset,
        "fetch_date": p.fetch_date,
    }


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def parallel_lists(doc: Document) -> tuple[list[str | None], list[str | None], list[str | None]]:
    """OBELICS layout: ``texts``, ``images`` and ``image_alts`` aligned by position."""
    texts: list[str | None] = []
    images: list[str | None] = []
    alts: list[str | None] = []
    for seg in doc.segments:
        if seg.image is not None:
            texts.append(None)
            images.append(seg.image.url)
            alts.append(seg.image.alt)
        else:
            texts.append(seg.text)
            images.append(None)
            alts.append(None)
    return texts, images, alts


def document_to_row(doc: Document) -> dict[str, object]:
    texts, images, alts = parallel_lists(doc)
    per_position = [
        None
        if seg.image is None
        else {
            "src": seg.image.url,
            "alt_text": seg.image.alt,
            "declared_width": seg.image.width,
            "declared_height": seg.image.height,
            "source_attribute": seg.image.source,
        }
        for seg in doc.segments
    ]
    p = doc.provenance
    general = {
        "url": p.url,
        "warc_filename": p.warc_file,
        "warc_record_id": p.record_id,
        "warc_record_offset": p.offset,
        "fetch_date": p.fetch_date,
        "title": doc.meta.get("title"),
        "image_drops": doc.meta.get("image_drops", {}),
    }
    for flag in ("truncated", "read_notes"):  # the reader's flags (kosmos_data.stages)
        if doc.meta.get(flag):
            general[flag] = doc.meta[flag]
    words = sum(len(t.split()) for t in texts if t)
    score = doc.meta.get("language_score")
    return {
        "id": doc.id,
        "texts": texts,
        "images": images,
        "image_alts": alts,
        "metadata": _json(per_position),
        "general_metadata": _json(general),
        **_provenance_row(p),
        "language": doc.meta.get("language"),
        "language_score": float(score) if score is not None else None,
        "num_images": sum(1 for i in images if i is not None),
        "num_words": words,
        "extractor": doc.extractor,
        "sampling": _json(doc.meta.get("sampling", {})),
        "quality": _json(doc.meta.get("quality", {})),
    }


def dropped_to_row(d: Dropped) -> dict[str, object]:
    texts = images = None
    doc_id = None
    if d.document is not None:
        texts, images, _ = parallel_lists(d.document)
        doc_id = d.document.id
    return {
        "stage": d.stage,
        "reason": d.reason,
        "detail": d.detail,
        **_provenance_row(d.provenance),
        "doc_id": doc_id,
        "texts": texts,
        "images": images,
    }


def dead_letter_to_row(d: DeadLetter, sample_bytes: int = 512) -> dict[str, object]:
    return {
        "stage": d.stage,
        "reason": d.reason,
        "error": d.error,
        **_provenance_row(d.provenance),
        "sample": bytes(d.sample[:sample_bytes]),
    }


def row_sort_key(row: dict[str, object]) -> tuple:
    """A total order over rows of any table written through ``WriteParquetShards`` (docs,
    dropped, dead letters; ``image_status``, one row per URL), used before writing a shard."""
    return (
        str(row.get("id") or ""),
        str(row.get("warc_file") or ""),
        int(row.get("warc_record_offset") or 0),
        str(row.get("warc_record_id") or ""),
        str(row.get("stage") or ""),
        str(row.get("reason") or ""),
        str(row.get("url") or ""),
    )


def rows_to_parquet_bytes(rows: Iterable[dict[str, object]], schema: pa.Schema) -> bytes:
    """Serialise rows (sorted deterministically) to one Parquet file's bytes."""
    ordered = sorted(rows, key=row_sort_key)
    table = pa.Table.from_pylist(ordered, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_statistics=True)
    return buf.getvalue()


def shard_name(prefix: str, index: int, num_shards: int) -> str:
    return f"{prefix}-{index:05d}-of-{num_shards:05d}.parquet"


def read_parquet_dir(path: str, columns: Sequence[str] | None = None) -> pa.Table:
    """Read every ``*.parquet`` file under a local directory into one table (tests, reports)."""
    files = sorted(glob.glob(os.path.join(path, "*.parquet")))
    if not files:
        return pa.Table.from_pylist([])
    return pa.concat_tables([pq.read_table(f, columns=columns) for f in files])


def stable_shard(key: str, num_shards: int) -> int:
    """Shard index from a key with a hash that is the same in every process and runner."""
    h = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(h, "big") % num_shards


@dataclass(frozen=True, slots=True)
class OutputConfig:
    """How the run directory is written.

    ``dropped_fraction`` samples the ``dropped/`` table (1.0 = every dropped record, the
    default; at Common Crawl scale most records are dropped, so 0.01 keeps it small). The
    funnel always counts every record, whatever the fraction. The sample is a stable hash
    of the record id, so reruns and runners agree.

    ``archive_chunk_records``: the interleaved job writes the ``dropped/`` rows of its
    per-archive stages where it reads the archive, one file per chunk of this many records
    (``dropped/perfile-<archive>-<chunk>.parquet``); a chunk is also the unit that workers
    sharing one archive (``--archive-splits``) divide. 1,024 gives a Common Crawl archive
    (~35,000 records) about 35 files and bounds what a worker holds to one chunk's rows.
    """

    docs_shards: int = 8
    dropped_shards: int = 4
    dead_letter_shards: int = 1
    dropped_fraction: float = 1.0
    overwrite: bool = False
    archive_chunk_records: int = 1024

    def __post_init__(self) -> None:
        for name in (
            "docs_shards",
            "dropped_shards",
            "dead_letter_shards",
            "archive_chunk_records",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"OutputConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropped_fraction <= 1.0:
            raise ValueError(
                f"OutputConfig.dropped_fraction must be in [0, 1], got {self.dropped_fraction}"
            )


def keep_dropped_row(d: Dropped, fraction: float) -> bool:
    """Whether a dropped record is written to ``dropped/`` (deterministic sample)."""
    if fraction >= 1.0:
        return True
    if fraction <= 0.0:
        return False
    p = d.provenance
    return stable_uniform(0, f"{p.warc_file}|{p.record_id}|{p.offset}|{d.stage}") < fraction


def record_key(p: Provenance) -> str:
    """A per-record key for sharding ``dropped/`` and ``dead_letter/``."""
    return f"{p.warc_file}|{p.offset}|{p.record_id}"
