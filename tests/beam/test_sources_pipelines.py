"""The caption and text jobs end to end: generated inputs with planted cases -> shards that the
plain webdataset library reads, every row accounted for, reruns identical."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import webdataset as wds

from kosmos_data.outputs import read_parquet_dir
from kosmos_data.shards import CaptionSample, TextSample, iter_samples, read_manifest
from kosmos_samples.image_server import ImageServer
from kosmos_samples.sources import (
    SampleSourcesConfig,
    generate_caption_table,
    generate_text_corpus,
)
from kosmos_samples.synthetic import synthetic_photo
from tests.beam.conftest import dir_digest, load_funnel


def _manifest(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _tar_urls(shards: Path) -> list[str]:
    return [str(shards / s["name"]) for s in read_manifest(str(shards))["shards"]]


def test_text_job_outcomes_shards_and_rerun(tmp_path):
    from pipelines import text

    src = generate_text_corpus(tmp_path / "in" / "text.jsonl.gz", SampleSourcesConfig(seed=3))
    planted = _manifest(tmp_path / "in" / "text.manifest.jsonl")
    expect = Counter(r["expect"] for r in planted)
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        text.run(["--input", str(src), "--output", str(out), "--shard-maxcount", "10"])
        runs.append(out)
    out = runs[0]
    funnel = load_funnel(out)
    assert funnel["balanced"] and funnel["records_in"] == len(planted)
    assert funnel["kept"] == expect["kept"]
    assert funnel["dead_letter"]["total"] == expect["dead_letter"]
    by_stage = funnel["dropped"]["by_stage"]
    assert by_stage["langid"]["wrong_language"] >= sum(r["kind"] == "non_english" for r in planted)
    assert by_stage["dedup_text"]["duplicate_text"] == sum(
        r["kind"] == "duplicate" for r in planted
    )
    assert funnel["decontamination"]["skipped"] is True

    shards = out / "shards"
    raw = list(wds.WebDataset(_tar_urls(shards), shardshuffle=False, empty_check=False))
    assert len(raw) == expect["kept"] and all({"txt", "json"} <= set(r) for r in raw)
    samples = list(iter_samples(str(shards)))
    assert all(isinstance(s, TextSample) for s in samples)
    docs = read_parquet_dir(str(out / "docs")).to_pylist()
    assert sorted(s.key for s in samples) == sorted(d["id"] for d in docs)
    manifest = read_manifest(str(shards))
    assert manifest["source"] == "text" and manifest["totals"]["samples"] == expect["kept"]
    assert all(s["samples"] <= 10 for s in manifest["shards"])
    assert samples[0].meta["source_meta"]["pile_set_name"] == "Generated"
    # A rerun writes identical shards and Parquet.
    a, b = dir_digest(runs[0]), dir_digest(runs[1])
    for key in a:
        if key.startswith(("shards/", "docs/", "dropped/", "dead_letter/")):
            assert a[key] == b[key], key


def test_captions_job_fetches_images_into_caption_shards(tmp_path):
    from pipelines import captions

    urls = [f"https://img.example-cdn.test/captions/{i:06x}.jpg" for i in range(80)]
    src = generate_caption_table(tmp_path / "in" / "laion.parquet", urls, SampleSourcesConfig())
    planted = _manifest(tmp_path / "in" / "laion.manifest.jsonl")
    expect = Counter(r["expect"] for r in planted)
    out = tmp_path / "run"
    with ImageServer(synthesize=synthetic_photo) as server:
        funnel = captions.run(
            [
                "--input", str(src), "--output", str(out),
                "--image-mirror", server.mirror_base, "--allow-private-addresses",
                "--image-timeout", "5",
            ]
        )  # fmt: skip
    assert funnel["balanced"] and funnel["records_in"] == len(planted)
    assert funnel["dead_letter"]["total"] == expect["dead_letter"]
    assert funnel["kept"] == expect["kept"]
    drops = funnel["dropped"]["by_stage"]
    assert drops["caption_filter"] == {
        "caption_too_short": sum(r["kind"] == "short_caption" for r in planted),
        "low_clip_similarity": sum(r["kind"] == "low_similarity" for r in planted),
    }
    assert drops["langid"]["wrong_language"] == sum(r["kind"] == "non_english" for r in planted)
    dup = sum(r["kind"] == "duplicate" for r in planted)
    assert (
        sum(
            n
            for st in ("dedup_url", "dedup_text", "dedup_images")
            for n in drops.get(st, {}).values()
        )
        == dup
    )
    assert funnel["images"]["fetch_by_reason"] == {"ok": expect["kept"]}

    shards = out / "shards"
    raw = list(wds.WebDataset(_tar_urls(shards), shardshuffle=False, empty_check=False))
    assert len(raw) == expect["kept"]
    assert all({"jpg", "txt", "json"} <= set(r) for r in raw)
    samples = list(iter_samples(str(shards)))
    assert all(isinstance(s, CaptionSample) for s in samples)
    assert {(s.image.width, s.image.height) for s in samples} == {(224, 224)}
    assert all(s.image.meta["original_width"] == 320 for s in samples)
    good = {r["url"] for r in planted if r["kind"] == "good"}
    assert {s.meta["url"] for s in samples} == good
    manifest = read_manifest(str(shards))
    assert manifest["totals"]["images"] == expect["kept"]


def test_captions_job_checks_image_status_from_before_running(tmp_path):
    from pipelines import captions

    src = generate_caption_table(
        tmp_path / "in" / "laion.parquet", ["https://x.test/a.jpg"], SampleSourcesConfig()
    )
    argv = ["--input", str(src), "--output", str(tmp_path / "run")]
    assert captions.main([*argv, "--image-status-from", str(tmp_path / "nothing-here")]) == 2
    assert not (tmp_path / "run" / "docs").exists()  # refused before the run directory


def test_captions_help_states_the_fetch_default_and_no_fetch_images_runs(tmp_path, capsys):
    from pipelines import captions

    assert captions.main(["--help"]) == 0
    helptext = " ".join(capsys.readouterr().out.split())
    fetch_help = helptext.split("--fetch-images, --no-fetch-images", 1)[1].split("--image-size")[0]
    assert "(default: True)" in fetch_help, fetch_help  # the job's own default, not the core's
    # A LAION-style table with a broken IPv6 literal: a bad_url dead letter, not a crash.
    rows = [f"http://img.test/{i}.jpg\ta red bicycle leaning on a wall {i}" for i in range(5)]
    rows.insert(2, "http://[::1/x.jpg\ta red bicycle leaning on a wall x")
    src = tmp_path / "in" / "cc.tsv"
    src.parent.mkdir()
    src.write_text("url\tcaption\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    funnel = captions.run(["--input", str(src), "--output", str(out), "--no-fetch-images"])
    assert funnel["balanced"] and funnel["records_in"] == 6
    assert funnel["dead_letter"]["by_stage"]["read"] == {"bad_url": 1}
    assert funnel["kept"] == 5 and "images" not in funnel["dropped"]["by_stage"]
    docs = read_parquet_dir(str(out / "docs")).to_pylist()
    assert len(docs) == 5
    assert not list((out / "shards").glob("*.tar"))  # shards need fetched images
