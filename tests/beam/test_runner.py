"""Local runs go straight to the FnApiRunner: Beam's switching DirectRunner would first try
PrismRunner, which downloads a binary from GitHub at run time."""

from __future__ import annotations

import logging

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner

from kosmos_data.beam.runner import local_runner
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
