"""Shared fixtures: a small generated crawl and a helper that runs the interleaved job."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest

from kosmos_samples.crawl import SampleCrawlConfig, generate_crawl

#: The repository root (where ``python -m kosmos_cli.main`` runs from in subprocess tests).
ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (for a job service or worker pool)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def crawl_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("crawl")
    generate_crawl(d, SampleCrawlConfig(num_pages=160, num_files=2, seed=7))
    return d


def run_interleaved(inputs: list[str], out: Path, *extra: str) -> dict:
    from pipelines import interleaved

    argv = [a for i in inputs for a in ("--input", i)]
    argv += ["--output", str(out), "--docs-shards", "3", *extra]
    return interleaved.run(argv)


def dir_digest(d: Path) -> dict[str, str]:
    """File name -> sha256 of every file under ``d`` (byte-level comparison of outputs)."""
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def load_funnel(out: Path) -> dict:
    return json.loads((out / "funnel.json").read_text())
