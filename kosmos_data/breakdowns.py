"""Corpus breakdowns for ``funnel.json`` and ``kosmos-data report``: languages, domains,
images per document (Beam-free core).

They are accounting events like the funnel's own (``(kind, stage, reason) -> n``), summed by
the same per-key combine, so every runner computes them. Domains are unbounded (millions at
Common Crawl scale), so only the top ``TOP_DOMAINS`` and the number of distinct domains are
kept (the Beam side ranks them with a bounded ``Top`` combine).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from kosmos_data.records import Document

DOC_LANGUAGE = "doc_language"
DOC_IMAGES = "doc_images"
DOC_DOMAIN = "doc_domain"
DISTINCT_DOMAINS = "distinct_domains"
BREAKDOWN_STAGE = "output"
TOP_DOMAINS = 25

CountKey = tuple[str, str, str]


def domain_of(url: str) -> str:
    """The URL's host, lower-cased, without ``www.`` (``""`` when there is none)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")


def document_events(doc: Document) -> list[tuple[CountKey, int]]:
    """Per kept document: its language and its number of images."""
    lang = str(doc.meta.get("language") or "unknown")
    n_images = sum(1 for s in doc.segments if s.image is not None)
    return [
        ((DOC_LANGUAGE, BREAKDOWN_STAGE, lang), 1),
        ((DOC_IMAGES, BREAKDOWN_STAGE, str(n_images)), 1),
    ]


def breakdowns(counts: Mapping[CountKey, int]) -> dict[str, object]:
    """The ``breakdowns`` section of ``funnel.json`` from summed events."""
    langs: dict[str, int] = {}
    images: dict[int, int] = {}
    domains: dict[str, int] = {}
    distinct = 0
    for (kind, _, reason), n in counts.items():
        if kind == DOC_LANGUAGE:
            langs[reason] = langs.get(reason, 0) + n
        elif kind == DOC_IMAGES:
            images[int(reason)] = images.get(int(reason), 0) + n
        elif kind == DOC_DOMAIN:
            domains[reason] = domains.get(reason, 0) + n
        elif kind == DISTINCT_DOMAINS:
            distinct += n
    by_count = sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_DOMAINS]
    return {
        "languages": dict(sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))),
        "images_per_document": {str(k): images[k] for k in sorted(images)},
        "top_domains": dict(by_count),
        "distinct_domains": distinct,
    }
