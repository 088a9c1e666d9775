"""Print extraction quality (snippet F1) and speed for fast, fidelity and plain trafilatura.

Usage: ``python bench/extract_quality.py [--repeat N] [--big]`` from the repo root.

Quality: micro-averaged precision/recall/F1 of must / must-not snippets over the labelled
set in ``tests/data/extraction_eval/pages.jsonl`` (protocol in
``kosmos_data/extract/evaluate.py``). Speed: best-of-N mean ms/page over the same pages,
plus (``--big``) ms for the largest page and for a synthetic ~150 KB page.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kosmos_data.extract import ExtractConfig, make_extractor  # noqa: E402
from kosmos_data.extract.evaluate import load_eval_set, micro, score_text  # noqa: E402


def _timed(fn, pages, repeat: int) -> tuple[list[str], float]:
    texts = [fn(p) for p in pages]  # warm-up (imports, caches) and the texts to score
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for p in pages:
            fn(p)
        best = min(best, time.perf_counter() - t0)
    return texts, best / len(pages) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big", action="store_true", help="also time a synthetic 150 KB page")
    args = ap.parse_args()

    items = list(load_eval_set(REPO / "tests/data/extraction_eval/pages.jsonl", REPO))
    pages = [it.page for it in items]
    kb = sum(len(p.html) for p in pages) / len(pages) / 1024
    n_must = sum(len(it.must) for it in items)
    n_not = sum(len(it.must_not) for it in items)
    print(f"{len(items)} pages (mean {kb:.0f} KB), {n_must} must / {n_not} must-not snippets")

    fast = make_extractor(ExtractConfig(mode="fast"))
    fid = make_extractor(ExtractConfig(mode="fidelity", timeout_s=60.0))

    def traf(page):
        import trafilatura

        return trafilatura.extract(page.html, url=page.provenance.url.strip("<>")) or ""

    runs = [
        ("fast", lambda p: fast.extract(p).text, args.repeat),
        ("fidelity", lambda p: fid.extract(p).text, 1),
        ("trafilatura text-only (reference)", traf, 1),
    ]
    print(f"{'extractor':36s} {'P':>6s} {'R':>6s} {'F1':>6s} {'ms/page':>8s}")
    for name, fn, rep in runs:
        texts, ms = _timed(fn, pages, rep)
        s = micro(score_text(t, it.must, it.must_not) for t, it in zip(texts, items, strict=True))
        print(f"{name:36s} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {ms:8.2f}")

    if args.big:
        from kosmos_data.records import HtmlPage

        biggest = max(pages, key=lambda p: len(p.html))
        para = "<p>Some <b>bold</b> text and <a href='/x'>a link</a> in a paragraph. </p>"
        nav = "<nav><ul>" + "<li><a href='/n'>Menu item</a></li>" * 40 + "</ul></nav>"
        body = "".join(
            f"<div class='post-{i}'><h2>Heading {i}</h2>{para * 8}"
            f"<img src='/img/{i}.jpg' width='640' height='480' alt='figure {i}'></div>"
            for i in range(150)
        )
        html = f"<html><head><title>t</title></head><body>{nav}<main>{body}</main></body></html>"
        synth = HtmlPage(biggest.provenance, html, "utf-8", "default")
        for label, page in (("largest eval page", biggest), ("synthetic page", synth)):
            _, ms = _timed(lambda p: fast.extract(p), [page], 20)
            print(f"fast on {label} ({len(page.html) / 1024:.0f} KB): {ms:.2f} ms")


if __name__ == "__main__":
    main()
