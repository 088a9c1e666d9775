"""An out-of-sample check of every extractor: newspaper4k's test fixtures, never tuned on.

    pip download newspaper4k==0.9.6 --no-deps --no-binary :all: -d /tmp/np4k
    python bench/extract_fixtures.py /tmp/np4k/newspaper4k-0.9.6.tar.gz

Why: the fast extractor's block model and thresholds are fitted on ``../shared/data``
(``extraction-dev`` and the labelled WARC pages), so its figures there are in-sample, and
the cross-validated rows of ``bench/extract_quality.py`` still come from the same two site
families. newspaper4k's sdist ships 23 real pages (``tests/data/html``: CNN, Time, Wired,
Fox, cleveland.com, blogs, and articles in Arabic, Burmese, Chinese, Japanese, Korean,
Latvian, Spanish and Thai) with the article text its own tests expect
(``tests/data/txt``). Nothing in kosmos-data was fitted on them, so they are a small
independent check, read from the sdist as downloaded (nothing is copied into the project;
the bench never downloads). Caveat: the reference is newspaper4k's expected output, not a
human annotation; it omits titles and bylines, so every extractor that keeps a headline
loses a little precision alike.

Prints, for fast, fast with the fidelity fallback, fidelity, trafilatura and resiliparse
(the same callables as ``bench/extract_quality.py``), the token P/R/F1 averaged per page
(``kosmos_data.extract.devset.token_prf``: case-folded ``\\w+`` tokens, which count a run
of CJK or Thai characters as one token) over all pages, over the pages in Latin or Arabic
script and over the CJK/Thai/Burmese pages, and the per-page F1 of fast and trafilatura.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from extract_quality import extractors  # noqa: E402

from kosmos_data.extract.devset import DevPage, dev_html_page, mean_prf, token_prf  # noqa: E402

#: Pages whose script has no spaces between words (the ``\w+`` token is a whole run).
UNSPACED = ("burmese", "chinese", "japanese", "thai")


def load_fixtures(sdist: Path) -> list[DevPage]:
    """The (html, expected text) pairs of the sdist, sorted by name."""
    html: dict[str, bytes] = {}
    text: dict[str, str] = {}
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 4 or parts[-4:-2] != ("tests", "data"):
                continue
            kind, name = parts[-2], Path(parts[-1])
            if kind == "html" and name.suffix == ".html":
                html[name.stem] = tar.extractfile(member).read()
            elif kind == "txt" and name.suffix == ".txt":
                text[name.stem] = tar.extractfile(member).read().decode("utf-8", "replace")
    keys = sorted(html.keys() & text.keys())
    if not keys:
        raise SystemExit(f"{sdist}: no tests/data/html + tests/data/txt pairs")
    return [
        DevPage(
            "newspaper4k",
            k,
            dev_html_page("newspaper4k", k, f"https://fixture.invalid/{k}", html[k]),
            text[k],
        )
        for k in keys
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sdist", type=Path, help="newspaper4k-*.tar.gz as pip downloaded it")
    ap.add_argument("--fallback-threshold", type=float, default=0.8)
    args = ap.parse_args(argv)
    pages = load_fixtures(args.sdist)
    unspaced = [p.key.startswith(UNSPACED) for p in pages]
    print(f"{len(pages)} pages ({sum(unspaced)} in unspaced scripts) from {args.sdist.name}")
    print(f"{'extractor':28s} {'all P/R/F1':>20s} {'spaced F1':>10s} {'unspaced F1':>12s}")
    per_page: dict[str, list[float]] = {}
    for name, fn, _ in extractors(args.fallback_threshold):
        scores = [token_prf(fn(p.page), p.gold) for p in pages]
        m = mean_prf(scores)
        sp = mean_prf(s for s, u in zip(scores, unspaced, strict=True) if not u)
        un = mean_prf(s for s, u in zip(scores, unspaced, strict=True) if u)
        print(f"{name:28s} {m.precision:.3f}/{m.recall:.3f}/{m.f1:.3f} {sp.f1:10.3f} {un.f1:12.3f}")
        per_page[name] = [s.f1 for s in scores]
    print("per-page F1 (fast / trafilatura):")
    for i, p in enumerate(pages):
        print(f"  {p.key:24s} {per_page['fast'][i]:.2f} / {per_page['trafilatura'][i]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
