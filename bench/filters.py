"""Throughput of the language-ID, quality and PII steps on ~1,500-word pages.

Usage: ``python bench/filters.py [--repeat N]``. Prints µs per document (best of 3 runs over
``N`` fresh copies) and documents/s for langid, node cleaning, document checks and the
combined ``QualityFilter``, on two pages built at run time from text already installed
(nothing is shipped or downloaded):

* ``prose``: the hand-written test article plus prose paragraphs of the Python language
  reference (``pydoc_data.topics``, stdlib) -- an ordinary page that passes every rule;
* ``licence``: the Apache-2.0 licence text from an installed package -- repetitive legal
  prose whose duplicated 5-gram fraction (~0.15) forces every n-gram size to be evaluated,
  the slow path of the Gopher repetition rules.

Images are interleaved after every third paragraph. Last, PII redaction on real text: the
311 human gold texts of ``../shared/data/extraction-dev`` (mean ~6,000 characters), µs per
text with the gates of ``kosmos_data.safety.pii`` and with every pattern scanning every text.
"""

from __future__ import annotations

import argparse
import copy
import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kosmos_data.filters import (
    LanguageIdentifier,
    QualityConfig,
    QualityFilter,
    check_document,
    clean_segments,
)
from kosmos_data.records import Document, ImageRef, Segment
from kosmos_data.safety import pii
from kosmos_data.stages import PiiStep
from kosmos_samples.texts import CLEAN_ARTICLE, make_doc


def _prose_paragraphs() -> list[str]:
    from pydoc_data.topics import topics

    out = []
    for key in sorted(topics):
        for p in topics[key].split("\n\n"):
            p = " ".join(p.split())
            if (
                len(p.split()) >= 40
                and p.endswith(".")
                and not any(s in p for s in ("{", ">>>", "`", "**"))
            ):
                out.append(p)
    return out


def _licence_paragraphs() -> list[str]:
    pattern = os.path.join(sys.prefix, "lib", "python3*", "site-packages", "**", "LICENSE*")
    for path in sorted(glob.glob(pattern, recursive=True)):
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        if "Apache License" in text and len(text.split()) > 1200:
            paras = [" ".join(p.split()) for p in text.split("\n\n")]
            return [p for p in paras if len(p.split()) >= 20]
    return []


def build_page(paragraphs: list[str], target_words: int = 1500) -> Document:
    out, n = [], 0
    for p in paragraphs:
        if n >= target_words:
            break
        out.append(p)
        n += len(p.split())
    segs: list[Segment] = []
    for i, p in enumerate(out):
        segs.append(Segment(text=p))
        if i % 3 == 2:
            segs.append(Segment(image=ImageRef(url=f"https://example.org/{i}.jpg")))
    return make_doc(segs)


def bench(fn, page: Document, repeat: int) -> float:
    best = float("inf")
    for _ in range(3):
        docs = [copy.deepcopy(page) for _ in range(repeat)]
        t0 = time.perf_counter()
        for d in docs:
            fn(d)
        best = min(best, (time.perf_counter() - t0) / repeat * 1e6)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=300)
    args = ap.parse_args()
    cfg = QualityConfig()
    lid = LanguageIdentifier()
    lid.setup()
    qf = QualityFilter(cfg)
    pages = {
        "prose": build_page(list(CLEAN_ARTICLE) + _prose_paragraphs()),
        "licence": build_page(_licence_paragraphs()),
    }
    for name, page in pages.items():
        probe = copy.deepcopy(page)
        verdicts = (lid(probe), qf(probe))
        print(
            f"\n[{name}] {len(page.text.split())} words, {len(page.text)} chars, "
            f"{len(page.segments)} segments; verdicts (langid, quality) = {verdicts}"
        )
        print("  meta:", probe.meta)
        for label, fn in (
            ("langid", lid),
            ("clean_segments", lambda d: clean_segments(d, cfg)),
            ("check_document", lambda d: check_document(d, cfg)),
            ("QualityFilter (both)", qf),
            ("pii (PiiStep)", PiiStep(pii.PiiConfig())),
        ):
            us = bench(fn, page, args.repeat)
            print(f"  {label:22s} {us:8.1f} µs/doc  {1e6 / us:8.0f} docs/s")
    pii_on_real_texts()


def pii_on_real_texts() -> None:
    from kosmos_data.extract.devset import load_dev_set

    texts = [p.gold for p in load_dev_set() if p.gold]
    chars = sum(map(len, texts)) / len(texts)
    print(f"\n[pii on real text] {len(texts)} extraction-dev gold texts, mean {chars:.0f} chars")

    def per_text() -> float:
        best = float("inf")
        for _ in range(5):
            t0 = time.process_time()
            for t in texts:
                pii.redact(t)
            best = min(best, (time.process_time() - t0) / len(texts) * 1e6)
        return best

    gated = per_text()
    gates = ("_may_have_email", "_may_have_ip", "_may_have_intl_phone", "_may_have_nanp_phone")
    saved = {g: getattr(pii, g) for g in gates}
    for g in gates:
        setattr(pii, g, lambda text: True)
    try:
        full = per_text()
    finally:
        for g, f in saved.items():
            setattr(pii, g, f)
    print(f"  redact, gated            {gated:8.1f} µs/text")
    print(f"  redact, full scans       {full:8.1f} µs/text  ({full / gated:.1f}x the gated time)")


if __name__ == "__main__":
    main()
