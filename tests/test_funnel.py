from kosmos_data.funnel import build_funnel, format_funnel_table

#: The interleaved job's per-record stages (each job passes its own, ``pipelines.common``).
ORDER = ("read", "prefilter", "decode", "extract", "langid", "quality", "sampling")


def counts():
    return {
        ("files", "", ""): 2,
        ("records_in", "", ""): 100,
        ("dropped", "prefilter", "not_response"): 60,
        ("dropped", "prefilter", "no_img_tag"): 10,
        ("dead_letter", "read", "corrupt_archive"): 1,
        ("dead_letter", "extract", "extraction_timeout"): 2,
        ("dropped", "langid", "wrong_language"): 5,
        ("dropped", "sampling", "single_image_sampled_out"): 4,
        ("kept", "", ""): 18,
        ("image_dropped", "extract", "tracking_pixel"): 7,
        ("image_dropped", "sampling", "over_max_images"): 3,
        ("images_kept", "sampling", ""): 40,
    }


def test_identity_and_stage_table():
    f = build_funnel(counts(), ORDER)
    assert f["records_in"] == 100 and f["kept"] == 18
    assert f["dropped"]["total"] == 79 and f["dead_letter"]["total"] == 3
    assert f["balanced"] is True
    rows = {r["stage"]: r for r in f["stages"]}
    assert rows["read"] == {
        "stage": "read", "in": 100, "dropped": 0, "dead_letter": 1, "out": 99,
        "reasons": {"dead:corrupt_archive": 1},
    }  # fmt: skip
    assert rows["prefilter"]["in"] == 99 and rows["prefilter"]["out"] == 29
    assert f["stages"][-1]["out"] == f["kept"]
    assert f["images"] == {
        "kept": 40, "dropped_by_reason": {"tracking_pixel": 7, "over_max_images": 3}
    }  # fmt: skip


def test_unbalanced_is_reported():
    c = counts()
    c[("kept", "", "")] = 17
    f = build_funnel(c, ORDER)
    assert f["balanced"] is False
    assert "NOT BALANCED" in format_funnel_table(f)


def test_unknown_stage_is_not_lost():
    c = counts()
    c[("dropped", "dedup", "near_duplicate")] = 1
    c[("kept", "", "")] = 17
    f = build_funnel(c, ORDER)
    assert [r["stage"] for r in f["stages"]][-1] == "dedup"
    assert f["balanced"] is True


def test_table_mentions_reasons():
    table = format_funnel_table(build_funnel(counts(), ORDER))
    assert "not_response=60" in table and "[balanced]" in table


def test_markdown_and_latex_tables_for_a_paper():
    import pytest

    from kosmos_data.funnel import format_funnel

    f = build_funnel(counts(), ORDER)
    md = format_funnel(f, "markdown").splitlines()
    assert md[0].startswith("| stage | in | dropped | dead-lettered | out | % of records read")
    rows = {line.split(" | ")[0].strip("| "): line for line in md[2:] if line.startswith("|")}
    assert list(rows) == [r["stage"] for r in f["stages"]]
    # prefilter: 99 in, 70 dropped, 29 out = 29.00% of the 100 records read
    assert rows["prefilter"] == (
        "| prefilter | 99 | 70 | 0 | 29 | 29.00 | `not_response` 60, `no_img_tag` 10 |"
    )
    assert md[-1].endswith("[balanced]")
    tex = format_funnel(f, "latex")
    assert "\\toprule" in tex and "\\bottomrule" in tex and "\\begin{tabular}{lrrrrrl}" in tex
    assert "not\\_response (60), no\\_img\\_tag (10) \\\\" in tex  # underscores escaped
    assert "\\% of read" in tex and "not_response" not in tex
    assert "100 records read, 18 kept, 79 dropped, 3 dead-lettered." in tex
    assert format_funnel(f) == format_funnel_table(f)
    with pytest.raises(ValueError, match="funnel format"):
        format_funnel(f, "csv")


def test_funnel_command_prints_each_format(tmp_path, capsys):
    import json

    from kosmos_cli.main import main

    (tmp_path / "funnel.json").write_text(json.dumps(build_funnel(counts(), ORDER)))
    assert main(["funnel", str(tmp_path), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("| stage |")
    assert main(["funnel", str(tmp_path), "--format", "latex"]) == 0
    assert capsys.readouterr().out.startswith("\\begin{table}")


def test_extract_confidence_deciles_and_fallbacks_reach_the_funnel():
    from kosmos_data.funnel import EXTRACT_CONFIDENCE, build_funnel, confidence_counters
    from kosmos_data.records import Document, Provenance

    prov = Provenance("w", "r", 0, "https://x.org/", "")
    docs = [
        Document("a", prov, [], "fast", {"extraction_confidence": 0.93}),
        Document("b", prov, [], "fast", {"extraction_confidence": 0.95}),
        Document(
            "c",
            prov,
            [],
            "fidelity",
            {"extraction_confidence": 0.41, "extraction_fallback": "fidelity"},
        ),
        Document("d", prov, [], "fidelity", {}),  # fidelity mode: no confidence, no count
    ]
    counts: dict = {}
    for d in docs:
        for k, n in confidence_counters(d).items():
            counts[k] = counts.get(k, 0) + n
    assert counts == {
        (EXTRACT_CONFIDENCE, "extract", "0.9-1.0"): 2,
        (EXTRACT_CONFIDENCE, "extract", "0.4-0.5"): 1,
        (EXTRACT_CONFIDENCE, "extract", "fallback:fidelity"): 1,
    }
    funnel = build_funnel(counts, ORDER)
    assert funnel["extract_confidence"] == {"0.4-0.5": 1, "0.9-1.0": 2, "fallback:fidelity": 1}
