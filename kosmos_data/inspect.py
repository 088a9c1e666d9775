"""``kosmos-data inspect``: what the pipeline decides about single pages, and why.

    kosmos-data inspect page.html [--url https://example.org/a] [--extractor fidelity]
    kosmos-data inspect crawl.warc.gz [--url URL] [--config stages.json]

For every page of the given HTML files or WARC/ARC archives (plain or gzipped) it prints one
JSON line: the URL, the extracted segments in order (text blocks and images), the extraction
confidence (``Document.meta["confidence"]`` where the extractor sets one, else null), the
segments left after every stage, and every per-page stage's decision: ``prefilter``,
``decode``, ``extract``, ``langid``, ``quality`` (with its statistics and the text nodes it
removed per reason) and ``sampling`` (with the images it capped). The decisions come from the
*same* step objects the interleaved job runs (``kosmos_data.stages``: ``PrefilterStep``,
``ExtractStep``, ``LanguageStep``, ``QualityStep``, ``SamplingStep``, built from the same
config sections as ``--config`` of ``kosmos-data run interleaved``), so a page's verdict here
is its verdict in a run.

Unlike the pipeline it keeps going after the first drop: later stages still run and their
decisions carry ``"after_drop": true``, so a user also sees what the extractor made of a page
the pre-filter would have dropped. Only a dead letter (an unreadable record, a payload that
cannot be decoded, an extractor failure) ends a page early: there is nothing to go on.
``outcome`` is what the pipeline would do with the page: ``kept``, or ``dropped`` /
``dead_letter`` with the stage and reason of the first failing stage.

Corpus-level stages (deduplication, decontamination, image download) need the whole run and
are not per-page decisions; they are not shown.

An input is read as an archive when it starts with ``WARC/`` or ``filedesc://`` (after gzip
decompression); anything else is one HTML page, served as ``200 text/html`` with the URL
``--url`` (default: the file's ``file://`` URI). For archives ``--url`` selects the records
with that target URI; records that are not pages (requests, warcinfo, metadata: not in
``PrefilterConfig.record_types``) are left out unless ``--all-records``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kosmos_data.config import ConfigError, build_config, load_config_file
from kosmos_data.decode import DecodeError, decode_html
from kosmos_data.extract import ExtractConfig
from kosmos_data.extract.common import CONFIDENCE_KEY
from kosmos_data.filters.langid import LangIdConfig
from kosmos_data.filters.quality import QualityConfig
from kosmos_data.prefilter import PrefilterConfig
from kosmos_data.records import DeadLetter, Document, Provenance, RawPage, Segment
from kosmos_data.safety.optout import OptOutConfig
from kosmos_data.safety.pii import PiiConfig
from kosmos_data.sampling import SamplingConfig
from kosmos_data.stages import Outcome, funnel_stages, interleaved_steps
from kosmos_data.warc import ReadConfig, iter_records


@dataclass(frozen=True, slots=True)
class InspectConfig:
    """The stage configs inspect runs with; defaults are the interleaved job's defaults."""

    read: ReadConfig = field(default_factory=ReadConfig)
    prefilter: PrefilterConfig = field(default_factory=PrefilterConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    langid: LangIdConfig = field(default_factory=LangIdConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    optout: OptOutConfig = field(default_factory=OptOutConfig)
    pii: PiiConfig = field(default_factory=PiiConfig)

    def __post_init__(self) -> None:
        for name, cls in _SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"InspectConfig.{name} must be a {cls.__name__}")


_SECTIONS: dict[str, type] = {
    "read": ReadConfig,
    "prefilter": PrefilterConfig,
    "extract": ExtractConfig,
    "langid": LangIdConfig,
    "quality": QualityConfig,
    "sampling": SamplingConfig,
    "optout": OptOutConfig,
    "pii": PiiConfig,
}


#: Per-page stages, in pipeline order (``decode`` runs inside ``ExtractStep``).
STAGES = tuple(funnel_stages(interleaved_steps(InspectConfig())))


def config_from_file(path: str | None, extractor: str | None = None) -> InspectConfig:
    """The stage sections of a ``--config`` JSON file (other sections are ignored)."""
    data = load_config_file(path)
    sections = {name: build_config(cls, data.get(name), name) for name, cls in _SECTIONS.items()}
    if extractor is not None:
        ext = dict(data.get("extract") or {})
        ext["mode"] = extractor
        sections["extract"] = build_config(ExtractConfig, ext, "extract")
    return InspectConfig(**sections)


class Inspector:
    """The pipeline's per-page steps, built once; ``inspect(page)`` returns one JSON record."""

    def __init__(self, config: InspectConfig | None = None) -> None:
        self.config = config or InspectConfig()
        #: The job's own chain (``interleaved_steps``), in the job's order.
        self.steps = interleaved_steps(self.config)
        prefilter, optout, extract, *self.doc_steps = self.steps
        assert (prefilter.name, optout.name, extract.name) == ("prefilter", "optout", "extract")
        self.prefilter, self.optout, self.extract = prefilter, optout, extract
        self._ready = False

    def setup(self) -> None:
        if not self._ready:
            for step in self.steps:
                step.setup()
            self._ready = True

    def inspect(self, page: RawPage) -> dict[str, Any]:
        self.setup()
        decisions: list[dict[str, Any]] = []
        first: dict[str, Any] | None = None

        def decide(stage: str, verdict: str | None, **extra: Any) -> None:
            nonlocal first
            d: dict[str, Any] = {
                "stage": stage,
                "decision": "kept" if verdict is None else "dropped",
            }
            if verdict is not None:
                d["reason"] = verdict
            if first is not None:
                d["after_drop"] = True
            d.update(extra)
            decisions.append(d)
            if verdict is not None and first is None:
                first = {"outcome": "dropped", "stage": stage, "reason": verdict}

        def dead(letter: DeadLetter) -> dict[str, Any]:
            d = {"stage": letter.stage, "decision": "dead_letter", "reason": letter.reason}
            d["error"] = letter.error
            if first is not None:
                d["after_drop"] = True
            decisions.append(d)
            return first or {
                "outcome": "dead_letter",
                "stage": letter.stage,
                "reason": letter.reason,
            }

        rec: dict[str, Any] = {
            "url": page.provenance.url,
            "source": page.provenance.warc_file,
            "record_id": page.provenance.record_id,
            "offset": page.provenance.offset,
            "http_status": page.http_status,
            "mime_type": page.mime_type,
        }
        outcome = self.prefilter(page)
        decide("prefilter", outcome.verdict, bytes=len(page.payload))
        outcome = self.optout(page)  # the archived response's AI opt-outs (kosmos_data.safety)
        decide("optout", outcome.verdict, **({"signal": outcome.detail} if outcome.detail else {}))

        result = self.extract(page)  # decode + extract, exactly as in the job
        if result.dead is not None:
            if result.dead.stage == "extract":
                decide("decode", None, **_charset(page))
            rec.update(_empty(), **dead(result.dead))
            rec["decisions"] = decisions
            return rec
        doc = result.record
        assert isinstance(doc, Document)
        decide("decode", None, **_charset(page))
        drops = dict(doc.meta.get("image_drops") or {})
        decide(
            "extract",
            None,
            extractor=doc.extractor,
            segments=len(doc.segments),
            images=len(doc.images),
            words=len(doc.text.split()),
            images_dropped=drops,
        )
        rec["title"] = doc.meta.get("title")
        rec["confidence"] = doc.meta.get(CONFIDENCE_KEY)
        rec["segments"] = segments_json(doc.segments)

        for step in self.doc_steps:
            out = step(doc)
            decide(step.name, out.verdict, **_EXTRAS[step.name](doc, out))
            if step.name == "quality":
                rec["segments_after_quality"] = segments_json(doc.segments)
        rec["segments_final"] = segments_json(doc.segments)
        rec.update(first or {"outcome": "kept", "stage": None, "reason": None})
        rec["decisions"] = decisions
        return rec


def _quality_extras(doc: Document, out: Outcome) -> dict[str, Any]:
    stats = doc.meta.get("quality")
    return {
        "statistics": copy.deepcopy(stats) if isinstance(stats, dict) else {},
        "nodes_removed": _by_reason(out),
    }


#: What each document step's decision shows beside its verdict.
_EXTRAS: dict[str, Any] = {
    "sampling": lambda doc, out: {
        "images_capped": _by_reason(out).get("over_max_images", 0),
        "images_kept": len(doc.images),
        "sampling": copy.deepcopy(doc.meta.get("sampling")),
    },
    "langid": lambda doc, out: {
        "language": doc.meta.get("language"),
        "language_score": doc.meta.get("language_score"),
    },
    "quality": _quality_extras,
    "pii": lambda doc, out: {"replaced": _by_reason(out)},
}


def _charset(page: RawPage) -> dict[str, Any]:
    try:
        html = decode_html(page)  # the call ExtractStep makes; cheap next to extraction
    except DecodeError:  # pragma: no cover - ExtractStep already returned a dead letter then
        return {}
    return {"charset": html.charset, "charset_source": html.charset_source}


def _by_reason(out: Outcome) -> dict[str, int]:
    return {reason: n for (_, _, reason), n in sorted(out.counters.items()) if reason}


def _empty() -> dict[str, Any]:
    return {"title": None, "confidence": None, "segments": []}


def segments_json(segments: Iterable[Segment]) -> list[dict[str, Any]]:
    """Segments as JSON: ``{"text": ...}`` or ``{"image": url, "alt", "width", "height"}``."""
    out: list[dict[str, Any]] = []
    for s in segments:
        if s.image is not None:
            im = s.image
            out.append(
                {
                    "image": im.url,
                    "alt": im.alt,
                    "width": im.width,
                    "height": im.height,
                    "source": im.source,
                }
            )
        else:
            out.append({"text": s.text})
    return out


# ------------------------------------------------------------------------------ reading inputs


def _is_archive(head: bytes) -> bool:
    """WARC/ARC by their first bytes, after gunzipping the start of a gzip stream."""
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 64)
        except zlib.error:
            return False
    return head.startswith(b"WARC/") or head.lower().startswith(b"filedesc://")


def read_pages(
    path: str,
    url: str | None = None,
    config: InspectConfig | None = None,
    all_records: bool = False,
) -> Iterator[RawPage | DeadLetter]:
    """The pages of one input: the records of an archive (``url``: only that target URI),
    or the file itself as one HTML page (``url``: its URL, default ``file://...``).

    Records whose WARC type is not one the pre-filter takes as a page
    (``PrefilterConfig.record_types``: requests, warcinfo, metadata) are skipped unless
    ``all_records``; dead letters of the reader are always yielded.
    """
    config = config or InspectConfig()
    p = Path(path)
    with open(p, "rb") as f:
        head = f.read(4096)
    if _is_archive(head):
        want = url.strip().strip("<>") if url else None
        types = config.prefilter.record_types
        with open(p, "rb") as f:
            for rec in iter_records(f, str(p), config.read):
                if want is not None and rec.provenance.url.strip().strip("<>") != want:
                    continue
                if isinstance(rec, RawPage) and not all_records and rec.record_type not in types:
                    continue
                yield rec
        return
    payload = p.read_bytes()
    page_url = url or p.resolve().as_uri()
    prov = Provenance(warc_file=str(p), record_id="", offset=0, url=page_url, fetch_date="")
    yield RawPage(prov, "response", 200, "text/html", None, payload)


def inspect_files(
    paths: Iterable[str],
    url: str | None = None,
    config: InspectConfig | None = None,
    all_records: bool = False,
) -> Iterator[dict[str, Any]]:
    """One JSON-able record per page of every input (see the module docstring)."""
    inspector = Inspector(config)
    for path in paths:
        for item in read_pages(path, url, inspector.config, all_records):
            if isinstance(item, DeadLetter):
                yield {
                    "url": item.provenance.url,
                    "source": item.provenance.warc_file,
                    "record_id": item.provenance.record_id,
                    "offset": item.provenance.offset,
                    **_empty(),
                    "outcome": "dead_letter",
                    "stage": item.stage,
                    "reason": item.reason,
                    "decisions": [
                        {
                            "stage": item.stage,
                            "decision": "dead_letter",
                            "reason": item.reason,
                            "error": item.error,
                        }
                    ],
                }
                continue
            yield inspector.inspect(item)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="kosmos-data inspect",
        description="Print one JSON line per page: segments and every stage's decision.",
    )
    ap.add_argument("files", nargs="+", metavar="FILE", help="HTML files or WARC/ARC archives")
    ap.add_argument("--url", default=None, help="URL of an HTML file / record to pick in archives")
    ap.add_argument("--extractor", choices=("fast", "fidelity"), default=None)
    ap.add_argument("--config", default=None, help="JSON file of stage config sections")
    ap.add_argument(
        "--all-records",
        action="store_true",
        help="also show archive records that are not pages (requests, warcinfo, metadata)",
    )
    args = ap.parse_args(argv)
    for f in args.files:
        if not Path(f).is_file():
            print(f"error: {f}: no such file", file=sys.stderr)
            return 2
    try:
        config = config_from_file(args.config, args.extractor)
    except (ConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    n = 0
    for rec in inspect_files(args.files, args.url, config, args.all_records):
        sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
        n += 1
    if n == 0 and args.url:
        print(f"error: no record with URL {args.url}", file=sys.stderr)
        return 1
    return 0
