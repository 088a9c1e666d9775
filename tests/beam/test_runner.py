"""Local runs go straight to the FnApiRunner: Beam's switching DirectRunner would first try
PrismRunner, which downloads a binary from GitHub at run time."""

from __future__ import annotations

import logging

from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    StandardOptions,
    TypeOptions,
)
from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner

from kosmos_data.beam.runner import ViewCachingOptions, local_runner, make_pipeline
from tests.beam.conftest import run_interleaved


def test_local_names_get_the_fn_api_runner_others_are_left_to_beam():
    for argv in ([], ["--runner=DirectRunner"], ["--runner", "SwitchingDirectRunner"]):
        assert isinstance(local_runner(PipelineOptions(argv)), FnApiRunner), argv
    for name in ("PortableRunner", "DataflowRunner", "FlinkRunner", "PrismRunner"):
        assert local_runner(PipelineOptions([f"--runner={name}"])) is None, name


def test_a_local_run_never_tries_prism(crawl_dir, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        funnel = run_interleaved([str(crawl_dir / "*.warc.gz")], tmp_path / "run")
    assert funnel["balanced"]
    mentions = [r.getMessage() for r in caplog.records if "prism" in r.getMessage().lower()]
    assert not mentions, mentions


def test_cached_views_share_the_values_of_the_options_they_came_from():
    """``make_pipeline`` builds on ``ViewCachingOptions``: one view per options class, the
    same values as fresh views, writes visible everywhere, and the copy the pipeline keeps
    still caches and reads its own values."""
    options = PipelineOptions(["--direct_num_workers=2", "--runner=DirectRunner"])
    cached = options.view_as(ViewCachingOptions)
    direct = cached.view_as(DirectOptions)
    assert direct is cached.view_as(DirectOptions)
    assert direct.direct_num_workers == options.view_as(DirectOptions).direct_num_workers == 2
    cached.view_as(TypeOptions).pipeline_type_check = False
    assert options.view_as(TypeOptions).pipeline_type_check is False
    assert cached.get_all_options() == options.get_all_options()

    pipeline = make_pipeline(options)
    kept = pipeline.options
    assert isinstance(kept, ViewCachingOptions)
    assert kept.view_as(StandardOptions) is kept.view_as(StandardOptions)
    assert kept.view_as(DirectOptions).direct_num_workers == 2
    kept.view_as(DirectOptions).direct_num_workers = 3  # the copy's own values
    assert kept.get_all_options()["direct_num_workers"] == 3
    assert options.view_as(DirectOptions).direct_num_workers == 2
