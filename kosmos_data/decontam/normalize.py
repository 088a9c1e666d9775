"""Normalisation for decontamination: the same word normalisation as deduplication.

Case (Unicode case folding), punctuation (deleted: words are separated by whitespace only)
and Unicode folding (NFKD with combining marks removed: "naïve" == "naive", "ﬁ" == "fi") — the
normalisation GPT-3 (Brown et al. 2020, appendix C) applies before matching 13-grams against
benchmark text. Implemented once, in ``kosmos_data.dedup.text``, so a document's n-grams hash
the same way in both stages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kosmos_data.dedup.text import (
    ngram_hashes,
    normalize_bytes,
    normalize_text,
    word_hashes,
    word_hashes_from_bytes,
    words,
)

__all__ = [
    "Token",
    "ngram_hashes",
    "normalize_bytes",
    "normalize_text",
    "tokens_with_spans",
    "word_hashes",
    "word_hashes_from_bytes",
    "words",
]

# A whitespace/dash-separated token: ``normalize_bytes`` turns it into zero or one word.
_TOKEN = re.compile(r"[^\s\u2010-\u2015\u2212]+")


@dataclass(frozen=True, slots=True)
class Token:
    """A normalised word and where it came from in the original text."""

    word: str
    segment: int
    start: int
    end: int


def tokens_with_spans(texts: list[str | None]) -> list[Token]:
    """Normalised words of several texts with their character spans (the slow path used only
    to cut matched spans out of a document)."""
    out = []
    for si, text in enumerate(texts):
        if not text:
            continue
        for m in _TOKEN.finditer(text):
            for w in normalize_bytes(m.group(0)).decode("utf-8").split():
                out.append(Token(w, si, m.start(), m.end()))
    return out


def hashes_of_words(ws: list[str]) -> np.ndarray:
    """Word hashes of already-normalised words (same values as ``word_hashes``)."""
    return word_hashes_from_bytes(" ".join(ws).encode("utf-8"))
