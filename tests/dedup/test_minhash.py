"""MinHash estimates against exact Jaccard and against datasketch on the same inputs."""

from __future__ import annotations

import random

import datasketch
import numpy as np
import pytest
import xxhash

from kosmos_data.dedup.minhash import EMPTY, MinHasher, estimate_jaccard, exact_jaccard
from kosmos_data.dedup.text import normalize_text, text_hash, word_hashes, words

from .corpus import paragraphs, render, substitute, vocabulary


@pytest.fixture(scope="module")
def pairs():
    rng = random.Random(3)
    vocab = vocabulary(rng)
    out = []
    for i in range(120):
        paras = paragraphs(rng, vocab, 400)
        out.append((render(paras), render(substitute(rng, vocab, paras, 2 + i))))
    return out


def _datasketch(text: str, num_perm: int) -> datasketch.MinHash:
    w = normalize_text(text).split()
    shingles = [" ".join(w[i : i + 5]).encode() for i in range(len(w) - 4)]
    m = datasketch.MinHash(num_perm=num_perm, hashfunc=xxhash.xxh32_intdigest)
    m.update_batch(shingles)
    return m


def test_estimates_track_exact_jaccard_as_well_as_datasketch(pairs):
    h = MinHasher(num_perm=128)
    exact, ours, theirs = [], [], []
    for a, b in pairs:
        exact.append(exact_jaccard(a, b))
        ours.append(estimate_jaccard(h.signature(a), h.signature(b)))
        theirs.append(_datasketch(a, 128).jaccard(_datasketch(b, 128)))
    exact, ours, theirs = map(np.array, (exact, ours, theirs))
    assert exact.min() < 0.3 and exact.max() > 0.9  # the pairs span the range
    err_ours = np.abs(ours - exact)
    err_theirs = np.abs(theirs - exact)
    # Standard deviation of the estimator is sqrt(J(1-J)/128) <= 0.044.
    assert err_ours.mean() < 0.04 and abs(float((ours - exact).mean())) < 0.015
    assert err_ours.max() < 0.16
    assert err_ours.mean() < err_theirs.mean() * 1.3 + 0.005
    assert np.abs(ours - theirs).mean() < 0.06


def test_signature_is_deterministic_and_seeded():
    text = "the quick brown fox jumps over the lazy dog " * 3
    a, b = MinHasher(seed=1), MinHasher(seed=1)
    assert np.array_equal(a.signature(text), b.signature(text))
    assert not np.array_equal(a.signature(text), MinHasher(seed=2).signature(text))
    assert a.signature(text).dtype == np.uint32 and len(a.signature(text)) == 112
    # Pickling (Beam) keeps the permutations.
    import pickle

    assert np.array_equal(pickle.loads(pickle.dumps(a)).signature(text), a.signature(text))


def test_normalisation_ignores_case_punctuation_whitespace_and_diacritics():
    assert words("Café, NAÏVE —  façade!\n\tOK") == ["cafe", "naive", "facade", "ok"]
    assert text_hash("Hello,   World!") == text_hash("hello world")
    assert text_hash("hello world") != text_hash("hello worlds")
    h = MinHasher()
    assert np.array_equal(h.signature("A b, c d E f!"), h.signature("a B c D e   F"))
    assert np.array_equal(word_hashes("x y x"), word_hashes("X, Y. X"))
    assert len(word_hashes("")) == 0 and len(word_hashes(" ,;. ")) == 0


def test_short_and_empty_texts():
    h = MinHasher()
    assert (h.signature("") == EMPTY).all()
    short = h.signature("two words")
    assert not (short == EMPTY).all()
    assert estimate_jaccard(short, h.signature("Two, words.")) == 1.0
