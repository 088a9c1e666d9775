"""``kosmos-data inspect``: one JSON line per page with every stage's decision."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kosmos_cli import main as cli
from kosmos_data.inspect import STAGES, InspectConfig, Inspector, inspect_files, read_pages
from kosmos_data.prefilter import PrefilterConfig
from kosmos_data.records import DeadLetter
from kosmos_data.stages import interleaved_steps, run_steps

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WARC = SHARED / "warc" / "dolma" / "sample-0000.warc.gz"
DEV = SHARED / "extraction-dev" / "readability"


@pytest.fixture(scope="module")
def warc_records() -> list[dict]:
    assert WARC.is_file(), f"missing shared data: {WARC}"
    return list(inspect_files([str(WARC)]))


def _pipeline_outcome(page) -> tuple[str, str | None, str | None]:
    """What the interleaved job does with one page: the job's own chain runner
    (``run_steps``) over the same steps, stopping at the first drop or dead letter."""
    cfg = InspectConfig()
    steps = interleaved_steps(cfg)
    for step in steps:
        step.setup()
    res = run_steps(steps, page, {})
    if res.dead is not None:
        return "dead_letter", res.dead.stage, res.dead.reason
    if res.dropped is not None:
        return "dropped", res.dropped.stage, res.dropped.reason
    return "kept", None, None


def test_warc_gives_one_json_line_per_page_with_every_stage(warc_records) -> None:
    pages = [p for p in read_pages(str(WARC)) if not isinstance(p, DeadLetter)]
    assert len(warc_records) == len(pages) > 10
    outcomes = {r["outcome"] for r in warc_records}
    assert "kept" in outcomes and "dropped" in outcomes
    for rec in warc_records:
        json.loads(json.dumps(rec))  # JSON-serialisable as printed
        stages = [d["stage"] for d in rec["decisions"]]
        if rec["outcome"] != "dead_letter":
            assert tuple(stages) == STAGES, stages
        drops = [d for d in rec["decisions"] if d["decision"] != "kept"]
        if rec["outcome"] == "kept":
            assert not drops and rec["stage"] is None
        else:
            first = drops[0]
            assert (first["stage"], first["reason"]) == (rec["stage"], rec["reason"])
            assert "after_drop" not in first
            i = rec["decisions"].index(first)
            assert all(d.get("after_drop") is True for d in rec["decisions"][i + 1 :])
            assert not any(d.get("after_drop") for d in rec["decisions"][:i])


def test_outcomes_match_the_pipeline_steps(warc_records) -> None:
    pages = [p for p in read_pages(str(WARC)) if not isinstance(p, DeadLetter)]
    expected = [_pipeline_outcome(p) for p in pages]
    got = [(r["outcome"], r["stage"], r["reason"]) for r in warc_records]
    assert got == expected


def test_prefilter_drop_still_shows_what_the_extractor_made_of_the_page(warc_records) -> None:
    no_img = [r for r in warc_records if r["reason"] == "no_img_tag"]
    assert no_img, "the dolma sample has pages without <img"
    rec = no_img[0]
    assert rec["stage"] == "prefilter"
    extract = next(d for d in rec["decisions"] if d["stage"] == "extract")
    assert extract["after_drop"] is True and extract["decision"] == "kept"
    assert rec["segments"] and all("text" in s or "image" in s for s in rec["segments"])
    quality = next(d for d in rec["decisions"] if d["stage"] == "quality")
    assert "statistics" in quality and "nodes_removed" in quality


def test_kept_page_lists_segments_quality_statistics_and_sampling(warc_records) -> None:
    rec = next(r for r in warc_records if r["outcome"] == "kept")
    assert any("image" in s for s in rec["segments_final"])
    quality = next(d for d in rec["decisions"] if d["stage"] == "quality")
    assert quality["statistics"]["words"] >= 50
    lang = next(d for d in rec["decisions"] if d["stage"] == "langid")
    assert lang["language"] == "en" and lang["language_score"] >= 0.65
    sampling = next(d for d in rec["decisions"] if d["stage"] == "sampling")
    assert sampling["images_kept"] == sum("image" in s for s in rec["segments_final"])


def test_html_file_through_the_cli(tmp_path, capsys) -> None:
    """A real dev page as an HTML file, with --url; then a page without <img> (dropped by
    the pre-filter, but every later stage still reported)."""
    html = gzip.decompress((DEV / "citylab-1" / "source.html.gz").read_bytes())
    page = tmp_path / "citylab.html"
    page.write_bytes(html)
    bare = tmp_path / "bare.html"
    bare.write_text("<html><body><p>" + "A sentence of plain text, no images. " * 30)
    url = "http://fakehost/test/page.html"
    assert cli.main(["inspect", str(page), str(bare), "--url", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    a, b = (json.loads(x) for x in lines)
    assert a["url"] == url and a["outcome"] == "kept"
    assert [d["decision"] for d in a["decisions"]] == ["kept"] * len(STAGES)
    assert a["segments"][0].keys() >= {"text"} or a["segments"][0].keys() >= {"image"}
    imgs = [s["image"] for s in a["segments"] if "image" in s]
    assert imgs and all(u.startswith("https://") for u in imgs)
    assert "confidence" in a
    assert (b["outcome"], b["stage"], b["reason"]) == ("dropped", "prefilter", "no_img_tag")
    later = [d for d in b["decisions"] if d["stage"] != "prefilter"]
    assert later and all(d["after_drop"] for d in later)
    assert next(d for d in later if d["stage"] == "sampling")["reason"] == "no_images"


def test_fidelity_extractor_and_errors(tmp_path, capsys) -> None:
    page = tmp_path / "p.html"
    page.write_bytes(gzip.decompress((DEV / "001" / "source.html.gz").read_bytes()))
    assert cli.main(["inspect", str(page), "--extractor", "fidelity"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert next(d for d in rec["decisions"] if d["stage"] == "extract")["extractor"] == "fidelity"
    assert rec["url"].startswith("file://")
    assert cli.main(["inspect", str(tmp_path / "missing.html")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli.main(["inspect", str(WARC), "--url", "https://nowhere.invalid/"]) == 1


def test_undecodable_payload_is_a_dead_letter_not_a_crash(tmp_path) -> None:
    p = tmp_path / "empty.html"
    p.write_bytes(b"   ")
    (rec,) = inspect_files([str(p)])
    assert (rec["outcome"], rec["stage"]) == ("dropped", "prefilter")  # the first decision
    last = rec["decisions"][-1]
    assert (last["stage"], last["decision"], last["reason"]) == (
        "extract",
        "dead_letter",
        "extraction_error",
    )
    assert last["after_drop"] is True and rec["segments"] == []
    # without the pre-filter drop, the dead letter is the outcome
    cfg = InspectConfig(prefilter=PrefilterConfig(require_img=False))
    (rec,) = inspect_files([str(p)], config=cfg)
    assert (rec["outcome"], rec["stage"], rec["reason"]) == (
        "dead_letter",
        "extract",
        "extraction_error",
    )
    assert Inspector().config == InspectConfig()


def test_opt_out_confidence_and_pii_are_reported(tmp_path, capsys) -> None:
    """A real dev page with a planted ``noai`` robots meta and a planted e-mail address: the
    opt-out step drops it (signal named), the later stages still report, the extraction
    confidence is the extractor's, and the PII step counts the address."""
    html = gzip.decompress((DEV / "citylab-1" / "source.html.gz").read_bytes()).decode("utf-8")
    planted = html.replace("<head>", '<head><meta name="robots" content="noai">', 1).replace(
        "<p>", "<p>Write to jane.doe@example.org today. ", 1
    )
    page = tmp_path / "optout.html"
    page.write_text(planted, encoding="utf-8")
    assert cli.main(["inspect", str(page), "--url", "http://fakehost/test/page.html"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert (rec["outcome"], rec["stage"], rec["reason"]) == ("dropped", "optout", "noai_meta")
    assert 0.0 < rec["confidence"] <= 1.0
    stages = [d["stage"] for d in rec["decisions"]]
    assert stages == list(STAGES)
    pii = next(d for d in rec["decisions"] if d["stage"] == "pii")
    assert pii["after_drop"] is True and pii["replaced"].get("email", 0) >= 1
