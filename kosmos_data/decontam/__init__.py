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
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from kosmos_data.decontam.index import Matches, TaskIndex
from kosmos_data.decontam.loaders import load_tasks
from kosmos_data.decontam.normalize import hashes_of_words, tokens_with_spans, word_hashes, words
from kosmos_data.records import Document, Segment
from kosmos_data.stages import Outcome

STAGE = "decontam"
CONTAMINATED = "contaminated"
CONTAMINATED_AFTER_CUT = "contaminated_after_cut"
POLICIES = ("drop", "cut")
#: Funnel counter of a document kept after a cut (Beam counter ``decontam/documents_cut``).
CUT_COUNTER = ("documents_cut", STAGE, "")


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


def _open_local(path: str) -> BinaryIO:
    return open(path, "rb")


def build_index(
    config: DecontamConfig, opener: Callable[[str], BinaryIO] = _open_local
) -> TaskIndex:
    """Load every task spec and build the index (or read ``index_path`` through ``opener``:
    local files by default; the Beam layer passes ``FileSystems.open`` for ``gs://``)."""
    if config.index_path:
        with opener(config.index_path) as f:
            return TaskIndex.from_bytes(f.read())
    sets = [ts for spec in config.tasks for ts in load_tasks(spec)]
    return TaskIndex.build(sets, config.ngram, config.min_words, config.max_item_frequency)


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


class DecontamStep:
    """Decontamination as a per-document step: clean documents are kept; matching ones are
    dropped (``contaminated``) or, with the ``cut`` policy, kept with the matched spans cut
    out (``record``: the cut document; counted ``documents_cut``), or dropped
    (``contaminated_after_cut``) when the cut leaves no text or fails ``refilter``.

    ``Outcome.report`` holds ``(task, (matched n-grams, url))`` per matched task, for
    ``contamination.json`` (``report.TaskReport``). The index is built or read in
    ``setup()`` (once per worker) and never pickled with the step.
    """

    name = STAGE

    def __init__(
        self,
        config: DecontamConfig,
        refilter: Callable[[Document], str | None] | None = None,
        index: TaskIndex | None = None,
        opener: Callable[[str], BinaryIO] = _open_local,
    ) -> None:
        self.config = config
        self.refilter = refilter
        self.index = index
        self.opener = opener

    def __getstate__(self) -> dict:
        return {"config": self.config, "refilter": self.refilter, "opener": self.opener}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["config"], state["refilter"], None, state["opener"])

    def setup(self) -> None:
        if self.index is None:
            self.index = build_index(self.config, self.opener)

    def __call__(self, doc: Document) -> Outcome:
        if self.index is None:
            self.setup()
        index = self.index
        text = doc.text
        m = index.match_word_hashes(word_hashes(text))
        if not len(m):
            return Outcome()
        matched = _ngram_texts(words(text), m, index.tasks)
        report = tuple((task, (ngrams, doc.provenance.url)) for task, ngrams in matched.items())
        new_doc = None
        if self.config.policy == "cut":
            new_doc = _cut(doc, index, self.config.margin_chars)
        if new_doc is None:
            return Outcome(CONTAMINATED, detail="tasks=" + ",".join(matched), report=report)
        if not any(s.text for s in new_doc.segments):
            return Outcome(CONTAMINATED_AFTER_CUT, detail="no_text_left", report=report)
        reason = self.refilter(new_doc) if self.refilter is not None else None
        if reason is not None:
            return Outcome(CONTAMINATED_AFTER_CUT, record=new_doc, detail=reason, report=report)
        return Outcome(counters={CUT_COUNTER: 1}, record=new_doc, report=report)


class QualityRefilter:
    """``Document -> reason | None``: the quality filters again, for documents after a cut."""

    def __init__(self, config) -> None:
        self.config = config

    def __call__(self, doc: Document) -> str | None:
        from kosmos_data.filters.quality import judge

        verdict, _ = judge(doc, self.config)
        return verdict
