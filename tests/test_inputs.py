import gzip

import pytest

from kosmos_data.beam.inputs import InputError, expand_inputs
from kosmos_data.inputs import parse_paths_list, sample_paths


def test_parse_paths_list_prefix_and_comments():
    lines = ["# header", "crawl-data/a.warc.gz", "", "/abs/b.warc.gz", "s3://x/c.warc.gz"]
    assert parse_paths_list(lines, "s3://commoncrawl/") == [
        "s3://commoncrawl/crawl-data/a.warc.gz",
        "/abs/b.warc.gz",
        "s3://x/c.warc.gz",
    ]


def test_sample_paths_is_deterministic_and_seeded():
    paths = [f"f{i:03d}.warc.gz" for i in range(200)]
    a = sample_paths(paths, 10, seed=1)
    assert a == sample_paths(list(reversed(paths)), 10, seed=1)
    assert len(a) == 10 and a == sorted(a)
    assert a != sample_paths(paths, 10, seed=2)
    assert sample_paths(paths, None) == sorted(paths)


def test_expand_globs_and_paths_gz(tmp_path):
    for name in ("b.warc.gz", "a.warc.gz"):
        (tmp_path / name).write_bytes(b"")
    lst = tmp_path / "warc.paths.gz"
    lst.write_bytes(gzip.compress(b"a.warc.gz\nb.warc.gz\n"))
    assert expand_inputs([str(tmp_path / "*.warc.gz")]) == [
        str(tmp_path / "a.warc.gz"),
        str(tmp_path / "b.warc.gz"),
    ]
    listed = expand_inputs([str(lst)], paths_prefix=str(tmp_path))
    assert listed == [str(tmp_path / "a.warc.gz"), str(tmp_path / "b.warc.gz")]


def test_expand_reports_the_spec_that_matches_nothing(tmp_path):
    with pytest.raises(InputError, match="nothing-here"):
        expand_inputs([str(tmp_path / "nothing-here*.warc.gz")])
