"""Uniform, Beam-free steps, and the one contract every stage answers with.

Each step is a small picklable object with ``name`` (the funnel stage), ``setup()`` for heavy
resources (Beam calls it once per DoFn instance), and a call that returns an ``Outcome``:

- kept: ``verdict`` None; ``record`` is the record passed on when it is not the input
  (extraction turns a ``RawPage`` into a ``Document``; a step given a record together with a
  decision, such as deduplication's ``(document, kept id)``, passes the document on), else
  the input goes on;
- dropped: ``verdict`` is a stable snake_case reason; ``record``, when set, is the record
  ``dropped/`` shows (decontamination's cut document, deduplication's document);
- dead letter: ``dead`` is a ``DeadLetter`` (bad input, not filtering);

plus ``counters`` to add to the funnel (images dropped per reason, text nodes removed per
reason, ...) and ``report``: items for a stage's own report (decontamination: the n-grams
matched per task, for ``contamination.json``). The Beam layer (``kosmos_data.beam``) only
routes outcomes, through one transform (``ApplyStep``) or, for the per-archive chain, one
DoFn that runs ``run_steps``; both build their ``Dropped`` with ``dropped_of``. Every
decision lives in the core, testable without a runner: the per-record steps here, the
per-document decisions of deduplication after its grouping (``kosmos_data.dedup.steps``)
and decontamination (``kosmos_data.decontam.DecontamStep``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kosmos_data.decode import DecodeError, decode_html
from kosmos_data.extract import ExtractConfig, ExtractionError, ExtractionTimeout, make_extractor
from kosmos_data.filters.langid import LangIdConfig, LanguageIdentifier
from kosmos_data.filters.quality import QualityConfig, judge
from kosmos_data.funnel import (
    IMAGE_DROPPED,
    IMAGES_KEPT,
    NODE_REMOVED,
    PII_REPLACED,
    confidence_counters,
)
from kosmos_data.prefilter import PrefilterConfig, prefilter
from kosmos_data.records import DeadLetter, Document, Dropped, RawPage, Segment, Verdict
from kosmos_data.safety.optout import OptOutConfig, optout_verdict
from kosmos_data.safety.pii import PiiConfig, redact
from kosmos_data.sampling import SamplingConfig, cap_images, require_images, sample_single_image

#: A counter to add to the funnel: (kind, stage, reason) -> n.
Counter = tuple[str, str, str]


@dataclass(slots=True)
class Outcome:
    """What a step answers for one record: kept, dropped with a reason, or a dead letter."""

    verdict: Verdict = None
    counters: dict[Counter, int] = field(default_factory=dict)
    record: object | None = None  # the record the outcome is about, when not the input
    dead: DeadLetter | None = None
    detail: str = ""  # why, for ``dropped/`` (e.g. the exact opt-out signal)
    report: tuple = ()  # items for the stage's own report (``ApplyStep``'s ``report`` output)

    def kept(self, record: object) -> object | None:
        """The record to pass on, or None when the step dropped or dead-lettered it."""
        if self.dead is not None or self.verdict is not None:
            return None
        return record if self.record is None else self.record


@dataclass(slots=True)
class StepsResult:
    """Where a record ended after a chain of steps (``run_steps``): exactly one of
    ``record`` (kept by every step), ``dropped`` or ``dead`` is set."""

    record: object | None = None
    dropped: Dropped | None = None
    dead: DeadLetter | None = None


def dropped_of(stage: str, record: object, outcome: Outcome) -> Dropped:
    """The ``Dropped`` of a dropped outcome: the stage, the reason and its detail, the
    provenance of the record the outcome is about (``outcome.record`` when set, else the
    step's input), and that record itself when it is a document (for ``dropped/``)."""
    subject = record if outcome.record is None else outcome.record
    doc = subject if isinstance(subject, Document) else None
    return Dropped(stage, outcome.verdict, subject.provenance, outcome.detail, document=doc)


def run_steps(steps: Sequence[object], record: object, counters: dict[Counter, int]) -> StepsResult:
    """Apply ``steps`` in order until one drops or dead-letters the record.

    ``counters`` accumulates every step's funnel counters (the caller sums them per archive
    or per bundle). A dropped record keeps its document (for ``dropped/``) when it had one.
    """
    for step in steps:
        outcome: Outcome = step(record)
        for key, n in outcome.counters.items():
            counters[key] = counters.get(key, 0) + n
        if outcome.dead is not None:
            return StepsResult(dead=outcome.dead)
        if outcome.verdict is not None:
            return StepsResult(dropped=dropped_of(step.name, record, outcome))
        if outcome.record is not None:
            record = outcome.record
    return StepsResult(record=record)


def funnel_stages(stages: Sequence[object]) -> tuple[str, ...]:
    """The funnel stages a job's ordered stages report, in order, each once: a step's
    ``stages`` when it reports more than one (extraction: ``decode``, then ``extract``), else
    its ``name``; a plain string names a stage that is not a step (``read``, ``images``).
    Two steps of one stage (deduplication's boilerplate images and image sets, both
    ``dedup_images``) give one row."""
    names: list[str] = []
    for stage in stages:
        names += [stage] if isinstance(stage, str) else getattr(stage, "stages", (stage.name,))
    return tuple(dict.fromkeys(names))


class PrefilterStep:
    """Byte-level checks before any parsing (status, MIME, size, blocklist, ``<img``)."""

    name = "prefilter"

    def __init__(self, config: PrefilterConfig) -> None:
        self.config = config

    def setup(self) -> None:
        pass

    def __call__(self, page: RawPage) -> Outcome:
        return Outcome(prefilter(page, self.config))


class ExtractStep:
    """Decode the payload's charset, then extract an interleaved document.

    Failures here are bad input, not filtering: they become dead letters with the stage
    (``decode`` or ``extract``) and reason, so the run continues and nothing is lost.
    """

    name = "extract"
    stages = ("decode", "extract")  # decoding failures are dead letters of their own stage

    def __init__(self, config: ExtractConfig) -> None:
        self.config = config
        self._extractor = None

    def setup(self) -> None:
        self._extractor = make_extractor(self.config)

    def __getstate__(self) -> dict[str, object]:
        return {"config": self.config, "_extractor": None}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.config = state["config"]
        self._extractor = None

    def __call__(self, page: RawPage) -> Outcome:
        if self._extractor is None:
            self.setup()
        try:
            html = decode_html(page)
        except DecodeError as e:
            dead = DeadLetter("decode", e.reason, page.provenance, str(e), page.payload[:512])
            return Outcome(dead=dead)
        try:
            doc = _read_flags(self._extractor.extract(html), page)
        except ExtractionTimeout as e:
            return Outcome(
                dead=DeadLetter("extract", "extraction_timeout", page.provenance, str(e))
            )
        except ExtractionError as e:
            return Outcome(dead=DeadLetter("extract", "extraction_error", page.provenance, str(e)))
        except Exception as e:
            msg = f"{type(e).__name__}: {e}"
            return Outcome(dead=DeadLetter("extract", "extractor_crash", page.provenance, msg))
        drops = doc.meta.get("image_drops", {}) or {}
        counters = {(IMAGE_DROPPED, "extract", str(r)): int(n) for r, n in drops.items() if n}
        counters.update(confidence_counters(doc))
        return Outcome(counters=counters, record=doc)


def _read_flags(doc: Document, page: RawPage) -> Document:
    """Keep the reader's judgement calls visible on the document: ``meta["truncated"]`` (the
    payload was cut at the read cap or by WARC-Truncated) and ``meta["read_notes"]``."""
    if page.truncated:
        doc.meta["truncated"] = True
    if page.notes:
        doc.meta["read_notes"] = list(page.notes)
    return doc


class LanguageStep:
    """fastText lid.176 language identification (see ``kosmos_data.filters.langid``)."""

    name = "langid"

    def __init__(self, config: LangIdConfig) -> None:
        self.identifier = LanguageIdentifier(config)

    def setup(self) -> None:
        self.identifier.setup()

    def __call__(self, doc: Document) -> Outcome:
        return Outcome(self.identifier(doc))


class QualityStep:
    """Node-level cleaning, then document-level quality rules (Gopher/C4/OBELICS)."""

    name = "quality"

    def __init__(self, config: QualityConfig) -> None:
        self.config = config

    def setup(self) -> None:
        pass

    def __call__(self, doc: Document) -> Outcome:
        verdict, removed = judge(doc, self.config)
        counters = {(NODE_REMOVED, self.name, r): n for r, n in removed.items() if n}
        return Outcome(verdict, counters)


class SamplingStep:
    """KOSMOS-1 rules: at most N images (first in reading order), at least one image, and a
    seeded, URL-keyed random half of single-image documents dropped."""

    name = "sampling"

    def __init__(self, config: SamplingConfig) -> None:
        self.config = config

    def setup(self) -> None:
        pass

    def __call__(self, doc: Document) -> Outcome:
        counters: dict[Counter, int] = {}
        capped = cap_images(doc, self.config)
        if capped:
            counters[(IMAGE_DROPPED, self.name, "over_max_images")] = capped
        verdict = require_images(doc, self.config) or sample_single_image(doc, self.config)
        if verdict is None:
            counters[(IMAGES_KEPT, self.name, "")] = len(doc.images)
        return Outcome(verdict, counters)


class OptOutStep:
    """Page-level AI opt-outs from the archived response, before extraction and any fetch
    (``kosmos_data.safety.optout``: X-Robots-Tag, robots ``<meta>``, TDMRep)."""

    name = "optout"

    def __init__(self, config: OptOutConfig) -> None:
        self.config = config

    def setup(self) -> None:
        pass

    def __call__(self, page: RawPage) -> Outcome:
        found = optout_verdict(page, self.config)
        return Outcome(None) if found is None else Outcome(found.reason, detail=found.detail)


class PiiStep:
    """E-mail addresses, IP addresses and phone numbers in kept text (and alt text)
    replaced by fixed placeholders (``kosmos_data.safety.pii``); never drops."""

    name = "pii"

    def __init__(self, config: PiiConfig) -> None:
        self.config = config

    def setup(self) -> None:
        pass

    def __call__(self, doc: Document) -> Outcome:
        totals: dict[str, int] = {}
        segments = []
        for seg in doc.segments:
            if seg.text:
                text, counts = redact(seg.text, self.config)
                seg = Segment(text=text) if text != seg.text else seg
            elif seg.image is not None and seg.image.alt:
                alt, counts = redact(seg.image.alt, self.config)
                if alt != seg.image.alt:
                    seg.image.alt = alt
            else:
                counts = {}
            for kind, n in counts.items():
                totals[kind] = totals.get(kind, 0) + n
            segments.append(seg)
        doc.segments = segments
        return Outcome(None, {(PII_REPLACED, self.name, k): n for k, n in totals.items() if n})


def interleaved_steps(config) -> tuple:
    """The interleaved job's per-page chain, in order; ``config`` is any object with the
    stage sections ``prefilter``, ``optout``, ``extract``, ``langid``, ``quality``,
    ``sampling`` and ``pii`` (the job's ``InterleavedConfig``, ``inspect``'s config).

    Cheapest decisive check first, as in the pre-filter: sampling (at least one image, the
    seeded half of one-image documents) needs only the extracted images and the URL, and
    drops about a third of extracted pages, so it runs before language identification and
    the quality rules, which never touch images. Every step is a pure predicate of the
    document (plus in-place edits that the later steps do not depend on: the image cap,
    the removed text nodes), so the documents kept are the same in any order; only the
    stage a page that fails several checks is counted under changes."""
    return (
        PrefilterStep(config.prefilter),
        OptOutStep(config.optout),
        ExtractStep(config.extract),
        SamplingStep(config.sampling),
        LanguageStep(config.langid),
        QualityStep(config.quality),
        PiiStep(config.pii),
    )
