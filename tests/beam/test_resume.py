"""Resumable runs: a job SIGKILLed between archives, resumed, equals an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kosmos_data.checkpoint import KILL_AFTER_MARKERS_ENV
from kosmos_samples.crawl import SampleCrawlConfig, generate_crawl

from .conftest import ROOT, dir_digest, load_funnel, run_interleaved


@pytest.fixture(scope="module")
def crawl3(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("crawl3")
    generate_crawl(d, SampleCrawlConfig(num_pages=90, num_files=3, seed=11))
    return d


@pytest.fixture(scope="module")
def uninterrupted(crawl3, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    run_interleaved([str(crawl3 / "*.warc.gz")], out)
    return out


def _argv(crawl: Path, out: Path) -> list[str]:
    return ["--input", str(crawl / "*.warc.gz"), "--output", str(out), "--docs-shards", "3"]


def _kill_after_first_marker(crawl: Path, out: Path) -> None:
    """Run the job in a subprocess that SIGKILLs itself right after its first completion
    marker (fault injection): killed between archives, with nothing flushed or cleaned up."""
    env = dict(os.environ, **{KILL_AFTER_MARKERS_ENV: "1"})
    cmd = [sys.executable, "-m", "kosmos_cli.main", "run", "interleaved", *_argv(crawl, out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode(errors="replace")[-2000:]


def test_killed_run_resumes_to_identical_outputs(crawl3, uninterrupted, tmp_path):
    out = tmp_path / "killed"
    _kill_after_first_marker(crawl3, out)
    markers = sorted((out / "_done").glob("*.json"))
    assert len(markers) == 1  # killed between archives: one done, two not
    assert not list((out / "docs").glob("*.parquet")), "final outputs come after checkpoints"
    done = json.loads(markers[0].read_text())
    assert done["parts"] and all((out / "_per_file" / p["name"]).exists() for p in done["parts"])

    # A plain rerun refuses to throw the completed work away silently.
    with pytest.raises(FileExistsError, match="--resume"):
        run_interleaved([str(crawl3 / "*.warc.gz")], out)

    funnel = run_interleaved([str(crawl3 / "*.warc.gz")], out, "--resume")
    counters = funnel["beam_counters"]
    assert counters["kosmos_data.read/files"] == 2  # the completed archive was not read
    assert counters["kosmos_data.checkpoint/files_resumed"] == 1
    assert counters["kosmos_data.checkpoint/files_checkpointed"] == 2
    assert len(list((out / "_done").glob("*.json"))) == 3

    for sub in ("docs", "dropped", "dead_letter"):
        assert dir_digest(out / sub) == dir_digest(uninterrupted / sub), sub
    a, b = load_funnel(out), load_funnel(uninterrupted)
    for key in ("records_in", "kept", "dropped", "dead_letter", "stages", "images"):
        assert a[key] == b[key], key
    assert a["breakdowns"] == b["breakdowns"] and a["balanced"] is True
    # Per-archive checkpoints are identical too, whichever attempt wrote them.
    assert dir_digest(out / "_per_file") == dir_digest(uninterrupted / "_per_file")


def test_resume_with_other_archive_splits(crawl3, uninterrupted, tmp_path):
    # Checkpoint parts are per chunk of records, whichever worker read them: a run resumed
    # with archives shared by two workers (their markers written once both splits' parts
    # are grouped) ends as the uninterrupted one-worker run, checkpoints and markers too.
    out = tmp_path / "killed"
    _kill_after_first_marker(crawl3, out)
    funnel = run_interleaved([str(crawl3 / "*.warc.gz")], out, "--resume", "--archive-splits", "2")
    counters = funnel["beam_counters"]
    assert counters["kosmos_data.checkpoint/files_resumed"] == 1
    assert counters["kosmos_data.checkpoint/files_checkpointed"] == 2
    for sub in ("docs", "dropped", "dead_letter", "_per_file", "_done"):
        assert dir_digest(out / sub) == dir_digest(uninterrupted / sub), sub


def test_resume_refuses_a_different_job(crawl3, uninterrupted):
    with pytest.raises(ValueError, match="fingerprint"):
        run_interleaved([str(crawl3 / "*.warc.gz")], uninterrupted, "--resume", "--seed", "5")


def test_resume_of_a_finished_run_reads_nothing_and_rewrites_the_same(crawl3, uninterrupted):
    before = {s: dir_digest(uninterrupted / s) for s in ("docs", "dropped", "dead_letter")}
    funnel = run_interleaved([str(crawl3 / "*.warc.gz")], uninterrupted, "--resume")
    assert funnel["beam_counters"].get("kosmos_data.read/files", 0) == 0
    assert funnel["files"] == 3 and funnel["balanced"]
    for sub, digest in before.items():
        assert dir_digest(uninterrupted / sub) == digest


def test_corrupted_checkpoint_is_an_error_not_a_silent_skip(crawl3, uninterrupted, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(uninterrupted, out)
    victim = sorted((out / "_per_file").glob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    before = {s: dir_digest(out / s) for s in ("docs", "dropped", "dead_letter")}
    with pytest.raises(Exception, match="does not match its marker"):
        run_interleaved([str(crawl3 / "*.warc.gz")], out, "--resume")
    # Refused before anything was touched: the earlier outputs and their (balanced) funnel
    # still belong together; no funnel.json is left beside an emptied docs/.
    assert {s: dir_digest(out / s) for s in before} == before and before["docs"]
    assert load_funnel(out) == load_funnel(uninterrupted)


def test_marker_without_parts_is_refused_before_anything_changes(crawl3, uninterrupted, tmp_path):
    # A marker of the earlier one-file-per-archive layout (``checkpoint``, no ``parts``).
    import shutil

    out = tmp_path / "old"
    shutil.copytree(uninterrupted, out)
    marker = sorted((out / "_done").glob("*.json"))[0]
    body = json.loads(marker.read_text())
    marker.write_text(json.dumps({"path": body["path"], "checkpoint": "x.parquet"}))
    before = dir_digest(out / "docs")
    with pytest.raises(ValueError, match="lists no checkpoint parts"):
        run_interleaved([str(crawl3 / "*.warc.gz")], out, "--resume")
    assert dir_digest(out / "docs") == before and before
