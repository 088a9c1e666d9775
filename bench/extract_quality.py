"""Main-content quality and speed of every extractor on the development set, in one run.

Usage: ``python bench/extract_quality.py [--repeat N] [--fallback-threshold T] [--no-cv]``
from the repo root.

Rows (one function per row group, ``ROW_GROUPS``; later groups such as image P/R or the
quality stage are added there):

* ``extractor_rows``: for fast, fast with the fidelity fallback, fidelity, trafilatura
  (text only, its defaults) and resiliparse (``extract_plain_text(main_content=True)``):
  token P/R/F1 averaged per page for each dev source (``kosmos_data.extract.devset``:
  ScrapingHub 181 pages, readability 130 pages), the micro snippet P/R/F1 of the 45
  labelled WARC pages (``tests/data/extraction_eval``), and pages per CPU-second over all
  of these pages (``time.process_time``, extraction alone; fast is the best of
  ``--repeat`` passes, the others one pass).
* ``split_rows``: held-out figures of the block classifier, retrained inside the bench:
  5-fold cross-validation (folds by a blake2b hash of the page id; per fold and per
  source) and cross-source (train on one dev source, test on the other). The shipped model
  is trained on all pages, so its ``extractor_rows`` figures for fast are in-sample; these
  rows are the honest estimate.

The fast extractor's block model is trained on these same pages (see
``kosmos_data/extract/train_blocks.py``); read ``extractor_rows`` for fast together with
``split_rows``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kosmos_data.extract import ExtractConfig, make_extractor  # noqa: E402
from kosmos_data.extract.devset import PRF, DevPage, load_dev_set, mean_prf, token_prf  # noqa: E402
from kosmos_data.extract.evaluate import micro, score_text  # noqa: E402

SOURCES = ("scrapinghub", "readability", "snippets")


def load_pages() -> list[DevPage]:
    from kosmos_data.extract.train_blocks import snippet_pages

    return load_dev_set() + snippet_pages()


def score(pages: list[DevPage], texts: list[str]) -> dict[str, PRF]:
    """Per source: mean token P/R/F1 (gold text) or micro snippet P/R/F1 (snippets)."""
    out = {}
    for src in SOURCES:
        part = [(p, t) for p, t in zip(pages, texts, strict=True) if p.source == src]
        if not part:
            continue
        if part[0][0].gold is None:
            s = micro(score_text(t, p.must, p.must_not) for p, t in part)
            out[src] = PRF(s.precision, s.recall, s.f1)
        else:
            out[src] = mean_prf(token_prf(t, p.gold) for p, t in part)
    return out


def timed(fn: Callable, pages: list[DevPage], repeat: int) -> tuple[list[str], float]:
    """Texts of one pass, and pages per CPU-second (best of ``repeat`` timed passes)."""
    texts = [fn(p.page) for p in pages]  # warm-up: imports, caches, model load
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for p in pages:
            fn(p.page)
        best = min(best, time.process_time() - t0)
    return texts, len(pages) / best


def extractors(fallback_threshold: float) -> list[tuple[str, Callable, bool]]:
    """(name, page -> text, repeatable) for every extractor in the comparison."""
    fast = make_extractor(ExtractConfig())
    fallback = make_extractor(ExtractConfig(fallback_threshold=fallback_threshold, timeout_s=60))
    fid = make_extractor(ExtractConfig(mode="fidelity", timeout_s=60.0))

    def traf(page):
        import trafilatura

        return trafilatura.extract(page.html, url=page.provenance.url) or ""

    def resili(page):
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(page.html, main_content=True)

    return [
        ("fast", lambda p: fast.extract(p).text, True),
        (f"fast+fallback<{fallback_threshold:g}", lambda p: fallback.extract(p).text, False),
        ("fidelity", lambda p: fid.extract(p).text, False),
        ("trafilatura", traf, False),
        ("resiliparse main_content", resili, True),
    ]


def _fmt(s: PRF) -> str:
    return f"{s.precision:.3f}/{s.recall:.3f}/{s.f1:.3f}"


def extractor_rows(pages: list[DevPage], args) -> None:
    print("\n## extractors: P/R/F1 per source (token, per-page mean; snippets: micro)")
    print(
        f"{'extractor':28s} {'scrapinghub':>19s} {'readability':>19s} {'snippets':>19s} "
        f"{'pages/CPU-s':>11s}"
    )
    fast = make_extractor(ExtractConfig())
    confs = [fast.extract(p.page).meta["extraction_confidence"] for p in pages]
    args.texts = {}
    for name, fn, repeatable in extractors(args.fallback_threshold):
        texts, rate = timed(fn, pages, args.repeat if repeatable else 1)
        args.texts[name] = texts
        s = score(pages, texts)
        cells = " ".join(f"{_fmt(s[src]):>19s}" for src in SOURCES)
        print(f"{name:28s} {cells} {rate:11.0f}")
    low = sum(c < args.fallback_threshold for c in confs)
    print(
        f"fallback: {low}/{len(pages)} pages below confidence {args.fallback_threshold:g}; "
        f"confidence deciles: {_deciles(confs)}"
    )


def _deciles(confs: list[float]) -> str:
    from collections import Counter

    from kosmos_data.extract.common import confidence_bucket

    c = Counter(confidence_bucket(x) for x in confs)
    return ", ".join(f"{k}: {c[k]}" for k in sorted(c))


def split_rows(pages: list[DevPage], args) -> None:
    if args.no_cv:
        return
    from kosmos_data.extract import train_blocks as tb

    data = tb.collect(pages)
    oof = tb.out_of_fold(data, k=5)
    print("\n## block classifier held out: 5-fold CV (retrained per fold), P/R/F1")
    folds = tb.cross_validate(data, k=5, oof=oof)
    print(f"{'fold':28s} {'scrapinghub':>19s} {'readability':>19s} {'snippets':>19s}")
    for i, row in enumerate(folds):
        print(f"{'fold ' + str(i):28s} " + " ".join(f"{_fmt(row[s]):>19s}" for s in SOURCES))
    means = {
        s: PRF(*(statistics.mean(getattr(r[s], a) for r in folds) for a in PRF.__slots__))
        for s in SOURCES
    }
    print(f"{'mean of folds':28s} " + " ".join(f"{_fmt(means[s]):>19s}" for s in SOURCES))
    pooled = [tb.kept_text(d, p >= t) for d, (p, t, _) in zip(data, oof, strict=True)]
    row = tb.text_scores(data, pooled)
    print(f"{'pooled out-of-fold':28s} " + " ".join(f"{_fmt(row[s]):>19s}" for s in SOURCES))
    fid = getattr(args, "texts", {}).get("fidelity")
    if fid is not None:
        confs = [tb.confidence(d, p, sure) for d, (p, _, sure) in zip(data, oof, strict=True)]
        for thr in (0.5, 0.6, 0.7, 0.8):
            texts = [f if c < thr else t for t, f, c in zip(pooled, fid, confs, strict=True)]
            n = sum(c < thr for c in confs)
            row = tb.text_scores(data, texts)
            label = f"oof + fallback<{thr:g} ({n} pg)"
            print(f"{label:28s} " + " ".join(f"{_fmt(row[s]):>19s}" for s in SOURCES))
    print("\n## block classifier cross-source (train on A only, test on B), P/R/F1")
    for k, v in tb.cross_source(data).items():
        print(f"{k:28s} {_fmt(v):>19s}")


ROW_GROUPS = [extractor_rows, split_rows]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fallback-threshold", type=float, default=0.8)
    ap.add_argument("--no-cv", action="store_true", help="skip the retraining rows")
    args = ap.parse_args(argv)
    pages = load_pages()
    kb = sum(len(p.page.html) for p in pages) / len(pages) / 1024
    counts = {s: sum(p.source == s for p in pages) for s in SOURCES}
    print(f"{len(pages)} pages (mean {kb:.0f} KB): {counts}")
    for group in ROW_GROUPS:
        group(pages, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
