"""A remote glob is matched by the running pipeline, read, and resumed like a local one.

``kdremote://`` (``tests/fake_remote_fs.py``) stands in for gs:// or s3://: the launcher must
leave it alone (``expand_inputs(defer_remote=True)``) and ``ListArchives`` match it on the
workers. The real archives are the two dolma crawls of ``../shared/data/warc``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines import interleaved
from tests.fake_remote_fs import FakeRemoteFS

from .conftest import load_funnel, run_interleaved

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "warc" / "dolma"


def _counts(funnel: dict) -> dict:
    return {k: funnel[k] for k in ("files", "records_in", "kept", "dropped", "dead_letter")} | {
        "stages": funnel["stages"]
    }


@pytest.fixture
def remote_crawl(tmp_path) -> Path:
    warcs = sorted(SHARED.glob("*.warc.gz"))
    assert len(warcs) == 2, f"real dolma WARCs missing under {SHARED} (../shared/data)"
    crawl = tmp_path / "bucket" / "crawl"
    crawl.mkdir(parents=True)
    for w in warcs:
        shutil.copy2(w, crawl / w.name)
    FakeRemoteFS.root = str(tmp_path / "bucket")
    FakeRemoteFS.calls = []
    return crawl


def test_remote_glob_is_matched_by_the_pipeline_and_resumes(remote_crawl, tmp_path):
    local = run_interleaved([str(remote_crawl / "*.warc.gz")], tmp_path / "local")
    assert FakeRemoteFS.calls == []
    out = tmp_path / "remote"
    options, config = interleaved.prepare(
        ["--input", "kdremote://crawl/*.warc.gz", "--output", str(out), "--docs-shards", "3"]
    )
    assert FakeRemoteFS.calls == [] and config.archives == ("kdremote://crawl/*.warc.gz",)
    funnel = interleaved.execute(options, config)  # the pipeline matches the glob
    assert funnel["balanced"] and _counts(funnel) == _counts(local)
    opened = [c for c in FakeRemoteFS.calls if c.endswith(".warc.gz") and "*" not in c]
    assert sorted(opened) == [f"kdremote://crawl/{p.name}" for p in sorted(remote_crawl.iterdir())]

    # --resume of the finished run: the glob is matched again, every archive is skipped
    # (its completion marker), the corpus comes back from the checkpoints unchanged.
    FakeRemoteFS.calls = []
    resumed = run_interleaved(["kdremote://crawl/*.warc.gz"], out, "--resume")
    assert "kdremote://crawl/*.warc.gz" in FakeRemoteFS.calls
    assert not [c for c in FakeRemoteFS.calls if c.endswith(".warc.gz") and "*" not in c]
    assert _counts(resumed) == _counts(funnel) and _counts(load_funnel(out)) == _counts(funnel)
