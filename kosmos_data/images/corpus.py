"""Corpus-level image decisions (Beam-free): exact and perceptual dedup, decontamination,
and rebuilding documents from per-image outcomes.

The unit of dedup is an image **occurrence**, ``(doc_id, position)``: the same picture
(same bytes, or pHash within the threshold) is kept once in the whole corpus, at its first
occurrence in ``(doc_id, position)`` order, and removed everywhere else — from other
documents under the same URL (a site's author photo on every article), under other URLs
(CDN copies), and as near-copies (re-encodes, resizes). The order is a pure function of
document ids, so every runner and rerun keeps the same occurrence.

Near duplicates: ``X`` is dropped when some other kept-after-exact-dedup image ``Y`` with an
earlier first occurrence is within ``threshold`` bits (not transitive on purpose: a chain
A~B~C with A!~C drops B and C, which is deterministic and errs towards removing).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from kosmos_data.funnel import IMAGE_DROPPED, IMAGES_KEPT
from kosmos_data.images.phash import EvalIndex, from_hex, hamming
from kosmos_data.records import Document, FetchedImage, Segment
from kosmos_data.safety.images import NSFW_DOCUMENT
from kosmos_data.stages import Outcome

Occurrence = tuple[str, int]  # (document id, segment position)

OK = "ok"
DUPLICATE_SHA256 = "duplicate_sha256"
DUPLICATE_PHASH = "duplicate_phash"
DECONTAMINATED = "decontaminated"
NO_IMAGES_AFTER_FETCH = "no_images_after_fetch"
STAGE = "images"


@dataclass(slots=True)
class UrlResult:
    """One distinct image URL after fetching: the image, where it occurs, and its verdict."""

    url: str
    image: FetchedImage
    occurrences: list[Occurrence]
    verdict: str  # ok, a fetch/filter reason, or decontaminated
    reused: bool = False  # taken from a previous run's image_status
    detail: str = ""

    @property
    def first(self) -> Occurrence:
        return min(self.occurrences)


@dataclass(slots=True)
class OccurrenceOutcome:
    """The decision for one occurrence; ``image`` is set only for kept ones."""

    url: str
    doc_id: str
    position: int
    verdict: str
    image: FetchedImage | None = None
    detail: str = ""
    #: the image's NSFW score whatever the verdict (the document rule needs it for dropped
    #: ``nsfw_image`` occurrences too); None: not scored.
    nsfw_score: float | None = None


def decontaminate(result: UrlResult, index: EvalIndex | None) -> UrlResult:
    """Mark an ok image whose pHash is within the index threshold of an evaluation image."""
    if index is None or result.verdict != OK or not result.image.phash:
        return result
    match = index.match(from_hex(result.image.phash))
    if match is not None:
        result.verdict = DECONTAMINATED
        result.detail = f"eval image {match[0]} at distance {match[1]}"
    return result


def exact_dedup(group: list[UrlResult]) -> tuple[UrlResult, list[OccurrenceOutcome]]:
    """Results sharing one sha256 -> (the representative, kept at its first occurrence only;
    the outcomes of every other occurrence: ``duplicate_sha256``)."""
    ordered = sorted(group, key=lambda r: (r.first, r.url))
    rep = ordered[0]
    keep = rep.first
    dropped = []
    for r in ordered:
        for occ in sorted(set(r.occurrences)):
            if r is rep and occ == keep:
                continue
            detail = f"same bytes as {rep.url} in {keep[0]}"
            dropped.append(OccurrenceOutcome(r.url, occ[0], occ[1], DUPLICATE_SHA256, None, detail))
    rep = dataclasses.replace(rep, occurrences=[keep])
    return rep, dropped


def near_duplicates(
    bucket: list[tuple[Occurrence, str, str]], threshold: int
) -> list[tuple[str, str]]:
    """(url, earlier url) for items of one pHash band bucket ``(first occurrence, phash hex,
    url)`` that lie within ``threshold`` bits of an item with an earlier first occurrence."""
    items = sorted(bucket)
    hashes = [from_hex(h) for _, h, _ in items]
    out = []
    for i in range(1, len(items)):
        for j in range(i):
            if hamming(hashes[i], hashes[j]) <= threshold:
                out.append((items[i][2], items[j][2]))
                break
    return out


@dataclass(slots=True)
class Rebuilt:
    document: Document
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    #: (url, score) of the highest-scoring image above the document threshold, if any:
    #: the document is then dropped whole (``nsfw_document``, OBELICS' rule).
    nsfw: tuple[str, float] | None = None


def rebuild_document(
    doc: Document, outcomes: list[OccurrenceOutcome], nsfw_document_threshold: float = 1.0
) -> Rebuilt:
    """The document with kept images attached (``ImageRef.fetched``) and the others removed,
    in the original order. Every image segment must have an outcome. ``nsfw`` is set when
    any of its images scored above ``nsfw_document_threshold``."""
    by_pos = {o.position: o for o in outcomes}
    segments: list[Segment] = []
    out = Rebuilt(doc)
    for pos, seg in enumerate(doc.segments):
        if seg.image is None:
            segments.append(seg)
            continue
        o = by_pos.get(pos)
        if o is None:
            raise ValueError(f"document {doc.id}: no image outcome for position {pos}")
        score = o.nsfw_score if o.image is None else o.image.nsfw_score
        above = score is not None and score > nsfw_document_threshold
        if above and (out.nsfw is None or score > out.nsfw[1]):
            out.nsfw = (o.url, score)
        if o.verdict == OK and o.image is not None:
            segments.append(Segment(image=dataclasses.replace(seg.image, fetched=o.image)))
            out.kept += 1
        else:
            out.dropped[o.verdict] = out.dropped.get(o.verdict, 0) + 1
    meta = dict(doc.meta)
    meta["images"] = {"kept": out.kept, "dropped": dict(sorted(out.dropped.items()))}
    out.document = dataclasses.replace(doc, segments=segments, meta=meta)
    return out


class RebuildStep:
    """The image stage's per-document decision, after its fetch and corpus-level dedup:
    ``(document, its images' outcomes)`` -> the document with its kept images attached
    (``rebuild_document``; counted ``images_kept`` and ``image_dropped`` per reason), or
    dropped whole: ``nsfw_document`` when an image scored above ``nsfw_document_threshold``
    (OBELICS' rule), ``no_images_after_fetch`` when none was kept. A document that arrives
    without images passes untouched."""

    name = STAGE

    def __init__(self, nsfw_document_threshold: float = 1.0) -> None:
        self.nsfw_document_threshold = nsfw_document_threshold

    def setup(self) -> None:
        pass

    def __call__(self, element: tuple[Document, list[OccurrenceOutcome]]) -> Outcome:
        doc, outcomes = element
        if not doc.images:
            return Outcome(record=doc)
        rebuilt = rebuild_document(doc, outcomes, self.nsfw_document_threshold)
        counters = {(IMAGE_DROPPED, STAGE, r): n for r, n in sorted(rebuilt.dropped.items())}
        if rebuilt.nsfw is not None:
            url, score = rebuilt.nsfw
            detail = f"image {url} nsfw score {score} > {self.nsfw_document_threshold}"
            return Outcome(NSFW_DOCUMENT, counters, record=doc, detail=detail)
        if rebuilt.kept:
            counters[(IMAGES_KEPT, STAGE, "")] = rebuilt.kept
            return Outcome(counters=counters, record=rebuilt.document)
        detail = ", ".join(f"{r}={n}" for r, n in sorted(rebuilt.dropped.items()))
        return Outcome(NO_IMAGES_AFTER_FETCH, counters, record=doc, detail=detail)
