"""MinHash signatures of word n-gram sets, vectorised.

A document's shingle set is its normalised word n-grams (``kosmos_data.dedup.text``; 5-grams
by default, as Lee et al. 2022 and the BigCode/text-dedup MinHash pipelines use). Signature
slot *i* is ``min over shingles x of h_i(x)`` with

    h_i(x) = (a_i * x + b_i) mod 2**32        (a_i odd, b_i random 32-bit)

applied to 32-bit shingle keys that are already well mixed (SplitMix64 of the n-gram, folded
to 32 bits). This is the permutation family of ``datasketch``'s default ``affine32`` scheme
(datasketch >= 2.0, which also mixes its 32-bit input hash first); the probability that slot
*i* agrees between two documents estimates their shingle-set Jaccard similarity
(Broder 1997), and ``tests/dedup/test_minhash.py`` checks the estimates against exact Jaccard
and against ``datasketch`` on the same inputs. 32-bit keys collide with probability ~n**2/2**33
(about 1e-4 for a 1,000-word document), far below the estimator's own noise.

Everything after normalisation is a few numpy passes: one ``outer`` product of the ``a_i``
with the shingle keys (permutation-major, so the ``min`` runs along contiguous memory), an
in-place add, a ``min``. There is no Python call per shingle — building a string and calling
a hash per shingle is what makes ``datasketch`` slower (``bench/dedup.py`` measures both on
the same documents).
"""

from __future__ import annotations

import numpy as np

from kosmos_data.dedup.text import ngram_hashes, normalize_bytes, word_hashes_from_bytes

EMPTY = np.uint32(0xFFFFFFFF)  # the value of every slot of a document with no shingle


class MinHasher:
    """Signatures with ``num_perm`` slots over word ``ngram``-grams; ``seed`` fixes the family.

    Documents shorter than ``ngram`` words are one shingle (all their words), so short
    captions still get a signature. A document without words gets all slots ``EMPTY``.
    """

    def __init__(self, num_perm: int = 112, ngram: int = 5, seed: int = 1) -> None:
        if num_perm < 1:
            raise ValueError(f"num_perm must be >= 1, got {num_perm}")
        if ngram < 1:
            raise ValueError(f"ngram must be >= 1, got {ngram}")
        self.num_perm = num_perm
        self.ngram = ngram
        self.seed = seed
        rng = np.random.Generator(np.random.PCG64(seed))
        self.a = rng.integers(0, 2**32, size=num_perm, dtype=np.uint32) | np.uint32(1)  # odd
        self.b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint32)
        self._b_col = self.b[:, None]

    def shingles(self, text: str) -> np.ndarray:
        """32-bit shingle keys of ``text`` (uint32)."""
        wh = word_hashes_from_bytes(normalize_bytes(text))
        if len(wh) == 0:
            return np.empty(0, dtype=np.uint32)
        sh = ngram_hashes(wh, min(self.ngram, len(wh)))
        sh ^= sh >> np.uint64(32)
        return sh.astype(np.uint32)

    def signature_of_shingles(self, keys: np.ndarray) -> np.ndarray:
        if len(keys) == 0:
            return np.full(self.num_perm, EMPTY, dtype=np.uint32)
        prod = np.multiply.outer(self.a, keys)
        prod += self._b_col
        return prod.min(axis=1)

    def signature(self, text: str) -> np.ndarray:
        """The MinHash signature of ``text``: ``num_perm`` uint32 values."""
        return self.signature_of_shingles(self.shingles(text))

    def __getstate__(self) -> dict[str, int]:
        return {"num_perm": self.num_perm, "ngram": self.ngram, "seed": self.seed}

    def __setstate__(self, state: dict[str, int]) -> None:
        self.__init__(state["num_perm"], state["ngram"], state["seed"])


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Fraction of agreeing slots: an unbiased estimate of the shingle-set Jaccard."""
    if len(sig_a) != len(sig_b):
        raise ValueError("signatures of different lengths")
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)


def exact_jaccard(text_a: str, text_b: str, ngram: int = 5) -> float:
    """Exact Jaccard of the two texts' shingle sets (tests, benchmarks)."""
    h = MinHasher(1, ngram)
    a, b = set(h.shingles(text_a).tolist()), set(h.shingles(text_b).tolist())
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
