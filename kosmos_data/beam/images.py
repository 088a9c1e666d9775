"""``FetchImages``: documents -> documents whose image segments carry fetched images.

Graph (stable labels)::

    docs -> ImageRefs (url, (doc_id, pos)) -> GroupRefsByUrl [-> JoinPreviousStatus]
         -> SpreadUrls (Reshuffle) -> BatchUrls -> FetchBatch (thread pool, robots cache,
            SSRF guard, filters, resize, pHash, decontamination against the eval index)
         -> ok: KeyBySha256 -> GroupBySha256 -> ExactDedup
                -> PhashBands -> GroupByBand -> NearDuplicates -> JoinNearDuplicates
         -> every occurrence outcome -> KeyOutcomesByDoc -> JoinDocuments (CoGroupByKey)
         -> RebuildDocuments: kept (Document), dropped (nsfw_document, no_images_after_fetch),
            stats
    per-URL outcomes -> GroupStatusByUrl -> StatusRows -> WriteImageStatus (image_status/*.parquet)

Outputs (a dict): ``kept`` (Document; each image segment's ``image.fetched`` is an ok
``FetchedImage`` with the resized JPEG), ``dropped`` (``Dropped(stage="images",
reason="nsfw_document" | "no_images_after_fetch")`` with the original document),
``stats`` (funnel events:
``image_fetch`` per URL, ``image_dropped``/``images_kept`` per occurrence) and ``status``
(the written status shard paths). Documents that arrive without any image pass through.
Beam counters in ``kosmos_data.images``: ``fetch_<reason>``, ``image_dropped_<reason>``,
``images_kept``, ``dropped_no_images_after_fetch``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from kosmos_data.beam.transforms import (
    DROPPED_TAG,
    STATS_TAG,
    ApplyStep,
    WriteParquetShards,
    _Counters,
)
from kosmos_data.funnel import IMAGE_FETCH
from kosmos_data.images.config import ImageConfig
from kosmos_data.images.corpus import (
    DUPLICATE_PHASH,
    OK,
    STAGE,
    OccurrenceOutcome,
    RebuildStep,
    UrlResult,
    decontaminate,
    exact_dedup,
    near_duplicates,
)
from kosmos_data.images.fetch import ImageFetcher
from kosmos_data.images.phash import EvalIndex, bands, from_hex
from kosmos_data.images.status import (
    STATUS_DIR,
    STATUS_SCHEMA,
    image_from_row,
    reusable,
    status_row,
)
from kosmos_data.inputs import is_remote
from kosmos_data.records import Document, FetchedImage
from kosmos_data.safety.blocklist import BlockList


def image_refs(doc: Document) -> Iterator[tuple[str, tuple[str, int]]]:
    for pos, seg in enumerate(doc.segments):
        if seg.image is not None:
            yield seg.image.url, (doc.id, pos)


class FetchBatchFn(beam.DoFn):
    """A batch of ``(url, occurrences, previous row or None)`` -> ``UrlResult`` per URL.

    ``setup()`` builds the fetcher (img2dataset's resizer, the guarded opener, a bounded
    thread pool, the per-worker robots.txt cache) and the evaluation pHash index.
    """

    def __init__(self, config: ImageConfig, resolver=None, allowed_endpoints=frozenset()):
        self.config = config
        self.fetcher = ImageFetcher(config, resolver, allowed_endpoints)
        self.index: EvalIndex | None = None
        self.counters = _Counters()

    def setup(self) -> None:
        self.counters = _Counters()
        self.fetcher.setup()
        c = self.config
        if c.eval_images:
            self.index = EvalIndex.from_path(
                c.eval_images, c.decontam_phash_threshold, self.fetcher.resize, c.resize_key
            )

    def teardown(self) -> None:
        self.fetcher.teardown()

    def process(self, batch: list[tuple[str, list, dict | None]]) -> Iterator[UrlResult]:
        to_fetch = []
        for url, occs, prev in batch:
            if prev is not None:
                img = self.fetcher.safety.recheck(image_from_row(prev, self.config))
                yield self._result(url, occs, img, reused=True)
            else:
                to_fetch.append((url, occs))
        fetched = self.fetcher.fetch_many([u for u, _ in to_fetch])
        for (url, occs), img in zip(to_fetch, fetched, strict=True):
            yield self._result(url, occs, img, reused=False)

    def _result(self, url: str, occs: list, img: FetchedImage, reused: bool) -> UrlResult:
        self.counters.inc(STAGE, f"fetch_{'reused' if reused else img.reason}")
        occurrences = sorted({(d, int(p)) for d, p in occs})
        return decontaminate(UrlResult(url, img, occurrences, img.reason, reused), self.index)


def _split_by_verdict(result: UrlResult) -> Iterator[object]:
    """ok results go on to dedup; the others are final for every occurrence."""
    if result.verdict == OK:
        yield result
        return
    for doc_id, pos in result.occurrences:
        outcome = OccurrenceOutcome(result.url, doc_id, pos, result.verdict, None, result.detail)
        outcome.nsfw_score = result.image.nsfw_score
        yield TaggedOutput("final", outcome)


def _exact(element: tuple[str, Iterable[UrlResult]]) -> Iterator[object]:
    rep, dropped = exact_dedup(list(element[1]))
    yield rep
    for o in dropped:
        yield TaggedOutput("final", o)


def _band_items(rep: UrlResult, threshold: int) -> Iterator[tuple[tuple[int, int], tuple]]:
    for band in bands(from_hex(rep.image.phash), threshold):
        yield band, (rep.first, rep.image.phash, rep.url)


def _near(element, threshold: int) -> Iterator[tuple[str, str]]:
    _, items = element
    items = list(items)
    if len(items) > 1:
        yield from near_duplicates([(tuple(f), h, u) for f, h, u in items], threshold)


def _resolve_near(element) -> Iterator[OccurrenceOutcome]:
    url, grouped = element
    earlier = sorted(grouped["near"])
    for rep in grouped["rep"]:
        doc_id, pos = rep.first
        if earlier:
            detail = f"near duplicate of {earlier[0]}"
            yield OccurrenceOutcome(url, doc_id, pos, DUPLICATE_PHASH, None, detail)
        else:
            yield OccurrenceOutcome(url, doc_id, pos, OK, rep.image, rep.detail)


def _with_outcomes(element) -> Iterator[tuple[Document, list[OccurrenceOutcome]]]:
    """``(doc_id, {"doc": [Document], "out": [OccurrenceOutcome]})`` -> each document with
    its images' outcomes, for ``RebuildStep``."""
    _, grouped = element
    outcomes = list(grouped["out"])
    for doc in grouped["doc"]:
        yield doc, outcomes


def _status_rows(element, resize_key: str) -> Iterator[dict]:
    _, grouped = element
    results = list(grouped["result"])
    if not results:
        return
    r = results[0]
    outs = list(grouped["out"])
    kept = sum(1 for o in outs if o.verdict == OK)
    if kept:
        reason, detail = OK, r.detail
    elif outs:
        first = min(outs, key=lambda o: (o.doc_id, o.position))
        reason, detail = first.verdict, first.detail
    else:
        reason, detail = r.verdict, r.detail
    yield status_row(
        r.image, r.image.reason, reason, [d for d, _ in r.occurrences], len(r.occurrences),
        kept, resize_key if r.image.ok else "", detail, r.reused,
    )  # fmt: skip


def _status_pattern(run_dir: str) -> str:
    return FileSystems.join(run_dir, STATUS_DIR, "*.parquet")


class FetchImages(beam.PTransform):
    """Documents -> documents with fetched, filtered, deduplicated, decontaminated images.

    ``output`` is the run directory (``image_status/`` is written under it). ``resolver`` and
    ``allowed_endpoints`` are the SSRF guard's test hooks (see ``kosmos_data.images.ssrf``).
    """

    def __init__(
        self, config: ImageConfig, output: str, resolver=None, allowed_endpoints=frozenset()
    ) -> None:
        super().__init__()
        self.config = config
        self.output = output
        self.resolver = resolver
        self.allowed_endpoints = frozenset(allowed_endpoints)

    def _doc_threshold(self) -> float:
        c = self.config
        return c.nsfw_document_threshold if c.nsfw_filter else 1.0

    def expand(self, docs):
        c = self.config
        refs = (
            docs | "ImageRefs" >> beam.FlatMap(image_refs) | "GroupRefsByUrl" >> beam.GroupByKey()
        )
        if c.status_from:
            prev = (
                docs.pipeline
                | "ReadPreviousStatus"
                >> beam.io.ReadFromParquet(
                    _status_pattern(c.status_from),
                    columns=[f.name for f in STATUS_SCHEMA if f.name != "doc_ids"],
                    # Beam's construction-time match would list a remote bucket from the
                    # launcher; the read itself still fails when nothing matches.
                    validate=not is_remote(c.status_from),
                )
                | "KeepReusable" >> beam.Filter(reusable, c)
                | "KeyPreviousByUrl" >> beam.Map(lambda r: (r["url"], r))
            )
            todo = (
                {"refs": refs, "prev": prev}
                | "JoinPreviousStatus" >> beam.CoGroupByKey()
                | "PickPrevious"
                >> beam.FlatMap(
                    lambda kv: [
                        (kv[0], list(occs), (list(kv[1]["prev"]) or [None])[0])
                        for occs in kv[1]["refs"]
                    ]
                )
            )
        else:
            todo = refs | "NoPrevious" >> beam.Map(lambda kv: (kv[0], list(kv[1]), None))
        results = (
            todo
            | "SpreadUrls" >> beam.Reshuffle()
            | "BatchUrls" >> beam.BatchElements(min_batch_size=1, max_batch_size=c.batch_size)
            | "FetchBatch" >> beam.ParDo(FetchBatchFn(c, self.resolver, self.allowed_endpoints))
        )
        split = results | "SplitByVerdict" >> beam.FlatMap(_split_by_verdict).with_outputs(
            "final", main="ok"
        )
        outcomes = [split.final]
        ok = split.ok
        if c.dedup_exact:
            exact = (
                ok
                | "KeyBySha256" >> beam.Map(lambda r: (r.image.sha256, r))
                | "GroupBySha256" >> beam.GroupByKey()
                | "ExactDedup" >> beam.FlatMap(_exact).with_outputs("final", main="reps")
            )
            outcomes.append(exact.final)
            ok = exact.reps
        t = c.phash_threshold
        if c.dedup_phash:
            near = (
                ok
                | "PhashBands" >> beam.FlatMap(_band_items, t)
                | "GroupByBand" >> beam.GroupByKey()
                | "NearDuplicates" >> beam.FlatMap(_near, t)
            )
        else:
            near = ok | "NoNearDuplicates" >> beam.Filter(lambda _: False)
        resolved = (
            {"rep": ok | "KeyRepsByUrl" >> beam.Map(lambda r: (r.url, r)), "near": near}
            | "JoinNearDuplicates" >> beam.CoGroupByKey()
            | "ResolveNear" >> beam.FlatMap(_resolve_near)
        )
        outcomes.append(resolved)
        all_out = tuple(outcomes) | "FlattenOutcomes" >> beam.Flatten()

        rebuilt = (
            {
                "doc": docs | "KeyDocs" >> beam.Map(lambda d: (d.id, d)),
                "out": all_out | "KeyOutcomesByDoc" >> beam.Map(lambda o: (o.doc_id, o)),
            }
            | "JoinDocuments" >> beam.CoGroupByKey()
            | "WithOutcomes" >> beam.FlatMap(_with_outcomes)
            | "RebuildDocuments" >> ApplyStep(RebuildStep(self._doc_threshold()))
        )
        fetch_stats = results | "CountFetches" >> beam.Map(
            lambda r: ((IMAGE_FETCH, STAGE, "reused" if r.reused else r.image.reason), 1)
        )
        stats = (rebuilt[STATS_TAG], fetch_stats) | "FlattenImageStats" >> beam.Flatten()

        status = (
            {
                "result": results | "KeyResultsByUrl" >> beam.Map(lambda r: (r.url, r)),
                "out": all_out | "KeyOutcomesByUrl" >> beam.Map(lambda o: (o.url, o)),
            }
            | "GroupStatusByUrl" >> beam.CoGroupByKey()
            | "StatusRows" >> beam.FlatMap(_status_rows, c.resize_key)
            | "WriteImageStatus"
            >> WriteParquetShards(
                FileSystems.join(self.output, STATUS_DIR), STATUS_DIR, STATUS_SCHEMA,
                to_row=lambda row: row, key=lambda row: row["url"], num_shards=c.status_shards,
            )
        )  # fmt: skip
        return {
            "kept": rebuilt.kept,
            DROPPED_TAG: rebuilt[DROPPED_TAG],
            STATS_TAG: stats,
            "status": status,
        }


def add_image_stage(docs, dropped, config: ImageConfig, output: str):
    """The one call a pipeline makes: ``(docs, dropped, [stats])`` after the image stage.

    With ``config.fetch`` off (the default: a run makes no network requests unless asked)
    the collections pass through unchanged.
    """
    if not config.fetch:
        return docs, dropped, []
    res = docs | "FetchImages" >> FetchImages(config, output)
    dropped = (dropped, res[DROPPED_TAG]) | "FlattenImageDropped" >> beam.Flatten()
    return res["kept"], dropped, [res[STATS_TAG]]


def check_status_from(config: ImageConfig, output: str) -> None:
    """A rerun reads its previous status from another directory than it writes, and that
    directory must hold status shards (checked before the job starts when it is local; a
    remote one is checked by the job's read, so a launcher and a ``--dry-run`` work offline).
    A block list (``--block-image-hashes``) is read once here too, so a bad one fails before
    the job."""
    if config.block_hashes:
        BlockList.from_file(config.block_hashes, config.block_hash_threshold, config.resize_key)
    if not config.status_from:
        return
    if FileSystems.join(config.status_from, "") == FileSystems.join(output, ""):
        raise ValueError(
            "ImageConfig.status_from: --image-status-from must name an earlier run directory, "
            f"not the --output of this run ({output})"
        )
    pattern = _status_pattern(config.status_from)
    if is_remote(pattern):  # the job's read checks it: a launcher never touches a bucket
        return
    if not FileSystems.match([pattern])[0].metadata_list:
        raise ValueError(f"ImageConfig.status_from: no status shards match {pattern}")
