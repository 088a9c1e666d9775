"""Deduplication benchmark: MinHash throughput beside datasketch, LSH + clustering throughput
and peak memory on 100k documents, and near-duplicate recall by kind of edit on real text.

    python bench/dedup.py [--docs 400] [--corpus 100000] [--no-real-variants]

All timings are process CPU seconds (docs/s/core), best of 3 runs, on the same documents:
1,000-word English documents (the sample-crawl grammar) normalised the same way for both
libraries. datasketch gets the shingles it needs (5-word strings, built per document, part
of its time, as in any pipeline that uses it) and is tried with its default SHA-1 hash and
with xxhash (32-bit, its default ``affine32`` scheme; 64-bit with ``affine64``), using
``update_batch``; the fastest configuration is the comparison point.

Near-duplicate recall on real text (``real_variants``): the human gold texts of
``../shared/data/extraction-dev`` with at least 150 words are the originals; each kind of
edit (case and spacing, punctuation, boilerplate added, truncation, word substitutions,
paragraphs reordered or dropped) makes one variant of every original, and the originals with
that kind's variants go through the default LSH and clustering together. A variant is
found when it lands in its original's component; the exact 5-gram Jaccard of each pair is
shown beside the rate, since the stage is designed to merge pairs above ~0.7
(``DedupConfig.threshold``). Merges among the originals themselves are listed too.
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


#: Share bars, newsletter boxes and footers: words added around a copied article.
_BOILERPLATE_TEXT = (
    "Share this article Facebook Twitter Email Subscribe to our newsletter Related stories "
    "Read more Privacy policy Terms of use Cookie settings All rights reserved"
)
_BOILERPLATE = _BOILERPLATE_TEXT.split()


def _variants(rng: random.Random, vocab: list[str]) -> dict:
    def substitute(ws: list[str], share: float) -> list[str]:
        ws = list(ws)
        for i in rng.sample(range(len(ws)), max(1, int(share * len(ws)))):
            ws[i] = rng.choice(vocab)
        return ws

    def cut(t: str, share: float) -> str:
        ws = t.split()
        return " ".join(ws[: int(len(ws) * share)])

    def paragraphs(t: str) -> list[str]:
        return [p for p in t.split("\n") if p.strip()]

    return {
        "case and spacing": lambda t: "  ".join(t.upper().split()),
        "punctuation removed": lambda t: "".join(c for c in t if c not in ".,;:!?"),
        "boilerplate +10%": lambda t: " ".join(
            (_BOILERPLATE * 50)[: len(t.split()) // 10] + t.split()
        ),
        "boilerplate +25%": lambda t: " ".join(
            t.split() + (_BOILERPLATE * 50)[: len(t.split()) // 4]
        ),
        "first 90%": lambda t: cut(t, 0.9),
        "first 80%": lambda t: cut(t, 0.8),
        "first 70%": lambda t: cut(t, 0.7),
        "1% words replaced": lambda t: " ".join(substitute(t.split(), 0.01)),
        "3% words replaced": lambda t: " ".join(substitute(t.split(), 0.03)),
        "5% words replaced": lambda t: " ".join(substitute(t.split(), 0.05)),
        "paragraphs shuffled": lambda t: "\n".join(rng.sample(paragraphs(t), len(paragraphs(t)))),
        "every 5th paragraph dropped": lambda t: "\n".join(
            p for i, p in enumerate(paragraphs(t)) if i % 5 != 2
        ),
    }


def real_variants(config: DedupConfig) -> None:
    from kosmos_data.dedup.minhash import exact_jaccard
    from kosmos_data.extract.devset import load_dev_set

    originals = [p.gold for p in load_dev_set() if p.gold and len(p.gold.split()) >= 150]
    rng = random.Random(7)
    vocab = [w for t in originals[:20] for w in t.split()]
    hasher = MinHasher(config.num_perm, config.ngram, config.seed)

    def sig(text: str) -> bytes:
        return hasher.signature(text).astype("<u4").tobytes()

    base = [(f"o{i:05d}", sig(t)) for i, t in enumerate(originals)]
    merged = near_duplicate_map(base, config)
    lsh = f"LSH {config.bands}x{config.rows}, threshold {config.threshold}"
    print(f"\nNear-duplicate recall on real text: {len(originals)} extraction-dev gold texts "
          f"(>= 150 words), {lsh}")  # fmt: skip
    pairs = sorted((int(a[1:]), int(b[1:])) for a, b in merged.items())
    js = [exact_jaccard(originals[a], originals[b]) for a, b in pairs]
    print(f"  originals merged with another original: {len(pairs)}"
          + (f" (exact Jaccard {min(js):.2f}-{max(js):.2f})" if js else ""))  # fmt: skip
    print(f"  {'edit':<30} {'found':>9}   exact Jaccard: median   min")
    for name, edit in _variants(rng, vocab).items():
        texts = [edit(t) for t in originals]
        found_map = near_duplicate_map(
            base + [(f"v{i:05d}", sig(t)) for i, t in enumerate(texts)], config
        )

        def root(rank: str, found_map=found_map) -> str:
            return found_map.get(rank, rank)

        found = sum(root(f"v{i:05d}") == root(f"o{i:05d}") for i in range(len(originals)))
        jac = sorted(exact_jaccard(o, t) for o, t in zip(originals, texts, strict=True))
        print(f"  {name:<30} {found:4d}/{len(originals):<4}        "
              f"{jac[len(jac) // 2]:.2f}  {jac[0]:.2f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=400)
    ap.add_argument("--corpus", type=int, default=100_000)
    ap.add_argument("--no-real-variants", action="store_true")
    args = ap.parse_args()
    config = DedupConfig()
    bench_minhash(args.docs, config.num_perm)
    bench_lsh(args.corpus, config)
    if not args.no_real_variants:
        real_variants(config)


if __name__ == "__main__":
    main()
