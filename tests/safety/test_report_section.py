"""The HTML report's safety section, from a funnel built the way a run builds it."""

from __future__ import annotations

from kosmos_cli.report import render_report
from kosmos_data.funnel import build_funnel


def test_safety_section_shows_each_rule():
    counts = {
        ("records_in", "read", ""): 10,
        ("dropped", "optout", "noai_header"): 2,
        ("dropped", "optout", "tdm_reservation_meta"): 1,
        ("dropped", "images", "nsfw_document"): 1,
        ("kept", "", ""): 6,
        ("pii_replaced", "pii", "email"): 4,
        ("pii_replaced", "pii", "phone"): 1,
        ("image_fetch", "images", "nsfw_image"): 3,
        ("image_fetch", "images", "blocked_hash"): 2,
        ("image_fetch", "images", "tdmrep_reserved"): 5,
        ("image_fetch", "images", "ok"): 9,
        ("image_dropped", "images", "nsfw_image"): 4,
    }
    funnel = build_funnel(counts, ("read", "optout", "pii", "images"))
    assert funnel["balanced"]
    assert funnel["safety"] == {
        "optout": {"noai_header": 2, "tdm_reservation_meta": 1},
        "pii_replaced": {"email": 4, "phone": 1},
        "images": {"tdmrep_reserved": 5, "blocked_hash": 2, "nsfw_image": 3},
        "image_occurrences": {"nsfw_image": 4},
        "nsfw_documents": 1,
    }
    html = render_report(funnel)
    assert "<h2>Safety and rights</h2>" in html
    shown = (
        "<b>3</b>pages opted out", "<b>5</b>PII replacements", "<b>3</b>NSFW images",
        "<b>1</b>NSFW documents", "<b>2</b>blocked by hash list", "tdmrep_reserved",
    )  # fmt: skip
    for text in shown:
        assert text in html, text
    # an older funnel.json without the section still renders
    del funnel["safety"]
    assert "<h2>Safety and rights</h2>" in render_report(funnel)
