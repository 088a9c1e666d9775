"""One run-directory object owns the layout."""

import pytest

from kosmos_data import rundir
from kosmos_data.rundir import RunDir


def test_paths_join_local_and_remote_roots():
    assert RunDir("runs/r1").docs == "runs/r1/docs"
    assert RunDir("gs://b/runs/r1/").dropped == "gs://b/runs/r1/dropped"
    assert RunDir("/tmp/x").funnel == "/tmp/x/" + rundir.FUNNEL
    assert RunDir("s3://b/r").join(rundir.PER_FILE, "k.parquet") == "s3://b/r/_per_file/k.parquet"
    with pytest.raises(ValueError, match=r"RunDir\.root"):
        RunDir("")


def test_jobs_and_readers_use_the_one_layout():
    from kosmos_data.checkpoint import DONE_DIR, PER_FILE_DIR, RUN_FILE
    from kosmos_data.images.status import STATUS_DIR
    from pipelines import captions, dedup, interleaved, text

    assert (PER_FILE_DIR, DONE_DIR, RUN_FILE) == (rundir.PER_FILE, rundir.DONE, rundir.RUN_FILE)
    assert STATUS_DIR == rundir.IMAGE_STATUS
    for job in (interleaved, captions, text, dedup):
        assert {rundir.DOCS, rundir.DROPPED, rundir.DEAD_LETTER} <= set(job.SUBDIRS)
