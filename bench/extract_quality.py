"""Main-content quality and speed of every extractor on the development set, in one run.

Usage: ``python bench/extract_quality.py [--repeat N] [--fallback-threshold T] [--no-cv]
[--groups extractor,split,quality,image] [--modes fast,fidelity]`` from the repo root
(``--groups quality --modes fast``: the quality stage alone, ~30 s).

Rows (one function per row group, ``ROW_GROUPS``):

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

* ``quality_rows``: on the extraction-dev set, token P/R of the kept documents' text before
  and after the quality stage (fast and fidelity), the gold and other tokens each node rule
  removed, the document drops, and the quality step's CPU per document.
* ``image_pr_rows``: image precision/recall against readability's gold image lists per page
  type, and figcaption adjacency.
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


# ---------------------------------------------------------------------------------------------
# Quality stage and images on the extraction-dev set (issue 12 items 2 and 3)
# ---------------------------------------------------------------------------------------------

import re  # noqa: E402
from collections import Counter  # noqa: E402

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


def _removal_reason(block: str, config) -> str:
    """The rule that removed ``block`` (the stage reports counts only; same rule order)."""
    from kosmos_data.filters import quality as q

    reason = q._line_reason(block.lower(), config) or q._node_reason(
        block, q.tokenize(block), config, config.flagged_words
    )
    return reason or "word_repetition"  # the one rule judged after the per-block ones


def _attribute(before_doc, after_doc, gold: str, config, into: dict) -> None:
    """Add, per rule, the gold tokens and the other tokens of the blocks it removed.

    Bag-of-token accounting in DOM order: a removed block's gold tokens are those that were
    still matched against the gold before it went and no longer are after (so a word that
    occurs twice in the page and once in the gold is not counted lost twice)."""
    kept = Counter(b for s in after_doc.segments if s.text for b in s.text.split("\n"))
    want = _tokens(gold)
    rest = _tokens(before_doc.text)
    for seg in before_doc.segments:
        for block in (seg.text or "").split("\n"):
            if not block.strip():
                continue
            if kept[block] > 0:
                kept[block] -= 1
                continue
            toks = _tokens(block)
            matched = sum((rest & want).values())
            rest = rest - toks
            lost = matched - sum((rest & want).values())
            row = into.setdefault(_removal_reason(block, config), [0, 0, 0])
            row[0] += 1
            row[1] += lost
            row[2] += sum(toks.values()) - lost


def quality_stage_rows(mode: str = "fast") -> None:
    """Token P/R of kept documents' text before and after the quality stage (item 2).

    Runs the pipeline's own step objects (``ExtractStep`` = decode + extract,
    ``LanguageStep``, ``QualityStep``, default configs) on every dev page; for the documents
    the quality stage keeps, scores the extracted text and the text after the quality stage
    against the gold main text, averaged per page, per source. Then, per source and node
    rule, the blocks each rule removed from kept documents, their gold tokens and their other
    tokens (what the rule costs in recall against what it buys in precision), and the
    document-level drops with the extraction's own recall on the dropped pages (a drop of a
    page the extractor got right is lost gold too). CPU: ``time.process_time`` of the quality
    step alone, per document that reached it.
    """
    import copy

    from kosmos_data.extract import ExtractConfig
    from kosmos_data.filters.langid import LangIdConfig
    from kosmos_data.filters.quality import QualityConfig
    from kosmos_data.stages import ExtractStep, LanguageStep, QualityStep

    config = QualityConfig()
    ext, lang, qual = (
        ExtractStep(ExtractConfig(mode=mode)),
        LanguageStep(LangIdConfig()),
        QualityStep(config),
    )
    for step in (ext, lang, qual):
        step.setup()
    per: dict[str, list] = {}
    drops: dict[str, Counter] = {}
    dropped_recall: dict[str, list[float]] = {}
    rules: dict[str, dict] = {}
    cpu = 0.0
    for source, page, gold in _dev_pages():
        st = per.setdefault(source, [0, 0, []])
        st[0] += 1
        doc = ext(page).record
        if doc is None or lang(doc).verdict is not None:
            continue
        st[1] += 1
        before = copy.deepcopy(doc)
        t0 = time.process_time()
        verdict = qual(doc).verdict
        cpu += time.process_time() - t0
        if verdict is not None:
            drops.setdefault(source, Counter())[verdict] += 1
            dropped_recall.setdefault(source, []).append(_token_pr(before.text, gold)[1])
            continue
        st[2].append((*_token_pr(before.text, gold), *_token_pr(doc.text, gold)))
        _attribute(before, doc, gold, config, rules.setdefault(source, {}))
    n_docs = sum(v[1] for v in per.values())
    print(
        f"\nquality stage on extraction-dev ({mode} extractor; kept documents, token P/R per "
        f"page; quality step {1000 * cpu / max(n_docs, 1):.3f} ms CPU per document)"
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
    print(f"{'source':12s} {'node rule':22s} {'blocks':>6s} {'gold tok':>8s} {'other tok':>9s}")
    for source, table in rules.items():
        for rule, (blocks, lost, other) in sorted(table.items(), key=lambda kv: -kv[1][1]):
            print(f"{source:12s} {rule:22s} {blocks:6d} {lost:8d} {other:9d}")
        rec = dropped_recall.get(source, [])
        if rec:
            print(
                f"{source:12s} {'(document drops)':22s} {len(rec):6d} pages, extraction recall "
                f"on them {sum(rec) / len(rec):.3f}"
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


def quality_rows(pages, args) -> None:
    """Text of kept documents before and after the quality stage (``--modes``)."""
    for mode in args.modes.split(","):
        quality_stage_rows(mode.strip())


def image_pr_rows(pages, args) -> None:
    """Image precision/recall against readability's gold lists, per page type."""
    image_rows()


ROW_GROUPS = [extractor_rows, split_rows, quality_rows, image_pr_rows]
#: ``--groups`` names: the row groups without their ``_rows`` / ``_pr_rows`` suffix.
GROUP_NAMES = {"extractor": extractor_rows, "split": split_rows, "quality": quality_rows,
               "image": image_pr_rows}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fallback-threshold", type=float, default=0.8)
    ap.add_argument("--no-cv", action="store_true", help="skip the retraining rows")
    ap.add_argument(
        "--groups",
        default=",".join(GROUP_NAMES),
        help="comma-separated row groups to run (default: all): " + ", ".join(GROUP_NAMES),
    )
    ap.add_argument(
        "--modes",
        default="fast,fidelity",
        help="extractor modes for the quality group (default: fast,fidelity)",
    )
    args = ap.parse_args(argv)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(GROUP_NAMES))
    if unknown:
        ap.error(f"--groups: unknown {unknown}; choose from {sorted(GROUP_NAMES)}")
    pages = load_pages()
    kb = sum(len(p.page.html) for p in pages) / len(pages) / 1024
    counts = {s: sum(p.source == s for p in pages) for s in SOURCES}
    print(f"{len(pages)} pages (mean {kb:.0f} KB): {counts}")
    for group in ROW_GROUPS:
        if any(GROUP_NAMES[g] is group for g in groups):
            group(pages, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
