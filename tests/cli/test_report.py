"""``kosmos-data report``: the HTML page rendered from a funnel (pure, offline)."""

from __future__ import annotations

import json
import re

from kosmos_cli.report import main, render_report
from kosmos_data.breakdowns import DISTINCT_DOMAINS, DOC_DOMAIN, DOC_IMAGES, DOC_LANGUAGE
from kosmos_data.funnel import (
    DEAD_LETTER,
    DROPPED,
    FILES,
    IMAGES_KEPT,
    KEPT,
    RECORDS_IN,
    build_funnel,
)


def _funnel() -> dict:
    counts = {
        (FILES, "", ""): 2,
        (RECORDS_IN, "", ""): 1000,
        (KEPT, "", ""): 40,
        (DROPPED, "prefilter", "not_response"): 700,
        (DROPPED, "langid", "wrong_language"): 200,
        (DROPPED, "sampling", "single_image_sampled_out"): 59,
        (DEAD_LETTER, "read", "bad_http_headers"): 1,
        (IMAGES_KEPT, "sampling", ""): 120,
        (DOC_LANGUAGE, "output", "en"): 40,
        (DOC_IMAGES, "output", "1"): 10,
        (DOC_IMAGES, "output", "5"): 30,
        (DOC_DOMAIN, "output", "example.org"): 25,
        (DOC_DOMAIN, "output", "<script>x</script>.test"): 15,
        (DISTINCT_DOMAINS, "output", ""): 2,
    }
    order = ("read", "prefilter", "langid", "sampling")
    f = build_funnel(counts, order, extra={"pipeline": "interleaved", "output": "runs/r1"})
    f["run"] = {"runner": "DirectRunner", "wall_seconds": 10.0, "records_read": 1000,
                "archives_read": 2, "archives_resumed": 0}  # fmt: skip
    return f


def test_funnel_breakdowns_are_summed_and_ranked():
    br = _funnel()["breakdowns"]
    assert br["languages"] == {"en": 40}
    assert br["images_per_document"] == {"1": 10, "5": 30}
    assert list(br["top_domains"]) == ["example.org", "<script>x</script>.test"]
    assert br["distinct_domains"] == 2


def test_report_page_is_self_contained_and_complete():
    page = render_report(_funnel())
    assert page.startswith("<!DOCTYPE html>")
    # Nothing fetched from anywhere: no external URLs in src/href, no scripts at all.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script" not in page  # also proves the domain label was escaped
    assert "&lt;script&gt;x&lt;/script&gt;.test" in page
    # funnel, reasons, images/doc, languages, domains (no image drops here: "(none)")
    assert page.count("<svg") == 5 and "(none)" in page
    for text in ("records in", "1,000", "not_response", "wrong_language", "balanced",
                 "<b>100</b>records/s", "single_image_sampled_out"):  # fmt: skip
        assert text in page, text


def test_unbalanced_funnel_is_flagged():
    f = _funnel()
    f["balanced"] = False
    assert "NOT balanced" in render_report(f)


def test_report_cli(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    (tmp_path / "funnel.json").write_text(json.dumps(_funnel()))
    assert main([str(tmp_path)]) == 0
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
