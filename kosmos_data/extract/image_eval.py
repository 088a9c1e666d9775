"""Image precision/recall against the readability gold image lists, and the dev-set loader.

The development set (``../shared/data/extraction-dev``, see its README) holds, for each
mozilla/readability test page, ``expected-images.json``: the ``src`` of every image in
readability's expected output, in reading order (67 pages have at least one, 640 images).
readability's tests load every page as ``http://fakehost/test/page.html``, and the gold lists
are already resolved against that URL, so the extractor is given the same placeholder URL
(:data:`READABILITY_BASE`): both sides resolve relative URLs against one base.

Scoring (per page, then summed over pages, i.e. micro-averaged over images):

* Only ``http(s)`` gold URLs count: a ``data:`` URI is never fetched or stored by the
  pipeline (the image stage downloads URLs), so the extractors drop them on purpose. The
  number of gold entries left out this way is reported.
* An image is identified by its ``<img>`` element, not by one URL: an element offers several
  renditions (``src``, every ``srcset`` candidate, lazy ``data-*`` attributes, ``<picture>``
  sources) and readability keeps ``src`` while the extractors pick the ``srcset`` rendition
  closest to ``srcset_max_width``. :func:`element_keys` maps every candidate URL of every
  ``<img>`` of the source page (resolved the extractors' way) to the element's index, and
  both lists are compared as element keys; a URL no element offers stays its own key.
* Duplicates collapse to their first occurrence on both sides (the extractors keep each URL
  once per page, ``duplicate_in_page``).
* TP = kept URL in the gold list, FP = kept URL not in it, FN = gold URL not kept.
* Order: of the matched URLs, the share that lies on a longest common subsequence of the two
  orders (1.0 = every matched image in gold reading order).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kosmos_data.records import HtmlPage, Provenance

#: The URL readability's test harness gives every test page (its ``expected`` files use it).
READABILITY_BASE = "http://fakehost/test/page.html"


@dataclass(frozen=True, slots=True)
class ImageScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    in_order: int = 0  # matched images on the longest common subsequence of both orders
    pages: int = 0

    def __add__(self, other: ImageScore) -> ImageScore:
        return ImageScore(
            self.tp + other.tp,
            self.fp + other.fp,
            self.fn + other.fn,
            self.in_order + other.in_order,
            self.pages + other.pages,
        )

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def order(self) -> float:
        return self.in_order / self.tp if self.tp else 1.0


def _unique(urls: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for u in urls:
        if u not in seen:
            seen.add(u)
            out.append(u)
    return out


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def fetchable(urls: list[str]) -> list[str]:
    """The ``http(s)`` URLs of ``urls`` (what the image stage can fetch), order kept."""
    return [u for u in urls if u.lower().startswith(("http://", "https://"))]


def element_keys(html: str, page_url: str) -> dict[str, str]:
    """Every candidate URL of every ``<img>`` in ``html`` -> ``"img#<index>"`` (first wins)."""
    from selectolax.lexbor import LexborHTMLParser

    from kosmos_data.extract.images import (
        LAZY_SRC_ATTRS,
        LAZY_SRCSET_ATTRS,
        ImageCollector,
        page_base_url,
        parse_srcset,
    )

    tree = LexborHTMLParser(html)
    base = tree.css_first("base[href]")
    coll = ImageCollector(
        page_base_url(page_url, base.attributes.get("href") if base is not None else None)
    )
    keys: dict[str, str] = {}
    for i, img in enumerate(tree.css("img")):
        attrs = dict(img.attributes)
        raws = [attrs.get("src")] + [attrs.get(a) for a in LAZY_SRC_ATTRS]
        sets = [attrs.get("srcset")] + [attrs.get(a) for a in LAZY_SRCSET_ATTRS]
        parent = img.parent
        if parent is not None and parent.tag == "picture":
            for s in parent.css("source"):
                sets += [s.attributes.get("srcset"), s.attributes.get("data-srcset")]
        for v in sets:
            if v:
                raws += [u for u, _, _ in parse_srcset(v)]
        for raw in raws:
            if raw and raw.strip() and not raw.strip().startswith("data:"):
                url = coll.resolve(raw.strip())
                if url is not None:
                    keys.setdefault(url, f"img#{i}")
    return keys


def score_images(
    kept: list[str], gold: list[str], keys: dict[str, str] | None = None
) -> ImageScore:
    """Score the kept image URLs of one page against its gold list (rules in the module doc).

    ``keys`` (from :func:`element_keys`) maps URLs to element keys; None compares URLs.
    """
    keys = keys or {}
    k = _unique([keys.get(u, u) for u in kept])
    g = _unique([keys.get(u, u) for u in fetchable(gold)])
    gs = set(g)
    matched = [u for u in k if u in gs]
    ks = set(k)
    return ImageScore(
        tp=len(matched),
        fp=len(k) - len(matched),
        fn=sum(1 for u in g if u not in ks),
        in_order=_lcs(matched, [u for u in g if u in ks]),
        pages=1,
    )


@dataclass(slots=True)
class GoldPage:
    """One readability test page with its gold text and gold image list."""

    name: str
    page: HtmlPage
    images: list[str]  # as in expected-images.json (may hold data: URIs and duplicates)
    text: str
    readerable: bool


def load_readability(root: Path) -> Iterator[GoldPage]:
    """Yield the readability pages of the dev set (``root`` = ``.../extraction-dev``).

    A missing directory raises ``FileNotFoundError`` (tests must fail, not skip).
    """
    base = Path(root) / "readability"
    if not base.is_dir():
        raise FileNotFoundError(f"extraction-dev readability pages missing: {base}")
    for d in sorted(p for p in base.iterdir() if p.is_dir()):
        raw = gzip.decompress((d / "source.html.gz").read_bytes())
        html = raw.decode("utf-8", errors="replace")
        prov = Provenance(f"readability/{d.name}", "", 0, READABILITY_BASE, "")
        images = json.loads((d / "expected-images.json").read_text(encoding="utf-8"))
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        yield GoldPage(
            name=d.name,
            page=HtmlPage(prov, html, "utf-8", "default"),
            images=images,
            text=(d / "expected.txt").read_text(encoding="utf-8"),
            readerable=bool(meta.get("readerable")),
        )
