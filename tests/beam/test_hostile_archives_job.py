"""The interleaved job on a hostile archive (issue 10): a record with a wrong length, a
deeply nested page (with the fidelity extractor) and records repeated with their ids."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from kosmos_data.outputs import read_parquet_dir
from kosmos_data.records import DeadLetter, Provenance
from kosmos_samples.crawl import SampleCrawlConfig, generate_crawl

from .conftest import load_funnel, run_interleaved


def _members(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        d = zlib.decompressobj(31)
        d.decompress(data[pos:])
        end = len(data) - len(d.unused_data)
        out.append(data[pos:end])
        pos = end
    return out


def _response(url: str, rid: str, body: bytes, delta: int = 0) -> bytes:
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + body
    head = (
        f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: {rid}\r\n"
        f"WARC-Target-URI: {url}\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http) + delta}\r\n\r\n"
    ).encode()
    return gzip.compress(head + http + b"\r\n\r\n")


def test_hostile_archive_through_the_job(tmp_path: Path):
    (warc,) = generate_crawl(tmp_path / "crawl", SampleCrawlConfig(num_pages=12, num_files=1))
    members = _members(warc.read_bytes())
    deep = b"<html><body><img src=http://e.test/a.jpg>" + b"<div>" * 100_000 + b"</body></html>"
    broken = _response("http://e.test/broken", "<urn:uuid:broken>", b"<html>x</html>", 900)
    hostile = tmp_path / "hostile.warc.gz"
    # Every generated record twice (same WARC-Record-ID, same URL), a broken record between.
    hostile.write_bytes(
        b"".join(members)
        + broken
        + _response("http://e.test/deep", "<urn:uuid:deep>", deep)
        + b"".join(members)
    )
    once = tmp_path / "once"
    run_interleaved([str(warc)], once, "--no-dedup", "--extractor", "fidelity")
    out = tmp_path / "run"
    f = run_interleaved([str(hostile)], out, "--no-dedup", "--extractor", "fidelity")
    assert f["balanced"] and f["records_in"] == 2 * len(members) + 2
    assert f["dead_letter"]["by_stage"]["read"] == {"bad_record_length": 1}
    assert f["dropped"]["by_stage"]["prefilter"]["html_too_deep"] == 1
    assert "extract" not in f["dead_letter"]["by_stage"]  # no extraction timeout
    kept_once = load_funnel(once)["kept"]
    assert kept_once > 0 and f["kept"] == 2 * kept_once
    ids = [d["id"] for d in read_parquet_dir(str(out / "docs")).to_pylist()]
    assert len(ids) == len(set(ids)) == 2 * kept_once


def _explode(row):
    if row.index == 1:
        raise ValueError("Invalid IPv6 URL")  # what urlsplit raised inside caption_document
    return DeadLetter("read", "missing_caption", Provenance(row.path, "r", row.index, "", ""), "")


def test_a_row_that_crashes_its_converter_is_a_bad_row_not_a_crashed_job(tmp_path: Path):
    from apache_beam.pvalue import TaggedOutput

    from kosmos_data.beam.sources import ReadTableFileFn

    table = tmp_path / "t.tsv"
    table.write_text("url\tcaption\na\tb\nc\td\ne\tf\n")
    fn = ReadTableFileFn(_explode, ())
    fn.setup()
    out = [o.value if isinstance(o, TaggedOutput) else o for o in fn.process(str(table))]
    dead = [o for o in out if isinstance(o, DeadLetter)]
    assert [d.reason for d in dead] == ["missing_caption", "bad_row", "missing_caption"]
    assert "Invalid IPv6 URL" in dead[1].error
