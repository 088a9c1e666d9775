"""Print extraction quality (snippet F1) and speed for fast, fidelity and plain trafilatura.

Usage: ``python bench/extract_quality.py [--repeat N] [--big]`` from the repo root.

Quality: micro-averaged precision/recall/F1 of must / must-not snippets over the labelled
set in ``tests/data/extraction_eval/pages.jsonl`` (protocol in
``kosmos_data/extract/evaluate.py``). Speed: best-of-N mean ms/page over the same pages,
plus (``--big``) ms for the largest page and for a synthetic ~150 KB page.

On the extraction-dev set (``../shared/data/extraction-dev``): token P/R of the kept
documents' text before and after the quality stage (``quality_stage_rows``), and image
precision/recall against readability's gold image lists per page type (``image_rows``).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
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

    quality_stage_rows("fast")
    quality_stage_rows("fidelity")
    image_rows()


# ---------------------------------------------------------------------------------------------
# Quality stage and images on the extraction-dev set (issue 12 items 2 and 3)
# ---------------------------------------------------------------------------------------------

DEV = REPO.parent / "shared" / "data" / "extraction-dev"
_TOKEN = re.compile(r"\w+")


def _tokens(text: str) -> Counter:
    return Counter(_TOKEN.findall(text.casefold()))


def _token_pr(text: str, gold: str) -> tuple[float, float]:
    """Token-level (bag of lower-cased word tokens) precision and recall of one page."""
    got, want = _tokens(text), _tokens(gold)
    common = sum((got & want).values())
    p = common / sum(got.values()) if got else 0.0
    r = common / sum(want.values()) if want else 0.0
    return p, r


def _dev_pages():
    """(source, RawPage, gold text) for every extraction-dev page; missing data raises."""
    import gzip
    import json

    from kosmos_data.extract.image_eval import READABILITY_BASE
    from kosmos_data.records import Provenance, RawPage

    truth_path = DEV / "scrapinghub" / "ground-truth.json"
    if not truth_path.exists():
        raise FileNotFoundError(f"extraction-dev set missing: {DEV}")
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    for key in sorted(truth):
        body = gzip.decompress((DEV / "scrapinghub" / "html" / f"{key}.html.gz").read_bytes())
        prov = Provenance(f"scrapinghub/{key}", "", 0, truth[key]["url"], "")
        page = RawPage(prov, "response", 200, "text/html", None, body)
        yield "scrapinghub", page, truth[key]["articleBody"]
    for d in sorted(p for p in (DEV / "readability").iterdir() if p.is_dir()):
        body = gzip.decompress((d / "source.html.gz").read_bytes())
        prov = Provenance(f"readability/{d.name}", "", 0, READABILITY_BASE, "")
        page = RawPage(prov, "response", 200, "text/html", None, body)
        yield "readability", page, (d / "expected.txt").read_text(encoding="utf-8")


def quality_stage_rows(mode: str = "fast") -> None:
    """Token P/R of kept documents' text before and after the quality stage (item 2).

    Runs the pipeline's own step objects (``ExtractStep`` = decode + extract,
    ``LanguageStep``, ``QualityStep``, default configs) on every dev page; for the documents
    the quality stage keeps, scores the extracted text and the text after the quality stage
    against the gold main text, averaged per page, per source.
    """
    from kosmos_data.extract import ExtractConfig
    from kosmos_data.filters.langid import LangIdConfig
    from kosmos_data.filters.quality import QualityConfig
    from kosmos_data.stages import ExtractStep, LanguageStep, QualityStep

    ext, lang, qual = (
        ExtractStep(ExtractConfig(mode=mode)),
        LanguageStep(LangIdConfig()),
        QualityStep(QualityConfig()),
    )
    for step in (ext, lang, qual):
        step.setup()
    per: dict[str, list] = {}
    drops: dict[str, Counter] = {}
    for source, page, gold in _dev_pages():
        st = per.setdefault(source, [0, 0, []])
        st[0] += 1
        doc = ext(page).record
        if doc is None or lang(doc).verdict is not None:
            continue
        st[1] += 1
        before = doc.text
        verdict = qual(doc).verdict
        if verdict is not None:
            drops.setdefault(source, Counter())[verdict] += 1
            continue
        st[2].append((*_token_pr(before, gold), *_token_pr(doc.text, gold)))
    print(
        f"\nquality stage on extraction-dev ({mode} extractor; kept documents, token P/R per page)"
    )
    print(
        f"{'source':12s} {'pages':>5s} {'lang ok':>7s} {'kept':>5s} "
        f"{'P extr':>7s} {'R extr':>7s} {'P qual':>7s} {'R qual':>7s}  quality drops"
    )
    for source, (n, n_lang, rows) in per.items():
        k = len(rows) or 1
        means = [sum(r[i] for r in rows) / k for i in range(4)]
        reasons = ", ".join(f"{r} {c}" for r, c in drops.get(source, Counter()).most_common())
        print(
            f"{source:12s} {n:5d} {n_lang:7d} {len(rows):5d} "
            f"{means[0]:7.3f} {means[1]:7.3f} {means[2]:7.3f} {means[3]:7.3f}  {reasons}"
        )


def _caption_adjacent(doc, keys, imgs) -> tuple[int, int]:
    """(figures with a caption among the kept images, of them with the caption next to it)."""
    segs = doc.segments
    n = ok = 0
    for j, seg in enumerate(segs):
        key = keys.get(seg.image.url) if seg.image is not None else None
        if key is None:
            continue
        fig = imgs[int(key[4:])].parent
        while fig is not None and fig.tag != "figure":
            fig = fig.parent
        cap = fig.css_first("figcaption") if fig is not None else None
        text = " ".join(cap.text().split()) if cap is not None else ""
        if len(text) < 3:
            continue
        n += 1
        near = []
        if j + 1 < len(segs) and segs[j + 1].text:
            near += segs[j + 1].text.split("\n")[:2]
        if j > 0 and segs[j - 1].text:
            near += segs[j - 1].text.split("\n")[-2:]
        ok += any(text[:40] in b or (len(b) >= 3 and b in text) for b in near)
    return n, ok


def image_rows(modes: tuple[str, ...] = ("fast", "fidelity")) -> None:
    """Image precision/recall against readability's gold image lists (item 3), per page type.

    Scoring in ``kosmos_data/extract/image_eval.py`` (element-keyed, http(s) gold only, each
    image once). Page types, derived from the source page: pages with a ``<figure>`` or
    without; pages using lazy loading (``data-src``/``data-srcset`` or an ``<img>`` in a
    ``<noscript>``) or not; readability's own "readerable" flag.
    """
    from selectolax.lexbor import LexborHTMLParser

    from kosmos_data.extract.image_eval import (
        ImageScore,
        element_keys,
        fetchable,
        load_readability,
        score_images,
    )

    pages = list(load_readability(DEV))
    gold_all = sum(len(gp.images) for gp in pages)
    gold_http = sum(len(set(fetchable(gp.images))) for gp in pages)
    with_gold = sum(1 for gp in pages if gp.images)
    print(
        f"\nimages vs readability gold ({len(pages)} pages, {with_gold} with images; "
        f"{gold_all} gold entries, {gold_http} distinct http(s) URLs scored)"
    )
    print(
        f"{'extractor':10s} {'page type':22s} {'pages':>5s} {'P':>6s} {'R':>6s} {'order':>6s} "
        f"{'TP':>4s} {'FP':>4s} {'FN':>4s}"
    )
    for mode in modes:
        ex = make_extractor(ExtractConfig(mode=mode, timeout_s=60.0))
        groups: dict[str, ImageScore] = {}
        caps = [0, 0]
        for gp in pages:
            html = gp.page.html
            tree = LexborHTMLParser(html)
            keys = element_keys(html, gp.page.provenance.url)
            doc = ex.extract(gp.page)
            s = score_images([i.url for i in doc.images], gp.images, keys)
            lazy = "data-src" in html or any(i.css_first("img") for i in tree.css("noscript"))
            types = (
                "all",
                "with <figure>" if tree.css_first("figure") else "without <figure>",
                "lazy-loading" if lazy else "no lazy-loading",
                "readerable" if gp.readerable else "not readerable",
            )
            for t in types:
                groups[t] = groups.get(t, ImageScore()) + s
            n, ok = _caption_adjacent(doc, keys, tree.css("img"))
            caps[0] += n
            caps[1] += ok
        order = ("all", "with <figure>", "without <figure>", "lazy-loading", "no lazy-loading",
                 "readerable", "not readerable")  # fmt: skip
        for t, s in sorted(groups.items(), key=lambda kv: order.index(kv[0])):
            print(
                f"{mode:10s} {t:22s} {s.pages:5d} {s.precision:6.3f} {s.recall:6.3f} "
                f"{s.order:6.3f} {s.tp:4d} {s.fp:4d} {s.fn:4d}"
            )
        print(f"{mode:10s} figcaption next to its kept image: {caps[1]}/{caps[0]}")


if __name__ == "__main__":
    main()
