"""Deduplication benchmark: MinHash throughput beside datasketch, LSH + clustering throughput
and peak memory on 100k documents.

    python bench/dedup.py [--docs 400] [--corpus 100000]

All timings are process CPU seconds (docs/s/core), best of 3 runs, on the same documents:
1,000-word English documents (the sample-crawl grammar) normalised the same way for both
libraries. datasketch gets the shingles it needs (5-word strings, built per document, part
of its time, as in any pipeline that uses it) and is tried with its default SHA-1 hash and
with xxhash (32-bit, its default ``affine32`` scheme; 64-bit with ``affine64``), using
``update_batch``; the fastest configuration is the comparison point.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kosmos_data.dedup import DedupConfig
from kosmos_data.dedup.local import near_duplicate_map
from kosmos_data.dedup.minhash import MinHasher
from kosmos_data.dedup.text import normalize_text
from kosmos_samples.crawl import _english_paragraphs


def english_docs(n: int, words: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        paras = _english_paragraphs(rng, 12, 60)
        text = "\n\n".join(paras)
        ws = text.split(" ")
        while len(ws) < words:
            ws += "\n\n".join(_english_paragraphs(rng, 6, 60)).split(" ")
        out.append(" ".join(" ".join(ws).split()[:words]))
    return out


def cpu_rate(fn, items, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        for x in items:
            fn(x)
        best = min(best, time.process_time() - t)
    return len(items) / best


def datasketch_fn(num_perm: int, hashfunc, scheme: str | None):
    import datasketch

    def sig(text: str):
        w = normalize_text(text).split()
        shingles = [" ".join(w[i : i + 5]).encode() for i in range(len(w) - 4)]
        kw = {"scheme": scheme} if scheme else {}
        m = datasketch.MinHash(num_perm=num_perm, hashfunc=hashfunc, **kw)
        m.update_batch(shingles)
        return m

    return sig


def bench_minhash(n_docs: int, num_perm: int) -> None:
    import datasketch
    import xxhash

    docs = english_docs(n_docs, 1000)
    words = np.mean([len(d.split()) for d in docs])
    print(f"MinHash, {n_docs} documents of {words:.0f} words, {num_perm} permutations, 5-grams")
    ours = cpu_rate(MinHasher(num_perm).signature, docs)
    configs = {
        "datasketch sha1 (default)": datasketch_fn(num_perm, None, None),
        "datasketch xxh32 affine32": datasketch_fn(num_perm, xxhash.xxh32_intdigest, None),
        "datasketch xxh3_64 affine64": datasketch_fn(
            num_perm, xxhash.xxh3_64_intdigest, "affine64"
        ),
    }
    rates = {name: cpu_rate(fn, docs) for name, fn in configs.items()}
    print(f"  {'kosmos_data MinHasher':<30} {ours:8.0f} docs/s/core")
    for name, r in rates.items():
        print(f"  {name:<30} {r:8.0f} docs/s/core")
    best = max(rates.values())
    version = datasketch.__version__
    print(f"  speed-up over datasketch's fastest: {ours / best:.2f}x  (datasketch {version})")


def bench_lsh(n: int, config: DedupConfig) -> None:
    """Signatures of n ~300-word documents (10% planted near duplicates), then banding,
    verified star edges and union-find, timed separately; peak RSS of the process."""
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(20000)]
    hasher = MinHasher(config.num_perm, config.ngram, config.seed)
    items = []
    t = time.process_time()
    base: list[list[str]] = []
    for i in range(n):
        if base and rng.random() < 0.1:
            ws = list(rng.choice(base))
            for _ in range(3):
                ws[rng.randrange(len(ws))] = rng.choice(vocab)
        else:
            ws = [rng.choice(vocab) for _ in range(300)]
            if len(base) < 5000:
                base.append(ws)
        items.append((f"{i:012d}", hasher.signature(" ".join(ws)).astype("<u4").tobytes()))
    t_sig = time.process_time() - t
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.process_time()
    dup = near_duplicate_map(items, config)
    t_lsh = time.process_time() - t
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"LSH {config.bands}x{config.rows} + verified star edges + components, {n:,} documents")
    print(f"  signatures (300 words): {n / t_sig:8.0f} docs/s/core")
    print(f"  LSH + clustering:       {n / t_lsh:8.0f} docs/s/core  ({len(dup):,} near duplicates)")
    print(f"  peak RSS: {rss1 / 1024:.0f} MiB (before clustering {rss0 / 1024:.0f} MiB; "
          "in-memory reference path; the Beam path holds one group at a time)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=400)
    ap.add_argument("--corpus", type=int, default=100_000)
    args = ap.parse_args()
    config = DedupConfig()
    bench_minhash(args.docs, config.num_perm)
    bench_lsh(args.corpus, config)


if __name__ == "__main__":
    main()
