"""Composite PTransforms that wire the Beam-free core together.

Every step routes its records three ways with tagged outputs: the main output (kept),
``dropped`` (a ``Dropped`` with the stage and reason) and ``dead_letter`` (a ``DeadLetter``),
plus a fourth, ``stats``, of ``((kind, stage, reason), n)`` pairs from which the funnel is
summed. Each drop reason is also a Beam metrics counter ``dropped_<reason>`` in the
namespace ``kosmos_data.<stage>``, visible in the Dataflow/Flink UIs while a job runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from kosmos_data.funnel import DEAD_LETTER, DROPPED, FILES, KEPT, RECORDS_IN
from kosmos_data.outputs import rows_to_parquet_bytes, shard_name, stable_shard
from kosmos_data.records import DeadLetter, Document, Dropped, Provenance, RawPage
from kosmos_data.stages import ExtractStep, Outcome
from kosmos_data.warc import ReadConfig, iter_records

log = logging.getLogger(__name__)

DROPPED_TAG = "dropped"
DEAD_TAG = "dead_letter"
STATS_TAG = "stats"
#: The same accounting events keyed by archive, ``(warc_file, ((kind, stage, reason), n))``,
#: for per-file checkpoints (``kosmos_data.beam.checkpoint``); unused outputs cost nothing.
FILE_STATS_TAG = "file_stats"


def _namespace(stage: str) -> str:
    return f"kosmos_data.{stage}"


class _Counters:
    """Lazily created Beam counters, cached per (stage, name)."""

    def __init__(self) -> None:
        self._c: dict[tuple[str, str], object] = {}

    def inc(self, stage: str, name: str, n: int = 1) -> None:
        key = (stage, name)
        c = self._c.get(key)
        if c is None:
            c = self._c[key] = Metrics.counter(_namespace(stage), name)
        c.inc(n)


def _dead(d: DeadLetter, counters: _Counters) -> Iterator[TaggedOutput]:
    counters.inc(d.stage, f"dead_letter_{d.reason}")
    yield TaggedOutput(DEAD_TAG, d)


def file_read(path: str, n: int, counters: _Counters, per_file: bool) -> Iterator[TaggedOutput]:
    """A reader's accounting for one input file of ``n`` records: Beam counters and the
    funnel's ``files``/``records_in`` events (also keyed by file for per-file checkpoints)."""
    counters.inc("read", "files")
    counters.inc("read", "records", n)
    for event in (((FILES, "", ""), 1), ((RECORDS_IN, "", ""), n)):
        yield TaggedOutput(STATS_TAG, event)
        if per_file:
            yield TaggedOutput(FILE_STATS_TAG, (path, event))


class ReadWarcFileFn(beam.DoFn):
    """One archive path in, every record of it out (pages, or dead letters).

    Files are opened through Beam's ``FileSystems`` so ``gs://``/``s3://`` paths work with
    the matching extras; gzip is detected by the reader from magic bytes, which is why the
    stream is opened UNCOMPRESSED (byte offsets then match the archive, as CDX indexes do).
    """

    def __init__(self, config: ReadConfig) -> None:
        self.config = config
        self.counters = _Counters()

    def setup(self) -> None:
        self.counters = _Counters()

    def process(self, path: str) -> Iterator[object]:
        start = time.monotonic()
        n = 0
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                for rec in iter_records(f, path, self.config):
                    n += 1
                    if isinstance(rec, DeadLetter):
                        yield from _dead(rec, self.counters)
                    else:
                        yield rec
        except Exception as e:
            n += 1
            prov = Provenance(path, f"<file:{path}>", 0, "", "")
            yield from _dead(DeadLetter("read", "unreadable_file", prov, repr(e)), self.counters)
        yield from file_read(path, n, self.counters, per_file=True)
        log.info("read %s: %d records in %.1fs", path, n, time.monotonic() - start)


class ReadWarcRecords(beam.PTransform):
    """Archive paths (already expanded) -> RawPage, with dead letters and per-file counts.

    A ``Reshuffle`` spreads files over workers before reading: each file is one unit of
    work, and runners would otherwise keep the whole list on the worker that created it.
    """

    def __init__(self, paths: Iterable[str], config: ReadConfig) -> None:
        super().__init__()
        self.paths = sorted(paths)
        self.config = config

    def expand(self, pbegin):
        return (
            pbegin
            | "ListArchives" >> beam.Create(self.paths)
            | "SpreadArchives" >> beam.Reshuffle()
            | "ReadArchive"
            >> beam.ParDo(ReadWarcFileFn(self.config)).with_outputs(
                DEAD_TAG, STATS_TAG, FILE_STATS_TAG, main="pages"
            )
        )


class ApplyStepFn(beam.DoFn):
    """Run one core step (``kosmos_data.stages``) and route its outcome.

    Kept records go to the main output; dropped ones to ``dropped`` with the stage and
    reason (carrying the document when there is one, for ``dropped/``).
    """

    def __init__(self, step) -> None:
        self.step = step
        self.counters = _Counters()

    def setup(self) -> None:
        self.counters = _Counters()
        self.step.setup()

    def process(self, record: RawPage | Document) -> Iterator[object]:
        stage = self.step.name
        outcome: Outcome = self.step(record)
        for key, n in outcome.counters.items():
            self.counters.inc(stage, f"{key[0]}_{key[2]}" if key[2] else key[0], n)
            yield TaggedOutput(STATS_TAG, (key, n))
            yield TaggedOutput(FILE_STATS_TAG, (record.provenance.warc_file, (key, n)))
        if outcome.verdict is None:
            yield record
            return
        self.counters.inc(stage, f"dropped_{outcome.verdict}")
        doc = record if isinstance(record, Document) else None
        yield TaggedOutput(
            DROPPED_TAG,
            Dropped(stage, outcome.verdict, record.provenance, outcome.detail, document=doc),
        )


class ApplyStep(beam.PTransform):
    """Composite wrapper giving a step a stable label and the standard tagged outputs."""

    def __init__(self, step) -> None:
        super().__init__()
        self.step = step

    def expand(self, pcoll):
        return pcoll | "Apply" >> beam.ParDo(ApplyStepFn(self.step)).with_outputs(
            DROPPED_TAG, STATS_TAG, FILE_STATS_TAG, main="kept"
        )


class ExtractDocFn(beam.DoFn):
    """Decode + extract one page; the extractor is built once per DoFn in ``setup()``."""

    def __init__(self, step: ExtractStep) -> None:
        self.step = step
        self.counters = _Counters()

    def setup(self) -> None:
        self.counters = _Counters()
        self.step.setup()

    def process(self, page: RawPage) -> Iterator[object]:
        result = self.step(page)
        if isinstance(result, DeadLetter):
            yield from _dead(result, self.counters)
            return
        self.counters.inc("extract", "documents")
        for key, n in ExtractStep.counters(result).items():
            self.counters.inc("extract", f"images_dropped_{key[2]}", n)
            yield TaggedOutput(STATS_TAG, (key, n))
            yield TaggedOutput(FILE_STATS_TAG, (page.provenance.warc_file, (key, n)))
        yield result


class ExtractInterleavedDocs(beam.PTransform):
    """RawPage -> Document (text and image segments in DOM order), or a dead letter."""

    def __init__(self, step: ExtractStep, reshuffle: bool = True) -> None:
        super().__init__()
        self.step = step
        self.reshuffle = reshuffle

    def expand(self, pages):
        if self.reshuffle:
            # Survivors of the pre-filter are a few percent of a WARC and cost ~1 ms each to
            # extract: rebalance them so one slow archive does not hold a single worker.
            pages = pages | "Rebalance" >> beam.Reshuffle()
        return pages | "Extract" >> beam.ParDo(ExtractDocFn(self.step)).with_outputs(
            DEAD_TAG, STATS_TAG, FILE_STATS_TAG, main="docs"
        )


def count_outputs(
    kept: beam.PCollection, dropped: beam.PCollection, dead: beam.PCollection
) -> list[beam.PCollection]:
    """Accounting events derived from the three final outputs (one per record)."""
    return [
        kept | "CountKept" >> beam.Map(lambda _: ((KEPT, "", ""), 1)),
        dropped | "CountDropped" >> beam.Map(lambda d: ((DROPPED, d.stage, d.reason), 1)),
        dead | "CountDeadLetters" >> beam.Map(lambda d: ((DEAD_LETTER, d.stage, d.reason), 1)),
    ]


def publish_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``FileSystems`` via a temporary name and a rename,
    so readers (and resumed runs) never see a half-written file."""
    tmp = path + ".tmp"
    with FileSystems.create(tmp) as f:
        f.write(data)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


class _WriteShardFn(beam.DoFn):
    def __init__(self, directory: str, prefix: str, num_shards: int, schema) -> None:
        self.directory = directory
        self.prefix = prefix
        self.num_shards = num_shards
        self.schema = schema

    def process(self, element: tuple[int, Iterable[dict]]) -> Iterator[str]:
        index, rows = element
        data = rows_to_parquet_bytes(list(rows), self.schema)
        final = FileSystems.join(self.directory, shard_name(self.prefix, index, self.num_shards))
        publish_bytes(final, data)
        yield final


class WriteParquetShards(beam.PTransform):
    """Records -> rows -> ``num_shards`` Parquet files named ``{prefix}-SSSSS-of-NNNNN``.

    The shard of a record comes from a stable hash of its key, and rows are sorted inside a
    shard, so the same input gives byte-identical files on every runner and rerun.
    """

    def __init__(
        self,
        directory: str,
        prefix: str,
        schema,
        to_row: Callable[[object], dict],
        key: Callable[[object], str],
        num_shards: int,
    ) -> None:
        super().__init__()
        self.directory = directory
        self.prefix = prefix
        self.schema = schema
        self.to_row = to_row
        self.key = key
        self.num_shards = num_shards

    def expand(self, pcoll):
        to_row, key, n = self.to_row, self.key, self.num_shards
        return (
            pcoll
            | "ToRow" >> beam.Map(lambda r: (stable_shard(key(r), n), to_row(r)))
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShardFn(self.directory, self.prefix, n, self.schema))
        )


class _WriteFunnelFn(beam.DoFn):
    def __init__(self, path: str, extra: dict) -> None:
        self.path = path
        self.extra = extra

    def process(self, pairs: list[tuple[tuple[str, str, str], int]]) -> Iterator[str]:
        import json

        from kosmos_data.funnel import INTERLEAVED_STAGES, build_funnel

        order = self.extra.get("stage_order") or INTERLEAVED_STAGES  # each job names its stages
        funnel = build_funnel(dict(pairs), stage_order=order, extra=self.extra)
        with FileSystems.create(self.path) as f:
            f.write(json.dumps(funnel, indent=2, sort_keys=False).encode("utf-8") + b"\n")
        yield self.path


class WriteFunnel(beam.PTransform):
    """Sum accounting events per key and write ``funnel.json`` (works on every runner)."""

    def __init__(self, path: str, extra: dict) -> None:
        super().__init__()
        self.path = path
        self.extra = extra

    def expand(self, events):
        return (
            events
            | "SumPerKey" >> beam.CombinePerKey(sum)
            | "Gather" >> beam.combiners.ToList()
            | "Write" >> beam.ParDo(_WriteFunnelFn(self.path, self.extra))
        )
