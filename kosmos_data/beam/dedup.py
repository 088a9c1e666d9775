"""``DropDuplicates``: the deduplication stages (``kosmos_data.dedup``) as Beam transforms.

Nothing is ever collected on one worker: exact duplicates are a GroupByKey on the key (URL,
text hash, image-set hash) whose reducer streams the group twice (find the minimum rank, then
route); boilerplate images are a GroupByKey on the image URL joined back to documents by id
(CoGroupByKey); near duplicates are MinHash signatures -> a GroupByKey per LSH band -> star
edges verified on the signatures -> connected components by alternating Large-Star /
Small-Star rounds (a fixed number unrolled in the graph, each a GroupByKey on a vertex) ->
labels joined back to documents by id. Per-key groups are only ever iterated, never copied,
so runners that page large groups (Dataflow) keep memory bounded.

The transforms here only group; each document's decision is a core step
(``kosmos_data.dedup.steps``: ``(document, kept id)`` or ``(document, boilerplate URLs)`` ->
``Outcome``) routed by ``ApplyStep`` like every other stage, which counts
``dropped_<reason>`` in the stage's metrics namespace and emits the ``Dropped``. Each
transform returns a dict ``{"kept", DROPPED_TAG, STATS_TAG}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from kosmos_data.beam.transforms import DROPPED_TAG, STATS_TAG, ApplyStep, _Counters
from kosmos_data.dedup import (
    DUPLICATE_IMAGE_SET,
    DUPLICATE_TEXT,
    DUPLICATE_URL,
    NEAR_DUPLICATE,
    NO_IMAGES_AFTER_DEDUP,
    STAGE_NEAR,
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
from kosmos_data.dedup.images import image_keys
from kosmos_data.dedup.local import near_signature
from kosmos_data.dedup.lsh import band_keys
from kosmos_data.dedup.minhash import MinHasher
from kosmos_data.dedup.steps import (
    BoilerplateImagesStep,
    DuplicateStep,
    dedup_steps,
    keep_min_rank,
)
from kosmos_data.records import Document

log = logging.getLogger(__name__)


def _outputs(kept, dropped, stats) -> dict:
    return {"kept": kept, DROPPED_TAG: dropped, STATS_TAG: stats}


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


def _keep_min_rank(element) -> Iterator[tuple[Document, str | None]]:
    _, members = element
    yield from keep_min_rank(members)


class DedupExact(beam.PTransform):
    """Documents with equal ``step.key`` -> one kept (rank rule, ``keep_min_rank``), the
    others dropped by ``step``; documents without a key pass."""

    def __init__(self, step: DuplicateStep) -> None:
        super().__init__()
        self.step = step

    def expand(self, docs):
        keyed = docs | "Key" >> beam.ParDo(_KeyFn(self.step.key)).with_outputs(
            "unkeyed", main="keyed"
        )
        routed = (
            keyed.keyed
            | "GroupByKey" >> beam.GroupByKey()
            | "KeepOne" >> beam.FlatMap(_keep_min_rank)
            | "Route" >> ApplyStep(self.step)
        )
        kept = (routed.kept, keyed.unkeyed) | "Kept" >> beam.Flatten()
        return _outputs(kept, routed[DROPPED_TAG], routed[STATS_TAG])


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


def _with_boilerplate(element) -> Iterator[tuple[Document, list[str]]]:
    _, grouped = element
    urls = list(grouped["boilerplate"])
    for doc in grouped["doc"]:
        yield doc, urls


class RemoveBoilerplateImages(beam.PTransform):
    """Images whose URL is on more than ``step.max_pages`` documents are removed (OBELICS)."""

    def __init__(self, step: BoilerplateImagesStep) -> None:
        super().__init__()
        self.step = step

    def expand(self, docs):
        boiler = (
            docs
            | "ImageUrls" >> beam.FlatMap(_image_pairs)
            | "GroupByImage" >> beam.GroupByKey()
            | "FindBoilerplate" >> beam.ParDo(_BoilerplateFn(self.step.max_pages))
        )
        by_id = docs | "ById" >> beam.Map(lambda d: (d.id, d))
        out = (
            {"doc": by_id, "boilerplate": boiler}
            | "JoinById" >> beam.CoGroupByKey()
            | "WithBoilerplate" >> beam.FlatMap(_with_boilerplate)
            | "Strip" >> ApplyStep(self.step)
        )
        return _outputs(out.kept, out[DROPPED_TAG], out[STATS_TAG])


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


def _with_kept_id(element) -> Iterator[tuple[Document, str | None]]:
    _, grouped = element
    kept_id = min(grouped["kept"], default=None)
    for doc in grouped["doc"]:
        yield doc, kept_id


def _warn_unconverged(n: int, rounds: int) -> None:
    if n:
        log.warning(
            "near-duplicate components did not converge in %d rounds (%d vertices); raise "
            "DedupConfig.max_rounds: some clusters keep more than one document", rounds, n,
        )  # fmt: skip


class DedupNear(beam.PTransform):
    """MinHash + LSH + connected components; one document kept per cluster (``step``
    drops the others)."""

    def __init__(self, config: DedupConfig, step: DuplicateStep) -> None:
        super().__init__()
        self.config = config
        self.step = step

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
            | "WithKeptId" >> beam.FlatMap(_with_kept_id)
            | "Route" >> ApplyStep(self.step)
        )
        return _outputs(out.kept, out[DROPPED_TAG], out[STATS_TAG])


# --- the composite ---------------------------------------------------------------------------


#: Stable labels of the stages (``dedup_steps`` order), by the step's reason.
_LABELS = {
    DUPLICATE_URL: "Url",
    DUPLICATE_TEXT: "Text",
    NO_IMAGES_AFTER_DEDUP: "BoilerplateImages",
    DUPLICATE_IMAGE_SET: "ImageSets",
    NEAR_DUPLICATE: "Near",
}


def _transform(step, config: DedupConfig) -> tuple[str, beam.PTransform]:
    if isinstance(step, BoilerplateImagesStep):
        return _LABELS[NO_IMAGES_AFTER_DEDUP], RemoveBoilerplateImages(step)
    if step.key is None:
        return _LABELS[step.reason], DedupNear(config, step)
    return _LABELS[step.reason], DedupExact(step)


class DropDuplicates(beam.PTransform):
    """All enabled deduplication stages, in order (``dedup_steps``): URL, text, images,
    near duplicates."""

    def __init__(self, config: DedupConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, docs):
        pipeline = docs.pipeline
        dropped, stats = [], []
        for step in dedup_steps(self.config):
            label, stage = _transform(step, self.config)
            r = docs | label >> stage
            docs = r["kept"]
            dropped.append(r[DROPPED_TAG])
            stats.append(r[STATS_TAG])
        empty = pipeline | "NoStats" >> beam.Create([])
        return {
            "kept": docs,
            DROPPED_TAG: (dropped or [pipeline | "NoDropped" >> beam.Create([])])
            | "FlattenDropped" >> beam.Flatten(),
            STATS_TAG: [*stats, empty] | "FlattenStats" >> beam.Flatten(),
        }
