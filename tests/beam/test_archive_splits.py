"""One archive shared by several workers (``--archive-splits``): every record processed
exactly once, whatever the archive holds, and outputs identical to one reader."""

from __future__ import annotations

import json

from .conftest import SHARED, dir_digest, load_funnel, run_interleaved


def test_splits_process_every_record_once_and_match_one_reader(tmp_path):
    # Real archives, including malformed ones (dead letters must be counted once too).
    inputs = [str(SHARED / "warc" / "dolma" / "*.warc.gz"), str(SHARED / "warc" / "edge" / "*")]
    one = tmp_path / "one"
    three = tmp_path / "three"
    # 4-record chunks: the splits really interleave on these small real archives.
    chunk = ("--outputs-archive-chunk-records", "4")
    run_interleaved(inputs, one, "--archive-splits", "1", *chunk)
    run_interleaved(inputs, three, "--archive-splits", "3", *chunk)
    f1, f3 = load_funnel(one), load_funnel(three)
    assert f3["balanced"] is True
    for key in ("records_in", "files", "kept", "dropped", "dead_letter", "stages"):
        assert f3[key] == f1[key], key
    assert f1["records_in"] > 3 and f1["dead_letter"]["total"] > 0
    for sub in ("docs", "dropped", "dead_letter"):
        assert dir_digest(three / sub) == dir_digest(one / sub), sub
    # Beam counters agree too (files counted once per archive, not once per split).
    c1, c3 = f1["beam_counters"], f3["beam_counters"]
    assert c3["kosmos_data.read/files"] == c1["kosmos_data.read/files"] == f1["files"]
    assert c3["kosmos_data.read/records"] == f1["records_in"]
    json.dumps(f3)  # the funnel stays plain JSON


def test_archive_splits_must_not_be_negative(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="archive_splits"):
        run_interleaved(
            [str(SHARED / "warc" / "dolma" / "*.warc.gz")], tmp_path, "--archive-splits", "-1"
        )
