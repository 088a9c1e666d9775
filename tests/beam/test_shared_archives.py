"""The interleaved job over every real archive in ../shared/data/warc (real crawls and
malformed files): nothing crashes, bad records are dead-lettered with reasons, and the
funnel balances. Fails (does not skip) when the shared data is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kosmos_data.outputs import read_parquet_dir

from .conftest import SHARED, load_funnel, run_interleaved

WARC = SHARED / "warc"

# Records per archive, counted independently with warcio and by hand (see tests/test_warc.py).
EXPECTED_RECORDS = {
    "dolma/sample-0000.warc.gz": 48,
    "dolma/sample-0001.warc.gz": 34,
    "commoncrawl/CC-MAIN-20250802220907-20250803010907-00970_34323482-34324700.warc.gz": 1,
    "commoncrawl/CC-MAIN-20250804083340-20250804113340-00340_667474763-667481825.warc.gz": 1,
    "commoncrawl/CC-MAIN-20250804145214-20250804175214-00905_71720-72289.warc.gz": 1,
    "edge/example.arc.gz": 2,
    "edge/bad.arc": 4,
    "edge/example-bad.warc.gz.bad": 6,
    "edge/missing-status-text.warc": 1,
    "edge/bad_http_chunked_content.warc": 1,
    "edge/not_utf8_http_header.warc": 1,
    "edge/long_url.warc": 1,
    "edge/dupes.warc.gz": 25,
    "edge/example.warc.gz": 6,
}


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory) -> Path:
    missing = [name for name in EXPECTED_RECORDS if not (WARC / name).is_file()]
    assert not missing, f"shared test data missing under {WARC}: {missing}"
    out = tmp_path_factory.mktemp("shared")
    run_interleaved([str(WARC / "dolma" / "*"), str(WARC / "commoncrawl" / "*"),
                     str(WARC / "edge" / "*")], out)  # fmt: skip
    return out


def test_every_archive_is_read_and_the_funnel_balances(shared_run):
    f = load_funnel(shared_run)
    assert f["files"] == len(EXPECTED_RECORDS)
    assert f["records_in"] == sum(EXPECTED_RECORDS.values())
    assert f["balanced"] is True
    assert f["kept"] > 0


def test_malformed_records_are_dead_lettered_with_reasons(shared_run):
    dead = read_parquet_dir(str(shared_run / "dead_letter")).to_pylist()
    by_file = {}
    for d in dead:
        by_file.setdefault(Path(d["warc_file"]).name, []).append(d["reason"])
    assert sorted(by_file["bad.arc"]) == ["bad_http_headers"] + ["bad_record_header"] * 3
    assert "missing-status-text.warc" not in by_file  # CR CR LF read leniently (as warcio)
    assert by_file["bad_http_chunked_content.warc"] == ["bad_chunked_body"]
    assert all(d["stage"] == "read" and d["error"] for d in dead)


def test_real_pages_become_interleaved_documents(shared_run):
    docs = read_parquet_dir(str(shared_run / "docs")).to_pylist()
    assert {Path(d["warc_file"]).parent.name for d in docs} >= {"dolma"}
    for d in docs:
        assert d["language"] == "en" and 1 <= d["num_images"] <= 5
        assert all(i.startswith(("http://", "https://")) for i in d["images"] if i)
