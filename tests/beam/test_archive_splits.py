"""One archive shared by several workers (``--archive-splits``): every record processed
exactly once, whatever the archive holds, and outputs identical to one reader."""

from __future__ import annotations

import json

from kosmos_data.beam.transforms import splits_for

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
    # Checkpoint parts (one per chunk) and markers too: a run may resume with other splits.
    for sub in ("docs", "dropped", "dead_letter", "_per_file", "_done"):
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


def test_small_archives_start_on_different_splits():
    # Two archives of one chunk each, two splits: without the rotation both would be owned
    # by split 0 and one worker of a two-process run would idle (issue 14: 2 workers).
    from kosmos_data.beam.transforms import _positions, _split_archive
    from kosmos_data.outputs import stable_shard

    paths = ["b.warc.gz", "a.warc.gz"]
    pos = _positions(paths)
    elems = [e for p in sorted(paths) for e in _split_archive(p, 2, pos)]
    assert elems == [
        ("a.warc.gz", 0, 2, 0), ("a.warc.gz", 1, 2, 0),
        ("b.warc.gz", 0, 2, 1), ("b.warc.gz", 1, 2, 1),
    ]  # fmt: skip
    owner_of_chunk0 = {
        p: next(s for (q, s, k, r) in elems if q == p and (0 + r) % k == s) for p in paths
    }
    assert owner_of_chunk0 == {"a.warc.gz": 0, "b.warc.gz": 1}
    # An archive matched by the pipeline (not known at launch) rotates by a stable hash.
    (e,) = _split_archive("gs://x/c.warc.gz", 1, pos)
    assert e == ("gs://x/c.warc.gz", 0, 1, 0)
    r = {e[3] for e in _split_archive("gs://x/c.warc.gz", 3, pos)}
    assert r == {stable_shard("gs://x/c.warc.gz", 3)}


def test_splits_for_weighs_balance_against_reading_twice():
    # Two archives of one size on two workers: each worker takes one whole archive; one
    # archive, or three, leave a worker idle for a whole archive: split.
    assert splits_for([100, 100], 2) == 1
    assert splits_for([100, 100, 100, 100], 2) == 1
    assert splits_for([100], 2) == 2
    assert splits_for([100, 100, 100], 2) == 2
    # Very unequal archives: the large one alone would take the run's time.
    assert splits_for([1000, 100], 2) == 2
    # One worker, or sizes unknown at launch (remote archives matched by the pipeline).
    assert splits_for([100], 1) == 1
    assert splits_for(None, 2) == 2
