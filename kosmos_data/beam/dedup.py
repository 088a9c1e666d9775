"""``DropDuplicates``: the deduplication stages (``kosmos_data.dedup``) as Beam transforms.

Nothing is ever collected on one worker: exact duplicates are a GroupByKey on the key (URL,
text hash, image-set hash) whose reducer streams the group twice (find the minimum rank, then
route); boilerplate images are a GroupByKey on the image URL joined back to documents by id
(CoGroupByKey); near duplicates are MinHash signatures -> a GroupByKey per LSH band -> star
edges verified on the signatures -> connected components by alternating Large-Star /
Small-Star rounds (a fixed number unrolled in the graph, each a GroupByKey on a vertex) ->
labels joined back to documents by id. Per-key groups are only ever iterated, never copied,
so runners that page large groups (Dataflow) keep memory bounded.

Outputs have the shape of ``ApplyStep``: ``kept``, ``dropped`` (``DROPPED_TAG``) and
``stats`` (``STATS_TAG``); every drop also counts ``dropped_<reason>`` in the stage's
metrics namespace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from kosmos_data.beam.transforms import DROPPED_TAG, STATS_TAG, _Counters
from kosmos_data.dedup import (
    DUPLICATE_IMAGE_SET,
    DUPLICATE_TEXT,
    DUPLICATE_URL,
    NEAR_DUPLICATE,
    NO_IMAGES_AFTER_DEDUP,
    STAGE_IMAGES,
    STAGE_NEAR,
    STAGE_TEXT,
    STAGE_URL,
    DedupConfig,
)
from kosmos_data.dedup.components import (
    bucket_edges,
    large_star,
    rank_doc_id,
    rank_key,
    small_star,
    towards_smaller,
    undirected,
)
from kosmos_data.dedup.images import BOILERPLATE_IMAGE, image_keys, image_set_key, without_images
from kosmos_data.dedup.local import dropped_duplicate, near_signature, text_key, url_key
from kosmos_data.dedup.lsh import band_keys
from kosmos_data.dedup.minhash import MinHasher
from kosmos_data.funnel import IMAGE_DROPPED
from kosmos_data.records import Document, Dropped

log = logging.getLogger(__name__)


class StageOutputs(dict):
    """Tagged outputs, readable as ``out.kept`` and ``out[DROPPED_TAG]`` like ``ApplyStep``'s."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e


# --- exact duplicates ------------------------------------------------------------------------


class _KeyFn(beam.DoFn):
    def __init__(self, key: Callable[[Document], str | None]) -> None:
        self.key = key

    def process(self, doc: Document) -> Iterator[object]:
        k = self.key(doc)
        if k is None:
            yield TaggedOutput("unkeyed", doc)
        else:
            yield k, (rank_key(doc), doc)


class _KeepMinFn(beam.DoFn):
    """One duplicate group: keep the minimum rank, drop the rest (two streaming passes)."""

    def __init__(self, stage: str, reason: str) -> None:
        self.stage = stage
        self.reason = reason
        self.counters = _Counters()

    def setup(self) -> None:
        self.counters = _Counters()

    def process(self, element: tuple[str, Iterable[tuple[str, Document]]]) -> Iterator[object]:
        _, members = element
        best_rank, best = None, None
        for rank, doc in members:
            if best_rank is None or rank < best_rank:
                best_rank, best = rank, doc
        yield best
        kept_one = False
        for rank, doc in members:
            if rank == best_rank and not kept_one:  # equal ranks (repeated ids): keep one
                kept_one = True
            else:
                self.counters.inc(self.stage, f"dropped_{self.reason}")
                yield TaggedOutput(
                    DROPPED_TAG, dropped_duplicate(doc, self.stage, self.reason, best.id)
                )


class DedupExact(beam.PTransform):
    """Documents with equal ``key`` -> one kept (rank rule); documents without a key pass."""

    def __init__(self, key: Callable[[Document], str | None], stage: str, reason: str) -> None:
        super().__init__()
        self.key = key
        self.stage = stage
        self.reason = reason

    def expand(self, docs):
        keyed = docs | "Key" >> beam.ParDo(_KeyFn(self.key)).with_outputs("unkeyed", main="keyed")
        decided = (
            keyed.keyed
            | "GroupByKey" >> beam.GroupByKey()
            | "KeepOne"
            >> beam.ParDo(_KeepMinFn(self.stage, self.reason)).with_outputs(
                DROPPED_TAG, main="kept"
            )
        )
        kept = (decided.kept, keyed.unkeyed) | "Kept" >> beam.Flatten()
        return StageOutputs(kept=kept, **{DROPPED_TAG: decided[DROPPED_TAG]})


# --- images ----------------------------------------------------------------------------------


def _image_pairs(doc: Document) -> Iterator[tuple[str, str]]:
    for u in image_keys(doc):
        yield u, doc.id


class _BoilerplateFn(beam.DoFn):
    """One image URL and the documents holding it: if more than N, tell each document."""

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages

    def process(self, element: tuple[str, Iterable[str]]) -> Iterator[tuple[str, str]]:
        url, doc_ids = element
        n = 0
        for _ in doc_ids:
            n += 1
            if n > self.max_pages:
                break
        if n > self.max_pages:
            for doc_id in doc_ids:
                yield doc_id, url


class _StripImagesFn(beam.DoFn):
    def __init__(self) -> None:
        self.counters = _Counters()

    def setup(self) -> None:
        self.counters = _Counters()

    def process(self, element) -> Iterator[object]:
        _, grouped = element
        urls = set(grouped["boilerplate"])
        for doc in grouped["doc"]:
            if not urls:
                yield doc
                continue
            had = len(doc.images)
            stripped, removed = without_images(doc, urls)
            if removed:
                self.counters.inc(STAGE_IMAGES, f"{IMAGE_DROPPED}_{BOILERPLATE_IMAGE}", removed)
                yield TaggedOutput(STATS_TAG, ((IMAGE_DROPPED, STAGE_IMAGES, BOILERPLATE_IMAGE),
                                               removed))  # fmt: skip
            if had and not stripped.images:
                self.counters.inc(STAGE_IMAGES, f"dropped_{NO_IMAGES_AFTER_DEDUP}")
                yield TaggedOutput(DROPPED_TAG, Dropped(
                    STAGE_IMAGES, NO_IMAGES_AFTER_DEDUP, stripped.provenance,
                    f"removed={removed}", document=stripped,
                ))  # fmt: skip
            else:
                yield stripped


class RemoveBoilerplateImages(beam.PTransform):
    """Images whose URL is on more than ``max_pages`` documents are removed (OBELICS)."""

    def __init__(self, max_pages: int) -> None:
        super().__init__()
        self.max_pages = max_pages

    def expand(self, docs):
        boiler = (
            docs
            | "ImageUrls" >> beam.FlatMap(_image_pairs)
            | "GroupByImage" >> beam.GroupByKey()
            | "FindBoilerplate" >> beam.ParDo(_BoilerplateFn(self.max_pages))
        )
        by_id = docs | "ById" >> beam.Map(lambda d: (d.id, d))
        out = (
            {"doc": by_id, "boilerplate": boiler}
            | "JoinById" >> beam.CoGroupByKey()
            | "Strip"
            >> beam.ParDo(_StripImagesFn()).with_outputs(DROPPED_TAG, STATS_TAG, main="kept")
        )
        return StageOutputs(kept=out.kept, **{DROPPED_TAG: out[DROPPED_TAG],
                                              STATS_TAG: out[STATS_TAG]})  # fmt: skip


# --- near duplicates -------------------------------------------------------------------------


class _SignatureFn(beam.DoFn):
    def __init__(self, config: DedupConfig) -> None:
        self.config = config
        self.hasher: MinHasher | None = None

    def setup(self) -> None:
        c = self.config
        self.hasher = MinHasher(c.num_perm, c.ngram, c.seed)

    def process(self, doc: Document) -> Iterator[tuple[bytes, tuple[str, bytes]]]:
        sig = near_signature(doc, self.hasher)
        if sig is None:
            return
        rank = rank_key(doc)
        for band in band_keys(sig, self.config.bands, self.config.rows):
            yield band, (rank, sig)


def _bucket_edges(element, threshold: float) -> Iterator[tuple[str, str]]:
    _, members = element
    yield from bucket_edges(members, threshold)


def _undirected(edge: tuple[str, str]) -> Iterator[tuple[str, str]]:
    yield from undirected((edge,))


def _towards_smaller(edge: tuple[str, str]) -> Iterator[tuple[str, str]]:
    yield from towards_smaller((edge,))


def _large_star(element) -> Iterator[tuple[str, str]]:
    u, vs = element
    yield from large_star(u, vs)


def _small_star(element) -> Iterator[tuple[str, str]]:
    u, vs = element
    yield from small_star(u, vs)


class _LabelFn(beam.DoFn):
    """Vertex and its smaller neighbours after the last round -> (doc id, kept doc id).

    In a converged star forest a non-root vertex has exactly one smaller neighbour, the root.
    """

    def process(self, element) -> Iterator[tuple[str, str]]:
        v, smaller = element
        m = min(smaller)
        yield v, m


class _CheckFn(beam.DoFn):
    """A vertex that is both a label (root) and labelled (child) means more rounds were
    needed; counted, logged and reported as a stats event."""

    def __init__(self) -> None:
        self.counters = _Counters()

    def setup(self) -> None:
        self.counters = _Counters()

    def process(self, element) -> Iterator[object]:
        _, roles = element
        roles = set(roles)
        if roles == {"root", "child"}:
            self.counters.inc(STAGE_NEAR, "components_unconverged")
            yield 1


class _RouteNearFn(beam.DoFn):
    def __init__(self) -> None:
        self.counters = _Counters()

    def setup(self) -> None:
        self.counters = _Counters()

    def process(self, element) -> Iterator[object]:
        _, grouped = element
        kept_id = min(grouped["kept"], default=None)
        for doc in grouped["doc"]:
            if kept_id is not None:
                self.counters.inc(STAGE_NEAR, f"dropped_{NEAR_DUPLICATE}")
                yield TaggedOutput(
                    DROPPED_TAG, dropped_duplicate(doc, STAGE_NEAR, NEAR_DUPLICATE, kept_id)
                )
            else:
                yield doc


def _warn_unconverged(n: int, rounds: int) -> None:
    if n:
        log.warning(
            "near-duplicate components did not converge in %d rounds (%d vertices); raise "
            "DedupConfig.max_rounds: some clusters keep more than one document", rounds, n,
        )  # fmt: skip


class DedupNear(beam.PTransform):
    """MinHash + LSH + connected components; one document kept per cluster."""

    def __init__(self, config: DedupConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, docs):
        c = self.config
        edges = (
            docs
            | "Signatures" >> beam.ParDo(_SignatureFn(c))
            | "GroupByBand" >> beam.GroupByKey()
            | "StarEdges" >> beam.FlatMap(_bucket_edges, c.threshold)
            | "DistinctEdges" >> beam.Distinct()
        )
        for i in range(c.max_rounds):
            edges = (
                edges
                | f"LargeStar{i}/Map" >> beam.FlatMap(_undirected)
                | f"LargeStar{i}/Group" >> beam.GroupByKey()
                | f"LargeStar{i}/Reduce" >> beam.FlatMap(_large_star)
                | f"SmallStar{i}/Map" >> beam.FlatMap(_towards_smaller)
                | f"SmallStar{i}/Group" >> beam.GroupByKey()
                | f"SmallStar{i}/Reduce" >> beam.FlatMap(_small_star)
            )
        labels = (
            edges
            | "Labels/Map" >> beam.FlatMap(_towards_smaller)
            | "Labels/Group" >> beam.GroupByKey()
            | "Labels/Min" >> beam.ParDo(_LabelFn())
        )
        _ = (
            labels
            | "Check/Roles" >> beam.FlatMap(lambda e: [(e[0], "child"), (e[1], "root")])
            | "Check/Group" >> beam.GroupByKey()
            | "Check/Violations" >> beam.ParDo(_CheckFn())
            | "Check/Count" >> beam.combiners.Count.Globally()
            | "Check/Warn" >> beam.Map(_warn_unconverged, c.max_rounds)
        )
        drop_ids = labels | "ToDocIds" >> beam.Map(lambda e: (rank_doc_id(e[0]), rank_doc_id(e[1])))
        by_id = docs | "ById" >> beam.Map(lambda d: (d.id, d))
        out = (
            {"doc": by_id, "kept": drop_ids}
            | "JoinById" >> beam.CoGroupByKey()
            | "Route" >> beam.ParDo(_RouteNearFn()).with_outputs(DROPPED_TAG, main="kept")
        )
        return StageOutputs(kept=out.kept, **{DROPPED_TAG: out[DROPPED_TAG]})


# --- the composite ---------------------------------------------------------------------------


class DropDuplicates(beam.PTransform):
    """All enabled deduplication stages, in order: URL, text, images, near duplicates."""

    def __init__(self, config: DedupConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, docs):
        c = self.config
        stages: list[tuple[str, beam.PTransform]] = []
        if c.url:
            stages.append(("Url", DedupExact(url_key, STAGE_URL, DUPLICATE_URL)))
        if c.text:
            stages.append(("Text", DedupExact(text_key, STAGE_TEXT, DUPLICATE_TEXT)))
        if c.images and c.image_url_max_pages > 0:
            stages.append(("BoilerplateImages", RemoveBoilerplateImages(c.image_url_max_pages)))
        if c.images and c.image_sets:
            stages.append(
                ("ImageSets", DedupExact(image_set_key, STAGE_IMAGES, DUPLICATE_IMAGE_SET))
            )
        if c.near:
            stages.append(("Near", DedupNear(c)))
        pipeline = docs.pipeline
        dropped, stats = [], []
        for label, stage in stages:
            r = docs | label >> stage
            docs = r.kept
            dropped.append(r[DROPPED_TAG])
            if STATS_TAG in r:
                stats.append(r[STATS_TAG])
        empty = pipeline | "NoStats" >> beam.Create([])
        return StageOutputs(
            kept=docs,
            **{
                DROPPED_TAG: (dropped or [pipeline | "NoDropped" >> beam.Create([])])
                | "FlattenDropped" >> beam.Flatten(),
                STATS_TAG: [*stats, empty] | "FlattenStats" >> beam.Flatten(),
            },
        )
