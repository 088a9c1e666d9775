"""``kosmos-data submit flink --job-endpoint``: the portable path a Flink cluster uses, run
against Beam's Python local job service with an EXTERNAL SDK worker pool (the same
``--environment_type=EXTERNAL`` the sidecars of ``deploy/flink/flink-session.yaml`` serve).

The Flink job-server jar cannot be fetched here; the job service, the worker pool and the
job's submission path are otherwise those of a Flink session cluster.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from kosmos_cli import submit

from .conftest import ROOT, dir_digest, free_port, load_funnel, run_interleaved


def _wait_for(port: int, proc: subprocess.Popen, what: str) -> None:
    """Until ``proc`` listens on ``port``; a service that fails to start exits (no clock)."""
    while True:
        assert proc.poll() is None, f"{what} exited with {proc.returncode}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)


def _start(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def test_submit_flink_portable_with_external_worker_pool(crawl_dir, tmp_path):
    # The pool starts SDK workers with the first `python` on PATH: make it this venv's.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    job_port, pool_port = free_port(), free_port()
    service = _start(
        ["apache_beam.runners.portability.local_job_service_main", "--port", str(job_port)], env
    )
    pool = _start(
        ["apache_beam.runners.worker.worker_pool_main", f"--service_port={pool_port}"], env
    )
    try:
        _wait_for(job_port, service, "local job service")
        _wait_for(pool_port, pool, "SDK worker pool")
        out = tmp_path / "flink-portable"
        code = submit.main(
            [
                "flink", "--job-endpoint", f"localhost:{job_port}",
                "--environment-type", "EXTERNAL", "--environment-config", f"localhost:{pool_port}",
                "--input", str(crawl_dir / "*.warc.gz"), "--output", str(out),
                "--docs-shards", "3",
            ]
        )  # fmt: skip
    finally:
        for proc in (pool, service):
            proc.terminate()
        for proc in (pool, service):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
    assert code == 0
    # Same outputs as the in-process DirectRunner.
    ref = tmp_path / "direct"
    run_interleaved([str(crawl_dir / "*.warc.gz")], ref)
    for sub in ("docs", "dropped", "dead_letter", "_per_file"):
        assert dir_digest(out / sub) == dir_digest(ref / sub), sub
    a, b = load_funnel(out), load_funnel(ref)
    assert a["stages"] == b["stages"] and a["balanced"]
    # Beam metrics came back from the portable job into funnel.json.
    assert a["beam_counters"]["kosmos_data.read/files"] == a["files"] == 2
