"""Text normalisation and process-independent word / n-gram hashing, vectorised with numpy.

Deduplication (MinHash shingles, exact text hashes) and decontamination (13-gram index) both
compare documents by their *normalised words*: Unicode compatibility-folded (NFKD, combining
marks removed, so "café" == "cafe" and "ﬁ" == "fi"), case-folded, with whitespace (and
Unicode dashes) as the only word separator and every other punctuation mark or symbol
deleted ("you're" == "youre", "U.S." == "US", "Hello, world!" == "hello world"). This is
the normalisation GPT-3 (Brown et al. 2020, appendix C) and NeMo Curator's task
decontamination apply before matching n-grams, and what MinHash deduplication pipelines
(Lee et al. 2022, "Deduplicating Training Data Makes Language Models Better"; text-dedup)
shingle.

Hashing must give the same value in every worker process, so Python's salted ``hash()`` is
out; calling a hash function per word or per shingle from Python is the slow part of most
MinHash implementations (``datasketch`` builds a string and calls its hash per shingle). Here
the normalised text is one ``bytes`` object, and every word's hash comes from prefix sums of a
polynomial hash over its bytes (mod 2**64, with the modular inverse of the odd base to shift
each word to position 0) — a handful of numpy passes over the bytes, with no per-word Python
call. Word hashes combine into n-gram hashes with another polynomial step and the SplitMix64
finaliser (Steele et al. 2014). Polynomial hashes mod 2**64 can be made to collide by crafted
strings thousands of bytes long (Thue–Morse); words are short, and the n-gram step mixes.

ASCII text (most of an English corpus) takes a ``bytes.translate`` fast path; other text goes
through ``unicodedata`` and one regex.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

_U64 = np.uint64
_BASE = _U64(0x100000001B3)  # FNV-64 prime: odd, so invertible mod 2**64
_BASE_INV = _U64(pow(int(_BASE), -1, 1 << 64))
_NGRAM_MULT = _U64(0x9E3779B97F4A7C15)  # golden-ratio constant, odd

# Words are separated by whitespace (and Unicode dashes); every other non-word character —
# punctuation, apostrophes, hyphens, symbols — is *deleted*, so "you're" == "youre",
# "U.S." == "US", "2-Hz" == "2Hz" and "Hello, world" == "hello world": pages drop or add
# punctuation far more often than they add or remove spaces.
_ASCII_TABLE = bytes(
    c + 32 if 65 <= c <= 90 else (32 if c in b" \t\n\r\x0b\x0c" else c) for c in range(256)
)
_ASCII_DELETE = bytes(
    c
    for c in range(128)
    if not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122) and c not in b" \t\n\r\x0b\x0c"
)
_SEPARATORS = re.compile(r"[\s\u2010-\u2015\u2212]+")
_DELETE = re.compile(r"[^\w\s\u2010-\u2015\u2212]+|_+")
# Combining marks left by NFKD (diacritics): the main Unicode blocks of them.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def _normalize_unicode(text: str) -> str:
    """The general path: NFKD, combining marks and punctuation deleted, case-folded,
    separator runs -> one space."""
    t = unicodedata.normalize("NFKD", text)
    t = _DELETE.sub("", _COMBINING.sub("", t)).casefold()
    return _SEPARATORS.sub(" ", t)


#: Non-ASCII character -> its normalised ASCII form ("’" -> "", "\u00a0" -> " ", "é" -> "e"),
#: or None when it has none (CJK, Cyrillic, ...); filled on first sight.
_FOLD: dict[str, str | None] = {}
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _fold_char(m: re.Match) -> str:
    c = m.group()
    try:
        r = _FOLD[c]
    except KeyError:
        r = _normalize_unicode(c)
        r = _FOLD[c] = r if r.isascii() else None
    return c if r is None else r


def normalize_bytes(text: str) -> bytes:
    """Normalised text as UTF-8 bytes: folded, case-folded words separated by spaces.

    Separators may repeat; consumers split on runs of spaces.

    Every step of the general path is per character (NFKD only reorders combining marks,
    which are all deleted), so a text whose non-ASCII characters all fold to ASCII (curly
    quotes, dashes, no-break spaces, accented Latin letters: most English and Western
    European pages) takes the ASCII path after folding just those characters: 2.4-3x faster
    on the extraction-dev gold texts, the same words (``tests/dedup/test_text.py``).
    """
    if not text.isascii():
        folded = _NON_ASCII.sub(_fold_char, text)
        if not folded.isascii():
            return _normalize_unicode(text).encode("utf-8")
        text = folded
    return text.encode("ascii").translate(_ASCII_TABLE, _ASCII_DELETE)


def normalize_text(text: str) -> str:
    """Normalised words joined by single spaces (for exact-text hashes and reports)."""
    return b" ".join(normalize_bytes(text).split()).decode("utf-8")


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (slow path: reports, span cutting, tests)."""
    return normalize_bytes(text).decode("utf-8").split()


def text_hash(text: str) -> str:
    """Hex blake2b of the normalised text: equal for texts differing only in case,
    punctuation, whitespace or diacritics (the exact-duplicate key)."""
    return hashlib.blake2b(normalize_text(text).encode("utf-8"), digest_size=16).hexdigest()


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser, in place on a uint64 array (wrapping arithmetic)."""
    x ^= x >> _U64(30)
    x *= _U64(0xBF58476D1CE4E5B9)
    x ^= x >> _U64(27)
    x *= _U64(0x94D049BB133111EB)
    x ^= x >> _U64(31)
    return x


class _Powers:
    """BASE**i and BASE**-i (mod 2**64) for i < n, grown on demand and shared."""

    pow = np.ones(1, dtype=np.uint64)
    inv = np.ones(1, dtype=np.uint64)

    @classmethod
    def upto(cls, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(cls.pow) < n:
            size = max(n, 2 * len(cls.pow), 4096)
            p = np.full(size, _BASE, dtype=np.uint64)
            p[0] = 1
            q = np.full(size, _BASE_INV, dtype=np.uint64)
            q[0] = 1
            with np.errstate(over="ignore"):
                cls.pow = np.cumprod(p, dtype=np.uint64)
                cls.inv = np.cumprod(q, dtype=np.uint64)
        return cls.pow[:n], cls.inv[:n]


def word_hashes_from_bytes(b: bytes) -> np.ndarray:
    """One uint64 per word of normalised bytes (words = runs of non-space bytes).

    ``sum((byte + 1) * BASE**j)`` over the word's bytes, computed for all words at once with
    ``np.add.reduceat`` (separator bytes weigh zero) and shifted to position 0 with the
    inverse powers. Not mixed: ``ngram_hashes`` finalises every n-gram (n = 1 included).
    """
    a = np.frombuffer(b, dtype=np.uint8)
    n = len(a)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    is_word = a != 32
    starts = np.flatnonzero(is_word[1:] > is_word[:-1]) + 1
    if is_word[0]:
        starts = np.concatenate((np.zeros(1, dtype=starts.dtype), starts))
    if len(starts) == 0:
        return np.empty(0, dtype=np.uint64)
    pw, inv = _Powers.upto(n)
    vals = a.astype(np.uint64)
    vals += _U64(1)
    vals *= pw
    vals *= is_word
    h = np.add.reduceat(vals, starts)
    h *= inv[starts]
    return h


def word_hashes(text: str) -> np.ndarray:
    """Process-independent uint64 hash of every normalised word of ``text``."""
    return word_hashes_from_bytes(normalize_bytes(text))


def ngram_hashes(wh: np.ndarray, n: int) -> np.ndarray:
    """Hash of every word n-gram (``len(wh) - n + 1`` values; none when fewer words)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if len(wh) < n:
        return np.empty(0, dtype=np.uint64)
    m = len(wh) - n + 1
    keys = wh[:m].copy()
    for i in range(1, n):
        keys *= _NGRAM_MULT
        keys += wh[i : i + m]
    return _mix64(keys)
