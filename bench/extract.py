"""Stage-1 throughput: pages/s/core for the whole per-page path, and where the time goes.

    python bench/extract.py [--pages 400] [--page-kb 150] [--fidelity-pages N] [--repeat 3]
                            [--only-real-pages]

Runs the same core steps the Beam job runs (read -> pre-filter -> decode -> extract ->
language ID -> quality filters -> KOSMOS-1 sampling), in one process on one core, over
(1) the generated crawl padded to real-sized pages (~150 KB HTML, like Common Crawl pages
with inline scripts, styles and mega-menus) and (2) the real archives in ../shared/data/warc
when present. Times are CPU seconds (``time.process_time``), so other load on the machine
inflates them less than wall time would; the fast path runs ``--repeat`` times and the best
run is reported (the run least disturbed by other load, as ``timeit`` recommends).

First, extraction alone on real pages of 100-150 KB (the extraction-dev pages in that size
range, ``real_page_rates``): fast beside resiliparse's main-content mode
(``extract_plain_text(html, main_content=True)``, which parses too) and a bare lexbor parse,
in alternating passes of the same run so machine load hits all of them alike.

``parse`` is measured in a separate pass (a bare lexbor parse of the same decoded HTML) and
is reported as the part of ``extract`` spent parsing; ``extract`` in the end-to-end total
includes it. Peak RSS is the process's high-water mark.
"""

from __future__ import annotations

import argparse
import glob
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

# This checkout's packages, not an installed copy (run from a git worktree, the editable
# install would otherwise benchmark another checkout's code).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kosmos_data.decode import DecodeError, decode_html
from kosmos_data.extract import ExtractConfig, ExtractionError, make_extractor
from kosmos_data.filters.langid import LangIdConfig, LanguageIdentifier
from kosmos_data.filters.quality import QualityConfig, judge
from kosmos_data.prefilter import PrefilterConfig, prefilter
from kosmos_data.records import RawPage
from kosmos_data.sampling import (
    SamplingConfig,
    cap_images,
    require_images,
    sample_single_image,
)
from kosmos_data.warc import ReadConfig, iter_records
from kosmos_samples.crawl import SampleCrawlConfig, generate_crawl

STEPS = ("read", "prefilter", "decode", "extract", "langid", "filters")
clock = time.process_time


def run_path(paths: list[str], mode: str, max_pages: int | None = None) -> dict:
    extractor = make_extractor(ExtractConfig(mode=mode, timeout_s=30.0))
    lid = LanguageIdentifier(LangIdConfig())
    lid.setup()
    pre_cfg, q_cfg, s_cfg = PrefilterConfig(), QualityConfig(), SamplingConfig()
    t = defaultdict(float)
    n = defaultdict(int)
    decoded = []
    for path in paths:
        with open(path, "rb") as f:
            t0 = clock()
            records = list(iter_records(f, path, ReadConfig()))
            t["read"] += clock() - t0
        for rec in records:
            n["records"] += 1
            if not isinstance(rec, RawPage):
                continue
            if rec.record_type == "response" and rec.mime_type in ("text/html", None):
                n["pages"] += 1
                n["html_bytes"] += len(rec.payload)
            t0 = clock()
            verdict = prefilter(rec, pre_cfg)
            t["prefilter"] += clock() - t0
            if verdict is not None:
                continue
            if max_pages is not None and n["extracted"] >= max_pages:
                continue
            t0 = clock()
            try:
                page = decode_html(rec)
            except DecodeError:
                continue
            t["decode"] += clock() - t0
            decoded.append(page.html)
            t0 = clock()
            try:
                doc = extractor.extract(page)
            except ExtractionError:
                continue
            t["extract"] += clock() - t0
            n["extracted"] += 1
            t0 = clock()
            ok = lid(doc) is None
            t["langid"] += clock() - t0
            if not ok:
                continue
            t0 = clock()
            if judge(doc, q_cfg)[0] is None:
                cap_images(doc, s_cfg)
                if (require_images(doc, s_cfg) or sample_single_image(doc, s_cfg)) is None:
                    n["kept"] += 1
            t["filters"] += clock() - t0
    t0 = clock()
    for html in decoded:
        LexborHTMLParser(html)
    t["parse"] = clock() - t0
    return {"t": dict(t), "n": dict(n)}


def total_time(res: dict) -> float:
    """CPU seconds of the end-to-end steps of one run."""
    return sum(res["t"][s] for s in STEPS if s in res["t"])


def report(title: str, res: dict, limited: bool = False) -> None:
    t, n = res["t"], res["n"]
    total = total_time(res)
    pages = n.get("pages", 0)
    print(f"\n{title}")
    print(
        f"  records {n.get('records', 0):,}  html pages {pages:,} "
        f"(mean {n.get('html_bytes', 0) / max(pages, 1) / 1024:.0f} KB)  "
        f"extracted {n.get('extracted', 0):,}  kept {n.get('kept', 0):,}"
    )
    if not limited:
        print(
            f"  end to end: {pages / total:,.0f} pages/s/core  ({total * 1000 / pages:.2f} ms/page)"
        )
    for s in STEPS:
        if s in t:
            share = 100 * t[s] / total
            print(f"  {s:<10} {t[s]:7.3f} s  {share:5.1f}%")
            if s == "extract" and t.get("extract"):
                per = t["extract"] * 1000 / max(n.get("extracted", 1), 1)
                print(
                    f"    of which parse {t['parse']:.3f} s (bare lexbor parse, separate pass); "
                    f"{per:.2f} ms per extracted page"
                )


def real_page_rates(repeat: int, lo_kb: int = 100, hi_kb: int = 150) -> None:
    """Pages per CPU-second, extraction alone, on the dev pages of ``lo_kb``-``hi_kb`` KB."""
    from resiliparse.extract.html2text import extract_plain_text

    from kosmos_data.extract.devset import load_dev_set

    pages = [
        p.page
        for p in load_dev_set()
        if lo_kb * 1024 <= len(p.page.html.encode("utf-8")) <= hi_kb * 1024
    ]
    fast = make_extractor(ExtractConfig())
    runs = {
        "lexbor parse only": lambda p: LexborHTMLParser(p.html),
        "fast (kosmos-data)": fast.extract,
        "resiliparse main_content": lambda p: extract_plain_text(p.html, main_content=True),
    }
    for fn in runs.values():  # warm-up: imports, model load
        for p in pages[:5]:
            fn(p)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, fn in runs.items():
            t0 = clock()
            for p in pages:
                fn(p)
            best[name] = min(best[name], clock() - t0)
    kb = sum(len(p.html.encode("utf-8")) for p in pages) / len(pages) / 1024
    print(
        f"real pages {lo_kb}-{hi_kb} KB: {len(pages)} extraction-dev pages (mean {kb:.0f} KB), "
        f"extraction alone, best of {repeat} alternating passes"
    )
    for name, t in best.items():
        print(f"  {name:<26} {len(pages) / t:7.0f} pages/CPU-s  ({t * 1000 / len(pages):.2f} ms)")
    ratio = best["resiliparse main_content"] / best["fast (kosmos-data)"]
    print(f"  fast / resiliparse speed: {ratio:.2f}x")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=400)
    ap.add_argument("--page-kb", type=int, default=150)
    ap.add_argument("--fidelity-pages", type=int, default=0, help="cap fidelity pages (0: all)")
    ap.add_argument("--repeat", type=int, default=3, help="fast-path runs; the best is shown")
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[1].parent / "shared"))
    ap.add_argument("--only-real-pages", action="store_true", help="only the 100-150 KB rates")
    args = ap.parse_args(argv)

    real_page_rates(max(args.repeat, 5))
    if args.only_real_pages:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SampleCrawlConfig(num_pages=args.pages, num_files=2, seed=1, page_kb=args.page_kb)
        paths = [str(p) for p in generate_crawl(tmp, cfg)]
        print(f"corpus: generated crawl, {args.pages} pages padded to ~{args.page_kb} KB")
        runs = [run_path(paths, "fast") for _ in range(args.repeat)]
        fast = min(runs, key=total_time)
        totals = ", ".join(f"{total_time(r):.2f}" for r in runs)
        report(
            f"fast extractor, generated real-sized pages (best of {args.repeat}: {totals} s)", fast
        )
        limit = args.fidelity_pages or None
        fid = run_path(paths, "fidelity", max_pages=limit)
        label = f"first {limit} extracted pages; time shares only" if limit else "all pages"
        report(f"fidelity extractor (trafilatura with images), {label}", fid, limited=bool(limit))

    real = sorted(glob.glob(str(Path(args.shared) / "data/warc/dolma/*.warc.gz")))
    real += sorted(glob.glob(str(Path(args.shared) / "data/warc/commoncrawl/*.warc.gz")))
    if real:
        report(
            "fast extractor, real archives (../shared/data/warc dolma + commoncrawl)",
            run_path(real, "fast"),
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS: {peak:.0f} MiB   (python {sys.version.split()[0]}, 1 process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
