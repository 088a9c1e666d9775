"""The main-content development set and its token-level metric.

``../shared/data/extraction-dev`` (see its README) holds two sources with human gold text:

* ``scrapinghub``: 181 news/article pages of scrapinghub/article-extraction-benchmark (MIT),
  gold = ``articleBody`` of ``ground-truth.json``;
* ``readability``: 130 pages of mozilla/readability's test suite (Apache-2.0), gold =
  ``expected.txt`` (the text of readability's expected output).

Metric: the article-extraction-benchmark one, token-level precision/recall/F1 of the
extracted text against the gold text, per page, then averaged over pages. Tokens are
``\\w+`` runs after case folding, compared as multisets (a token repeated three times in
the gold text counts three times). An empty extraction of a non-empty gold scores P = R = 0.

Pages are split into folds by a blake2b hash of ``source/id`` (``fold_of``), so the
cross-validation split is stable across machines and file orderings.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kosmos_data.records import HtmlPage, Provenance

SOURCES = ("scrapinghub", "readability")
#: The readability pages' URLs are unknown; one placeholder base for every page (README).
READABILITY_BASE = "https://readability.example/"
_WORD = re.compile(r"\w+")


def default_root() -> Path:
    """``../shared/data/extraction-dev`` beside the repository checkout."""
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "extraction-dev"


@dataclass
class DevPage:
    """One page with its gold main text (``gold``), or, for snippet-labelled pages, None
    and the ``must`` / ``must_not`` snippets."""

    source: str
    key: str
    page: HtmlPage
    gold: str | None
    must: list[str] = field(default_factory=list)
    must_not: list[str] = field(default_factory=list)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def dev_html_page(source: str, key: str, url: str, raw: bytes) -> HtmlPage:
    """One dev page as the extractors get it (provenance ``extraction-dev/<source>``); also
    used by ``bench/extract_fixtures.py`` for its fixture pages."""
    prov = Provenance(
        warc_file=f"extraction-dev/{source}", record_id=key, offset=0, url=url, fetch_date=""
    )
    return HtmlPage(provenance=prov, html=_decode(raw), charset="utf-8", charset_source="default")


def load_dev_set(root: Path | None = None, sources: Iterable[str] = SOURCES) -> list[DevPage]:
    """All dev pages of ``sources``, sorted by (source, key).

    A missing directory or file raises ``FileNotFoundError`` (tests must fail, not skip).
    """
    root = Path(root) if root is not None else default_root()
    out: list[DevPage] = []
    for source in sources:
        if source == "scrapinghub":
            gt = json.loads((root / "scrapinghub" / "ground-truth.json").read_text("utf-8"))
            for key in sorted(gt):
                raw = gzip.decompress(
                    (root / "scrapinghub" / "html" / f"{key}.html.gz").read_bytes()
                )
                page = dev_html_page(source, key, gt[key]["url"], raw)
                out.append(DevPage(source, key, page, gt[key]["articleBody"]))
        elif source == "readability":
            base = root / "readability"
            names = sorted(p.name for p in base.iterdir() if p.is_dir())
            if not names:
                raise FileNotFoundError(f"no readability pages under {base}")
            for name in names:
                raw = gzip.decompress((base / name / "source.html.gz").read_bytes())
                gold = (base / name / "expected.txt").read_text("utf-8")
                out.append(
                    DevPage(
                        source,
                        name,
                        dev_html_page(source, name, READABILITY_BASE + name + "/", raw),
                        gold,
                    )
                )
        else:
            raise ValueError(f"unknown dev source {source!r}; expected one of {SOURCES}")
    return out


def tokens(text: str) -> Counter[str]:
    """The metric's tokens: case-folded ``\\w+`` runs, as a multiset."""
    return Counter(_WORD.findall(text.casefold()))


@dataclass(frozen=True, slots=True)
class PRF:
    precision: float
    recall: float
    f1: float


def token_prf(extracted: str | Counter[str], gold: str | Counter[str]) -> PRF:
    """Token-level precision/recall/F1 of one page (see the module docstring)."""
    e = tokens(extracted) if isinstance(extracted, str) else extracted
    g = tokens(gold) if isinstance(gold, str) else gold
    ne, ng = sum(e.values()), sum(g.values())
    if ng == 0:
        return PRF(1.0, 1.0, 1.0) if ne == 0 else PRF(0.0, 1.0, 0.0)
    if ne == 0:
        return PRF(0.0, 0.0, 0.0)
    overlap = sum((e & g).values())
    p, r = overlap / ne, overlap / ng
    return PRF(p, r, 2 * p * r / (p + r) if p + r else 0.0)


def mean_prf(scores: Iterable[PRF]) -> PRF:
    """Per-page average (the benchmark's aggregate); NaN-free: no pages gives zeros."""
    s = list(scores)
    if not s:
        return PRF(0.0, 0.0, 0.0)
    n = len(s)
    return PRF(
        sum(x.precision for x in s) / n, sum(x.recall for x in s) / n, sum(x.f1 for x in s) / n
    )


def fold_of(source: str, key: str, k: int) -> int:
    """Stable fold index in ``[0, k)`` of one page (blake2b of ``source/key``)."""
    h = hashlib.blake2b(f"{source}/{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") % k
