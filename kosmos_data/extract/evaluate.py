"""Snippet-based extraction quality scoring (pure functions) and the eval-set loader.

Each labelled page lists ``must`` snippets (main content a good extractor outputs) and
``must_not`` snippets (navigation, footers, cookie banners, sidebars...). After whitespace
normalisation and case folding (so block separators and ``text-transform`` do not matter):

* TP = ``must`` snippet found, FN = ``must`` snippet missing, FP = ``must_not`` found;
* precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean,
  micro-averaged over all snippets of all pages.

This is the protocol of the trafilatura evaluation (Barbaresi 2021, ACL demo,
https://aclanthology.org/2021.acl-demo.15/), which the held-out set also follows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kosmos_data.records import HtmlPage, Provenance


def normalize(text: str) -> str:
    """Collapse all whitespace runs to one space and case-fold."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True, slots=True)
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0

    def __add__(self, other: Score) -> Score:
        return Score(self.tp + other.tp, self.fn + other.fn, self.fp + other.fp)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score_text(text: str, must: Iterable[str], must_not: Iterable[str]) -> Score:
    """Score one extracted text against one page's snippets."""
    hay = normalize(text)
    tp = fn = fp = 0
    for s in must:
        if normalize(s) in hay:
            tp += 1
        else:
            fn += 1
    for s in must_not:
        if normalize(s) in hay:
            fp += 1
    return Score(tp, fn, fp)


def micro(scores: Iterable[Score]) -> Score:
    total = Score()
    for s in scores:
        total = total + s
    return total


@dataclass(slots=True)
class EvalPage:
    page: HtmlPage
    must: list[str]
    must_not: list[str]
    label: str


def _read_warc_record(path: Path, record_id: str) -> tuple[bytes, str, str, str | None, int]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    with open(path, "rb") as f:
        for rec in ArchiveIterator(f, parse_http=True, auto_decode="all"):
            if rec.record_type != WarcRecordType.response:
                continue
            if rec.headers.get("WARC-Record-ID") != record_id:
                continue
            ct = rec.http_headers.get("Content-Type") if rec.http_headers else None
            charset = None
            if ct and "charset=" in ct.lower():
                charset = ct.lower().split("charset=", 1)[1].split(";")[0].strip().strip("\"'")
            return (
                rec.reader.read(),
                rec.headers.get("WARC-Target-URI", ""),
                rec.headers.get("WARC-Date", ""),
                charset,
                rec.stream_pos,
            )
    raise FileNotFoundError(f"record {record_id} not found in {path}")


def _decode(body: bytes, charset: str | None) -> tuple[str, str]:
    for cs in (charset, "utf-8"):
        if not cs:
            continue
        try:
            return body.decode(cs), cs
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", errors="replace"), "utf-8"


def load_eval_set(jsonl: Path, repo_root: Path) -> Iterator[EvalPage]:
    """Yield labelled pages; ``source`` paths are relative to ``repo_root``.

    Missing source files raise ``FileNotFoundError`` (tests must fail, not skip).
    """
    for line in Path(jsonl).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        src = (repo_root / item["source"]).resolve()
        if not src.exists():
            raise FileNotFoundError(f"eval source missing: {src}")
        if "record_id" in item:
            body, uri, date, cs, offset = _read_warc_record(src, item["record_id"])
            html, charset = _decode(body, cs)
            prov = Provenance(
                warc_file=item["source"],
                record_id=item["record_id"],
                offset=offset,
                url=item.get("url") or uri.strip("<>"),
                fetch_date=date,
            )
            label = f"{src.name}#{item['record_id']}"
        else:
            html, charset = _decode(src.read_bytes(), None)
            prov = Provenance(
                warc_file=item["source"], record_id="", offset=0, url=item["url"], fetch_date=""
            )
            label = src.name
        page = HtmlPage(provenance=prov, html=html, charset=charset, charset_source="default")
        yield EvalPage(page=page, must=item["must"], must_not=item.get("must_not", []), label=label)
