import gzip

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from kosmos_data.beam.inputs import InputError, ListArchives, expand_inputs
from kosmos_data.inputs import (
    InputConfig,
    is_remote,
    matched_by_pipeline,
    parse_paths_list,
    sample_paths,
)
from tests.fake_remote_fs import FakeRemoteFS


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


# -- remote inputs: matched by the pipeline, never by the launcher ---------------------------


@pytest.fixture
def remote(tmp_path):
    for name in ("a", "b", "c", "d"):
        (tmp_path / f"{name}.warc.gz").write_bytes(b"")
    (tmp_path / "warc.paths.gz").write_bytes(gzip.compress(b"x/1.warc.gz\nx/2.warc.gz\n"))
    FakeRemoteFS.root = str(tmp_path)
    FakeRemoteFS.calls = []
    return tmp_path


def test_matched_by_pipeline_every_remote_spec():
    assert matched_by_pipeline("gs://b/crawl/*.warc.gz")
    assert matched_by_pipeline("s3://commoncrawl/crawl-data/CC-MAIN-2024-10/warc.paths.gz")
    # a plain remote path too: the launcher never touches a bucket (offline, a check of it
    # retried for minutes)
    assert matched_by_pipeline("gs://b/crawl/one.warc.gz")
    assert not matched_by_pipeline("/data/*.warc.gz") and not matched_by_pipeline("file:///d/*.gz")
    assert is_remote("S3://x/y") and not is_remote("file:///x") and not is_remote("rel/x")


def test_launcher_leaves_remote_specs_to_the_pipeline(remote):
    specs = ["kdremote://*.warc.gz", "kdremote://warc.paths.gz", "kdremote://b.warc.gz",
             str(remote / "a.warc.gz")]  # fmt: skip
    got = expand_inputs(specs, "kdremote://", max_files=2, defer_remote=True)
    assert got == sorted(specs) and FakeRemoteFS.calls == []  # nothing listed or opened


def test_a_remote_spec_without_a_file_system_is_an_error_before_launch(remote):
    for spec in ("https://data.commoncrawl.org/crawl-data/x.warc.gz", "gz://bucket/*.warc.gz"):
        with pytest.raises(InputError, match="no Beam file system"):
            expand_inputs([spec], defer_remote=True)
    assert FakeRemoteFS.calls == []


def test_a_plain_remote_path_is_matched_by_the_pipeline(remote):
    with TestPipeline(options=PipelineOptions([])) as p:
        assert_that(p | ListArchives(["kdremote://b.warc.gz"]), equal_to(["kdremote://b.warc.gz"]))
    assert "kdremote://b.warc.gz" in FakeRemoteFS.calls
    with (
        pytest.raises(Exception, match="missing-archive"),
        TestPipeline(options=PipelineOptions([])) as p,
    ):
        _ = p | ListArchives(["kdremote://missing-archive.warc.gz"])


def test_list_archives_matches_reads_samples_in_the_pipeline(remote):
    specs = ["kdremote://*.warc.gz", "kdremote://warc.paths.gz", str(remote / "a.warc.gz")]
    every = sorted(
        [str(remote / "a.warc.gz")]
        + [f"kdremote://{n}.warc.gz" for n in "abcd"]
        + ["kdremote://cc/x/1.warc.gz", "kdremote://cc/x/2.warc.gz"]
    )
    for inputs, want in (
        (InputConfig(paths_prefix="kdremote://cc/"), every),
        (InputConfig("kdremote://cc/", max_files=3, files_seed=7), sample_paths(every, 3, 7)),
    ):
        with TestPipeline(options=PipelineOptions([])) as p:
            assert_that(p | ListArchives(specs, inputs), equal_to(want))
    assert "kdremote://*.warc.gz" in FakeRemoteFS.calls  # matched by the pipeline


def test_a_remote_glob_matching_nothing_fails_the_job_naming_it(remote):
    # Beam wraps the error of a worker in its own exception types: match the message.
    with (
        pytest.raises(Exception, match="nothing-here"),
        TestPipeline(options=PipelineOptions([])) as p,
    ):
        _ = p | ListArchives(["kdremote://nothing-here*.warc.gz"])


def test_input_config_names_the_bad_field():
    with pytest.raises(ValueError, match="max_files"):
        InputConfig(max_files=0)
