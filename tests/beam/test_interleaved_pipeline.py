"""End-to-end runs of the interleaved job on the generated crawl, on several runners."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kosmos_data.outputs import read_parquet_dir

from .conftest import dir_digest, load_funnel, run_interleaved


@pytest.fixture(scope="module")
def direct_run(crawl_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("direct")
    run_interleaved([str(crawl_dir / "*.warc.gz")], out)
    return out


def manifest(crawl_dir: Path) -> list[dict]:
    path = crawl_dir / "manifest.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_conservation_identity_and_outputs_match_funnel(direct_run):
    f = load_funnel(direct_run)
    assert f["balanced"] is True
    assert f["records_in"] == f["kept"] + f["dropped"]["total"] + f["dead_letter"]["total"]
    docs = read_parquet_dir(str(direct_run / "docs"))
    dropped = read_parquet_dir(str(direct_run / "dropped"))
    dead = read_parquet_dir(str(direct_run / "dead_letter"))
    assert docs.num_rows == f["kept"] > 0
    assert dropped.num_rows == f["dropped"]["total"]
    assert dead.num_rows == f["dead_letter"]["total"]
    # Beam metrics counters saw the same drops as the funnel.
    counters = f["beam_counters"]
    for stage, reasons in f["dropped"]["by_stage"].items():
        for reason, n in reasons.items():
            assert counters[f"kosmos_data.{stage}/dropped_{reason}"] == n


def test_kept_documents_follow_kosmos_rules(direct_run):
    docs = read_parquet_dir(str(direct_run / "docs")).to_pylist()
    for d in docs:
        assert len(d["texts"]) == len(d["images"]) == len(d["image_alts"])
        assert all((t is None) != (i is None) for t, i in zip(d["texts"], d["images"], strict=True))
        assert 1 <= d["num_images"] <= 5
        assert d["language"] == "en"
        meta = json.loads(d["general_metadata"])
        assert meta["warc_filename"] == d["warc_file"] and d["warc_record_offset"] >= 0
    # The single-image rule kept some and dropped some.
    f = load_funnel(direct_run)
    assert f["dropped"]["by_stage"]["sampling"].get("single_image_sampled_out", 0) > 0
    assert any(d["num_images"] == 1 for d in docs)


def test_decisions_match_the_generated_manifest(crawl_dir, direct_run):
    pages = {p["url"]: p for p in manifest(crawl_dir)}
    dropped = read_parquet_dir(str(direct_run / "dropped")).to_pylist()
    by_url = {}
    for d in dropped:
        if d["stage"] != "prefilter" or d["reason"] != "not_response":
            by_url[d["url"]] = (d["stage"], d["reason"])
    kinds = {}
    for url, (stage, reason) in by_url.items():
        if url in pages:
            kinds.setdefault(pages[url]["kind"], set()).add((stage, reason))
    assert kinds.get("no_image") == {("prefilter", "no_img_tag")}
    assert {r for _, r in kinds.get("non_english", set())} <= {"wrong_language"}
    dead = read_parquet_dir(str(direct_run / "dead_letter")).to_pylist()
    assert dead, "the generated crawl has malformed records"
    assert all(d["reason"] and d["stage"] for d in dead)


def test_rerun_is_byte_identical(crawl_dir, direct_run, tmp_path):
    out = tmp_path / "again"
    run_interleaved([str(crawl_dir / "*.warc.gz")], out)
    assert dir_digest(out / "docs") == dir_digest(direct_run / "docs")
    assert dir_digest(out / "dropped") == dir_digest(direct_run / "dropped")


def test_refuses_to_mix_runs_without_overwrite(crawl_dir, direct_run):
    with pytest.raises(FileExistsError, match="--overwrite"):
        run_interleaved([str(crawl_dir / "*.warc.gz")], direct_run)


def test_two_worker_processes_give_the_same_outputs(crawl_dir, direct_run, tmp_path):
    out = tmp_path / "mp"
    run_interleaved(
        [str(crawl_dir / "*.warc.gz")], out,
        "--direct_num_workers=2", "--direct_running_mode=multi_processing",
    )  # fmt: skip
    assert dir_digest(out / "docs") == dir_digest(direct_run / "docs")
    assert dir_digest(out / "dead_letter") == dir_digest(direct_run / "dead_letter")
    a, b = load_funnel(out), load_funnel(direct_run)
    assert a["stages"] == b["stages"] and a["balanced"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_portable_runner_on_local_job_service(crawl_dir, direct_run, tmp_path):
    port = _free_port()
    service = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("local job service did not start")
        out = tmp_path / "portable"
        run_interleaved(
            [str(crawl_dir / "*.warc.gz")], out,
            "--runner=PortableRunner", f"--job_endpoint=localhost:{port}",
            "--environment_type=LOOPBACK",
        )  # fmt: skip
    finally:
        service.terminate()
        service.wait(timeout=30)
    assert dir_digest(out / "docs") == dir_digest(direct_run / "docs")
    assert load_funnel(out)["stages"] == load_funnel(direct_run)["stages"]


def test_docs_schema_is_obelics_like(direct_run):
    files = sorted((direct_run / "docs").glob("*.parquet"))
    assert files and all(f.name.startswith("docs-") and "-of-00003" in f.name for f in files)
    schema = pq.read_schema(files[0])
    for col in ("texts", "images", "metadata", "general_metadata", "url", "warc_file"):
        assert col in schema.names
