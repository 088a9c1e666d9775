"""LSH banding over MinHash signatures (Broder 1997; Leskovec, Rajaraman & Ullman, *Mining of
Massive Datasets*, ch. 3.4).

A signature of ``bands * rows`` slots is cut into ``bands`` bands of ``rows`` slots; two
documents become a *candidate pair* when all slots of at least one band agree. For shingle-set
Jaccard similarity ``J`` that happens with probability

    P(J) = 1 - (1 - J**rows)**bands

The default, 14 bands x 8 rows (112 permutations), gives (``candidate_probability``):

    J      0.3     0.5     0.6     0.7     0.8     0.85    0.9     0.95
    P(J)   0.0009  0.053   0.21    0.56    0.92    0.988   0.9996  1.0000

so a pair at J = 0.85 is missed with probability ~1.2% (false negative), and a pair at
J = 0.5 becomes a candidate ~5% of the time. Candidates are then *verified* on the full
signature (``DedupConfig.threshold``, default 0.7: estimated Jaccard = fraction of the 112
slots that agree, standard deviation sqrt(J(1-J)/112) <= 0.047), which removes almost all
candidates below J = 0.5 (0.7 is > 4 standard deviations above 0.5), so an edge below 0.5 is
rarer than 1 in 10**6 candidates. ``tests/dedup/test_quality.py`` measures recall and
precision on planted near-duplicates.
"""

from __future__ import annotations

import numpy as np


def band_keys(sig: bytes, bands: int, rows: int) -> list[bytes]:
    """One key per band of a signature given as raw little-endian uint32 bytes (what
    ``local.near_signature`` returns): the band index byte followed by the band's slots."""
    width = rows * 4
    return [bytes((i,)) + sig[i * width : (i + 1) * width] for i in range(bands)]


def candidate_probability(j: float, bands: int, rows: int) -> float:
    """Probability that two documents with Jaccard ``j`` share at least one band."""
    return 1.0 - (1.0 - j**rows) ** bands


def agreement(sig_a: bytes, sig_b: bytes) -> float:
    """Estimated Jaccard of two signatures given as raw uint32 bytes."""
    a = np.frombuffer(sig_a, dtype="<u4")
    b = np.frombuffer(sig_b, dtype="<u4")
    return float(np.count_nonzero(a == b)) / len(a)
