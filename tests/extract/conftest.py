"""Shared fixtures: pages built from strings, and the labelled eval set beside the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

from kosmos_data.records import HtmlPage, Provenance

REPO = Path(__file__).resolve().parents[2]
EVAL_JSONL = REPO / "tests" / "data" / "extraction_eval" / "pages.jsonl"


def make_page(html: str, url: str = "https://example.org/a/b/page.html") -> HtmlPage:
    prov = Provenance(
        warc_file="test.warc.gz",
        record_id="<urn:uuid:test>",
        offset=0,
        url=url,
        fetch_date="2024-01-01T00:00:00Z",
    )
    return HtmlPage(provenance=prov, html=html, charset="utf-8", charset_source="default")


@pytest.fixture(scope="session")
def eval_pages():
    """The labelled pages; a missing ../shared file is an error (FileNotFoundError), not a skip."""
    from kosmos_data.extract.evaluate import load_eval_set

    return list(load_eval_set(EVAL_JSONL, REPO))
