"""Decontamination against downstream evaluation tasks (Beam-free core).

KOSMOS-1 evaluates on HellaSwag, PIQA, BoolQ, COPA, CB, Winogrande, ARC, OpenBookQA (and
captioning/VQA sets); pages that contain their test items must not be trained on. A document
*matches* a task when one of its normalised word n-grams (13 by default) is in the task index
(``index``). Policy per run (``DecontamConfig.policy``):

* ``drop`` (default): the document is dropped, reason ``contaminated``;
* ``cut``: every matched span, widened by ``margin_chars`` on each side (GPT-3 removed "a
  200 character window around" each match, Brown et al. 2020 appendix C), is cut out of the
  text; the rest is kept if it still passes the quality filters, else dropped with reason
  ``contaminated_after_cut`` (the failing rule in ``Dropped.detail``).

When no task files are given the stage is skipped, and the funnel says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kosmos_data.decontam.index import Matches, TaskIndex
from kosmos_data.decontam.loaders import load_tasks
from kosmos_data.decontam.normalize import hashes_of_words, tokens_with_spans, word_hashes, words
from kosmos_data.records import Document, Segment

STAGE = "decontam"
CONTAMINATED = "contaminated"
CONTAMINATED_AFTER_CUT = "contaminated_after_cut"
POLICIES = ("drop", "cut")


@dataclass(frozen=True, slots=True)
class DecontamConfig:
    """``tasks``: task specs (``loaders``). ``index_path``: a prebuilt index (``.npz`` from
    ``TaskIndex.to_bytes``), which the launcher writes once so workers do not rebuild it.
    Other fields: see the module docstrings of ``decontam`` and ``decontam.index``."""

    tasks: tuple[str, ...] = ()
    index_path: str = ""
    ngram: int = 13
    min_words: int = 8
    max_item_frequency: int = 10
    policy: str = "drop"
    margin_chars: int = 200

    def __post_init__(self) -> None:
        for name in ("ngram", "min_words", "max_item_frequency"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"DecontamConfig.{name} must be an int >= 1, got {v!r}")
        if self.min_words > self.ngram:
            raise ValueError(
                f"DecontamConfig.min_words ({self.min_words}) must be <= ngram ({self.ngram})"
            )
        if self.policy not in POLICIES:
            raise ValueError(
                f"DecontamConfig.policy must be one of {POLICIES}, got {self.policy!r}"
            )
        if not isinstance(self.margin_chars, int) or self.margin_chars < 0:
            raise ValueError("DecontamConfig.margin_chars must be an int >= 0")
        if isinstance(self.tasks, str):
            raise ValueError("DecontamConfig.tasks must be a list of task specs, not a string")

    @property
    def enabled(self) -> bool:
        return bool(self.tasks or self.index_path)


def build_index(config: DecontamConfig) -> TaskIndex:
    """Load every task spec and build the index (or read ``index_path``)."""
    if config.index_path:
        with open(config.index_path, "rb") as f:
            return TaskIndex.from_bytes(f.read())
    sets = [ts for spec in config.tasks for ts in load_tasks(spec)]
    return TaskIndex.build(sets, config.ngram, config.min_words, config.max_item_frequency)


@dataclass
class Verdict:
    """What decontamination decided for one document."""

    reason: str | None  # None: keep ``document``
    document: Document
    matched: dict[str, list[str]] = field(default_factory=dict)  # task -> matched n-grams
    cut: bool = False
    detail: str = ""


def _ngram_texts(ws: list[str], m: Matches, tasks: list[str]) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for s, n, t in zip(m.starts.tolist(), m.lengths.tolist(), m.tasks.tolist(), strict=True):
        out.setdefault(tasks[t], set()).add(" ".join(ws[s : s + n]))
    return {t: sorted(g) for t, g in sorted(out.items())}


def _cut(doc: Document, index: TaskIndex, margin: int) -> Document | None:
    """``doc`` with matched spans (+ margin) removed, or None when the slow tokeniser finds no
    match (then the caller drops the document: never keep a document known to match)."""
    texts = [s.text for s in doc.segments]
    toks = tokens_with_spans(texts)
    ws = [t.word for t in toks]
    m = index.match_word_hashes(hashes_of_words(ws))
    if not len(m):
        return None
    spans: dict[int, list[tuple[int, int]]] = {}
    for s, n in zip(m.starts.tolist(), m.lengths.tolist(), strict=True):
        for t in toks[s : s + n]:
            spans.setdefault(t.segment, []).append((t.start, t.end))
    segments = []
    for si, seg in enumerate(doc.segments):
        if seg.text is None or si not in spans:
            segments.append(seg)
            continue
        keep = np.ones(len(seg.text), dtype=bool)
        for a, b in spans[si]:
            keep[max(0, a - margin) : b + margin] = False
        kept_text = "".join(
            seg.text[i] for i in np.flatnonzero(keep)
        ) if keep.any() else ""  # fmt: skip
        if kept_text.strip():
            segments.append(Segment(text=kept_text.strip()))
    meta = dict(doc.meta)
    meta["decontam"] = {"cut_tasks": sorted({index.tasks[t] for t in m.tasks.tolist()})}
    return Document(doc.id, doc.provenance, segments, doc.extractor, meta)


class Decontaminator:
    """The per-document decision; the index is built or loaded in ``setup()`` (once per
    worker) and never pickled with the step."""

    name = STAGE

    def __init__(
        self,
        config: DecontamConfig,
        refilter: Callable[[Document], str | None] | None = None,
        index: TaskIndex | None = None,
    ) -> None:
        self.config = config
        self.refilter = refilter
        self.index = index

    def __getstate__(self) -> dict:
        return {"config": self.config, "refilter": self.refilter, "index": None}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["config"], state["refilter"], None)

    def setup(self) -> None:
        if self.index is None:
            self.index = build_index(self.config)

    def __call__(self, doc: Document) -> Verdict:
        if self.index is None:
            self.setup()
        index = self.index
        text = doc.text
        wh = word_hashes(text)
        m = index.match_word_hashes(wh)
        if not len(m):
            return Verdict(None, doc)
        matched = _ngram_texts(words(text), m, index.tasks)
        new_doc = None
        if self.config.policy == "cut":
            new_doc = _cut(doc, index, self.config.margin_chars)
        if new_doc is None:
            return Verdict(CONTAMINATED, doc, matched, detail="tasks=" + ",".join(matched))
        if not any(s.text for s in new_doc.segments):
            return Verdict(CONTAMINATED_AFTER_CUT, doc, matched, detail="no_text_left")
        reason = self.refilter(new_doc) if self.refilter is not None else None
        if reason is not None:
            return Verdict(CONTAMINATED_AFTER_CUT, new_doc, matched, detail=reason)
        return Verdict(None, new_doc, matched, cut=True)


class QualityRefilter:
    """``Document -> reason | None``: the quality filters again, for documents after a cut."""

    def __init__(self, config) -> None:
        self.config = config

    def __call__(self, doc: Document) -> str | None:
        from kosmos_data.filters.quality import judge

        verdict, _ = judge(doc, self.config)
        return verdict
