"""Composite PTransforms that wire the Beam-free core together.

Every step routes its records three ways with tagged outputs: the main output (kept),
``dropped`` (a ``Dropped`` with the stage and reason) and ``dead_letter`` (a ``DeadLetter``),
plus a fourth, ``stats``, of ``((kind, stage, reason), n)`` pairs from which the funnel is
summed (and ``report``, the items of a stage's own report). Each drop reason is also a Beam
metrics counter ``dropped_<reason>`` in the namespace ``kosmos_data.<stage>``, visible in
the Dataflow/Flink UIs while a job runs. Every stage routes through ``ApplyStep`` (per-record
steps of the caption and text jobs, deduplication after its grouping, decontamination) or,
for the per-archive chain of the interleaved job, ``ProcessArchiveFn``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from kosmos_data.beam.inputs import ListArchives
from kosmos_data.checkpoint import KIND_DEAD, KIND_DOC, KIND_STATS, packed, per_file_dropped_name
from kosmos_data.funnel import DEAD_LETTER, DROPPED, FILES, KEPT, RECORDS_IN
from kosmos_data.inputs import InputConfig
from kosmos_data.outputs import (
    DROPPED_SCHEMA,
    dropped_to_row,
    keep_dropped_row,
    rows_to_parquet_bytes,
    shard_name,
    stable_shard,
)
from kosmos_data.records import DeadLetter, Provenance
from kosmos_data.stages import Outcome, dropped_of, run_steps
from kosmos_data.warc import ReadConfig, iter_records

log = logging.getLogger(__name__)

DROPPED_TAG = "dropped"
DEAD_TAG = "dead_letter"
STATS_TAG = "stats"
#: Items of a stage's own report (``Outcome.report``; decontamination's per-task matches).
REPORT_TAG = "report"
#: ``(archive, [checkpoint part, ...])`` of one split of an archive read by several workers
#: (``ProcessArchiveFn``), for the marker written once all are in (``CheckpointPerFile``).
PARTS_TAG = "parts"


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


def file_read(
    path: str, n: int, counters: _Counters, count_file: bool = True
) -> Iterator[TaggedOutput]:
    """A reader's accounting for one input file of ``n`` records: Beam counters and the
    funnel's ``files``/``records_in`` events. A reader of one split of a file passes
    ``count_file`` only for the first split."""
    counters.inc("read", "records", n)
    if count_file:
        counters.inc("read", "files")
        yield TaggedOutput(STATS_TAG, ((FILES, "", ""), 1))
    yield TaggedOutput(STATS_TAG, ((RECORDS_IN, "", ""), n))


def _metric_name(key: tuple[str, str, str]) -> str:
    """The Beam counter name of a funnel counter ``(kind, stage, reason)``."""
    kind, _, reason = key
    return f"{kind}_{reason}" if reason else kind


class ApplyStepFn(beam.DoFn):
    """Run one core step (``kosmos_data.stages``) and route its ``Outcome``.

    Kept records go to the main output (the step's new record, when it made one); dropped
    ones to ``dropped`` with the stage and reason (carrying the document when there is one,
    for ``dropped/``); dead letters to ``dead_letter``; report items to ``report``.
    """

    def __init__(self, step) -> None:
        self.step = step
        self.counters = _Counters()

    def setup(self) -> None:
        self.counters = _Counters()
        self.step.setup()

    def process(self, record: object) -> Iterator[object]:
        stage = self.step.name
        outcome: Outcome = self.step(record)
        subject = record if outcome.record is None else outcome.record
        for key, n in outcome.counters.items():
            self.counters.inc(stage, _metric_name(key), n)
            yield TaggedOutput(STATS_TAG, (key, n))
        for item in outcome.report:
            yield TaggedOutput(REPORT_TAG, item)
        if outcome.dead is not None:
            yield from _dead(outcome.dead, self.counters)
            return
        if outcome.verdict is None:
            yield subject
            return
        self.counters.inc(stage, f"dropped_{outcome.verdict}")
        yield TaggedOutput(DROPPED_TAG, dropped_of(stage, record, outcome))


class ApplyStep(beam.PTransform):
    """The one routing transform: a step's stable label and the standard tagged outputs
    (``kept``, ``dropped``, ``dead_letter``, ``stats``, ``report``)."""

    def __init__(self, step) -> None:
        super().__init__()
        self.step = step

    def expand(self, pcoll):
        return pcoll | "Apply" >> beam.ParDo(ApplyStepFn(self.step)).with_outputs(
            DROPPED_TAG, DEAD_TAG, STATS_TAG, REPORT_TAG, main="kept"
        )


class _Chunk:
    """What one chunk of an archive's records leaves behind: its ``dropped/`` rows, its
    documents and dead letters (packed, for the checkpoint part) and its funnel events."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.dropped: list[dict] = []
        self.rows: list[tuple[str, str, bytes]] = []
        self.events: dict[tuple[str, str, str], int] = {}

    def count(self, key: tuple[str, str, str], n: int = 1) -> None:
        self.events[key] = self.events.get(key, 0) + n


class ProcessArchiveFn(beam.DoFn):
    """One archive in; every record read and run through the per-record steps here.

    Why one DoFn: the per-record stages (pre-filter, extraction, language, quality,
    sampling) depend on one record only, and a raw payload (~100 KB of HTML) is 10-50x the
    document made from it. Running them where the archive is read means no payload ever
    crosses a shuffle or a runner's data plane (on the FnApiRunner each element between
    fused stages is buffered and copied); only documents, dead letters and counters leave.
    Common Crawl has ~90,000 archives per snapshot, so per-archive parallelism is plenty at
    scale.

    Outputs: kept documents (main), ``dead_letter``, ``stats`` (funnel events, summed per
    split) and ``parts`` (see below). Everything an archive leaves is written here too, per
    chunk of ``chunk_records`` records: its ``dropped/`` rows
    (``dropped/perfile-<archive key>-<chunk>.parquet``) and its checkpoint part
    (``_per_file/<archive key>-<chunk>.parquet``: documents, dead letters and funnel events,
    ``ArchiveCheckpoints``). Dropped records go on as counts only, ``((dropped, stage,
    reason), n)`` among the funnel events: most of an archive's records never cross a
    shuffle, and the runner moves one counter per reason instead of one element per dropped
    record (on the FnApiRunner ~100 µs of the launcher's time per element and grouping,
    measured). The archive's completion marker is written once all its parts are: here,
    when one worker reads the whole archive; otherwise each split sends the list of its
    parts (``parts``: ``(archive, [part, ...])``, small) to ``CheckpointPerFile``, which
    writes the marker once it has them all. Documents go on at once, so none waits on a
    grouping before the corpus-wide stages (the FnApiRunner copies every element of a
    grouping twice).

    An element is ``(path, split, splits, rotation)``: with ``splits`` > 1, each of ``splits``
    workers reads the whole archive (decompression and record parsing, ~6% of the
    per-record cost, ``READ_SHARE``) but runs the steps only on the records of its chunks
    (record ``i`` is in chunk ``i // chunk_records``; split ``k`` owns the chunks ``c`` with
    ``(c + rotation) % splits == k``, ``rotation`` from ``_split_archive``), so one large
    archive uses several cores without sending a payload anywhere. Which records a split
    owns depends only on their order in the archive, so every record is processed exactly
    once whatever the archive holds (no guessing of record boundaries), and the files
    written (parts included) do not depend on ``splits``.
    """

    def __init__(
        self,
        config: ReadConfig,
        steps: Sequence[object],
        dropped_dir: str,
        checkpoints,
        dropped_fraction: float = 1.0,
        progress: Callable[[int], None] | None = None,
        chunk_records: int = 1024,
    ) -> None:
        if chunk_records < 1:
            raise ValueError(f"ProcessArchiveFn.chunk_records must be >= 1, got {chunk_records}")
        self.chunk_records = chunk_records
        self.config = config
        self.steps = list(steps)
        self.dropped_dir = dropped_dir
        #: writes checkpoint parts and markers (``kosmos_data.beam.checkpoint``)
        self.checkpoints = checkpoints
        self.dropped_fraction = dropped_fraction
        self.progress = progress
        self.counters = _Counters()

    def setup(self) -> None:
        self.counters = _Counters()
        self.checkpoints.setup()
        for step in self.steps:
            step.setup()

    def process(self, element: tuple[str, int, int, int]) -> Iterator[object]:
        path, split, splits, rotation = element
        start = time.monotonic()
        size = self.chunk_records
        i = -1  # index of the record in the archive
        totals: dict[tuple[str, str, str], int] = {}  # the split's funnel events
        parts: list[dict] = []
        owns_first = rotation % splits == split  # chunk 0's owner counts the file
        chunk = _Chunk(0)
        if owns_first:
            chunk.count((FILES, "", ""))
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                for rec in iter_records(f, path, self.config):
                    i += 1
                    if (i // size + rotation) % splits != split:
                        continue
                    if i // size != chunk.index:
                        self._close(path, chunk, parts, totals)
                        chunk = _Chunk(i // size)
                    chunk.count((RECORDS_IN, "", ""))
                    if isinstance(rec, DeadLetter):
                        yield from self._dead(rec, chunk)
                        continue
                    res = run_steps(self.steps, rec, chunk.events)
                    if res.record is not None:
                        chunk.rows.append(packed(KIND_DOC, res.record))
                        yield res.record
                    elif res.dropped is not None:
                        d = res.dropped
                        chunk.count((DROPPED, d.stage, d.reason))
                        if keep_dropped_row(d, self.dropped_fraction):
                            chunk.dropped.append(dropped_to_row(d))
                    else:
                        yield from self._dead(res.dead, chunk)
        except Exception as e:
            # the failure takes the next record's place
            if ((i + 1) // size + rotation) % splits == split:
                if (i + 1) // size != chunk.index:
                    self._close(path, chunk, parts, totals)
                    chunk = _Chunk((i + 1) // size)
                chunk.count((RECORDS_IN, "", ""))
                prov = Provenance(path, f"<file:{path}>", 0, "", "")
                yield from self._dead(DeadLetter("read", "unreadable_file", prov, repr(e)), chunk)
        self._close(path, chunk, parts, totals)
        n = totals.get((RECORDS_IN, "", ""), 0)  # records of this archive this split owns
        self.counters.inc("read", "records", n)
        for key, c in totals.items():  # Beam counters, once per split
            if key[0] == FILES:
                self.counters.inc("read", "files")
            elif key[0] != RECORDS_IN:  # the steps' counters and dropped_<reason>
                self.counters.inc(key[1], _metric_name(key), c)
        for key in sorted(totals):
            yield TaggedOutput(STATS_TAG, (key, totals[key]))
        if splits == 1:
            self.checkpoints.complete(path, parts)
        else:
            yield TaggedOutput(PARTS_TAG, (path, parts))
        if self.progress is not None and split == splits - 1:
            self.progress(i + 1)
        part = f" (split {split + 1}/{splits})" if splits > 1 else ""
        log.info("read %s%s: %d records in %.1fs", path, part, n, time.monotonic() - start)

    def _dead(self, d: DeadLetter, chunk: _Chunk) -> Iterator[TaggedOutput]:
        chunk.rows.append(packed(KIND_DEAD, d))
        yield from _dead(d, self.counters)

    def _close(self, path: str, chunk: _Chunk, parts: list[dict], totals: dict) -> None:
        """A chunk that holds anything: write its ``dropped/`` rows and checkpoint part, add
        its entry to ``parts`` and its funnel events to ``totals``."""
        if not chunk.events:
            return
        if chunk.dropped:
            name = per_file_dropped_name(path, chunk.index)
            data = rows_to_parquet_bytes(chunk.dropped, DROPPED_SCHEMA)
            publish_bytes(FileSystems.join(self.dropped_dir, name), data)
        for key, c in chunk.events.items():
            totals[key] = totals.get(key, 0) + c
        stats = [packed(KIND_STATS, (key, chunk.events[key])) for key in sorted(chunk.events)]
        parts.append(self.checkpoints.write_part(path, chunk.index, chunk.rows + stats))


class ReadAndProcessArchives(beam.PTransform):
    """Archive paths -> a dict of ``docs``, ``dead_letter``, ``stats`` (funnel events, drops
    included) and ``parts`` (the checkpoint parts of shared archives), the per-record steps
    run where each archive is read (see ``ProcessArchiveFn``), ready for
    ``CheckpointPerFile``.

    A ``Reshuffle`` spreads the (small) paths over workers first: each archive is one unit
    of work, and runners would otherwise keep the whole list on the worker that created it.
    """

    def __init__(
        self,
        paths: Iterable[str],
        fn: ProcessArchiveFn,
        splits: int = 1,
        inputs: InputConfig | None = None,
        skip_keys: Iterable[str] = (),
    ) -> None:
        super().__init__()
        if splits < 1:
            raise ValueError(f"ReadAndProcessArchives.splits must be >= 1, got {splits}")
        self.paths = sorted(paths)
        self.fn = fn
        self.splits = splits
        # Remote globs / path lists among ``paths`` are matched by ListArchives, which leaves
        # out the archives of ``skip_keys`` (completed before a --resume).
        self.inputs = inputs
        self.skip_keys = tuple(skip_keys)

    def expand(self, pbegin):
        out = (
            pbegin
            | "ListArchives" >> ListArchives(self.paths, self.inputs, self.skip_keys)
            | "SplitArchives" >> beam.FlatMap(_split_archive, self.splits, _positions(self.paths))
            | "SpreadArchives" >> _SpreadEvenly()
            | "ProcessArchive"
            >> beam.ParDo(self.fn).with_outputs(DEAD_TAG, STATS_TAG, PARTS_TAG, main="docs")
        )
        return {"docs": out.docs, "dead_letter": out[DEAD_TAG], "stats": out[STATS_TAG],
                "parts": out[PARTS_TAG]}  # fmt: skip


#: Share of an archive's cost in reading it (decompression and record parsing) when every
#: record is run through the steps: measured 0.06 (1.6 of 28 CPU-s for a 218 MB archive of
#: real pages, ``bench/scale.py`` 16x, 2026-12-04); 0.08 leaves room for archives of more
#: non-response records.
READ_SHARE = 0.08


def splits_for(sizes: Sequence[int] | None, workers: int) -> int:
    """How many workers share each archive in a local run of ``workers`` processes.

    Splitting costs every split the reading of the whole archive (``READ_SHARE``), not
    splitting costs balance: the FnApiRunner deals archives to workers in turn, so a worker
    gets at most ``ceil(archives / workers)`` of them, the largest at worst. Whichever
    bound is smaller wins: two archives of one size on two workers are not split (measured:
    28.6 s against 30.8 s split, the 16x row of ``bench/scale.py``), one or three are.
    ``sizes`` None (archives matched by the pipeline, sizes unknown at launch): split.
    """
    if workers <= 1:
        return 1
    if not sizes:
        return workers
    total = float(sum(sizes))
    per_worker = -(-len(sizes) // workers)
    whole = float(sum(sorted(sizes, reverse=True)[:per_worker]))
    shared = READ_SHARE * total + (1 - READ_SHARE) * total / workers
    return 1 if whole <= shared else workers


def _positions(paths: Sequence[str]) -> dict[str, int]:
    """Each archive known at launch -> its position in sorted order (its chunk rotation)."""
    return {p: i for i, p in enumerate(sorted(paths))}


def _split_archive(path: str, splits: int, positions: dict[str, int]):
    """``(path, split, splits, rotation)`` for each split of one archive.

    The rotation shifts which split owns an archive's first chunk, so archives smaller than
    ``splits`` chunks (most of a small run's archives) start on different splits and their
    work spreads over the workers instead of piling on split 0: archive ``i`` (in sorted
    order; archives matched by the pipeline by a stable hash of the path) starts at split
    ``i % splits``. Which records a split owns still depends on nothing but the archive and
    ``splits``, and the files written not even on that."""
    rotation = positions.get(path)
    if rotation is None:
        rotation = stable_shard(path, splits)
    return [(path, s, splits, rotation % splits) for s in range(splits)]


class _SpreadEvenly(beam.PTransform):
    """A fusion break that spreads ``(path, split, ...)`` elements over workers evenly.

    ``Reshuffle`` keys elements at random; on the local FnApiRunner, which deals a grouped
    stage's keys out to its worker processes in turn (``_GroupingBuffer.partition``), two
    archives' busy splits then land on one worker half of the time and the other idles.
    Keyed by the element itself (unique), in the order ``SplitArchives`` emits them, the
    split ``k`` of every archive goes to worker ``k`` there, and with the rotation above the
    busy chunks alternate between workers. Distributed runners balance unique keys
    themselves."""

    def expand(self, pcoll):
        return (
            pcoll
            | "KeyBySplit" >> beam.Map(lambda e: (f"{e[0]}|{e[1]}", e))
            | "GroupBySplit" >> beam.GroupByKey()
            | "Elements" >> beam.FlatMap(lambda kv: kv[1])
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

        from kosmos_data.funnel import build_funnel

        order = self.extra["stage_order"]  # each job's, from its ordered stages
        funnel = build_funnel(dict(pairs), stage_order=order, extra=self.extra)
        publish_bytes(self.path, json.dumps(funnel, indent=2).encode("utf-8") + b"\n")
        yield self.path


class WriteFunnel(beam.PTransform):
    """Sum accounting events per key and write the pipeline's part of the funnel
    (``funnel.FUNNEL_PARTIAL``; works on every runner). The launcher completes it with the
    runner's counters and writes ``funnel.json`` once (``pipelines.common.run_pipeline``)."""

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
