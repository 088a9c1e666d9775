"""Hostile records: peak RSS and wall time per record, whatever the encoding or nesting.

Each case is one WARC record built in memory (a Content-Encoding bomb of 1 GiB of zeros in
gzip, brotli or zstd; 100,000 nested ``<div>``; a page nested just under the pre-filter's
bound; a plain 150 KB page as the baseline) and is run in a fresh interpreter through what
the interleaved job does to a record: read (``kosmos_data.warc``), pre-filter, then decode
and extract (fast extractor) when the pre-filter keeps it. The child reports its wall time
for the record and its peak RSS (``ru_maxrss``); the table shows RSS above the baseline's.

Usage: python bench/hostile.py [--runs N]   (the machine may be shared: take the median)
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIB = 1 << 30
CASES = ("baseline", "gzip_bomb", "brotli_bomb", "zstd_bomb", "nested_100k", "nested_2000")


def _record(http: bytes) -> bytes:
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:bench>\r\n"
        "WARC-Target-URI: http://bench.test/page\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http)}\r\n\r\n"
    ).encode()
    return head + http + b"\r\n\r\n"


def _http(body: bytes, encoding: str | None = None) -> bytes:
    ce = f"Content-Encoding: {encoding}\r\n".encode() if encoding else b""
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + ce + b"\r\n" + body


def _zeros(chunks: int = 1024):
    block = bytes(1 << 20)
    for _ in range(chunks):
        yield block


def build(case: str) -> bytes:
    """The record of one case (bombs are built streaming: 1 GiB never sits in memory)."""
    page = (
        b"<html><head><title>t</title></head><body>"
        + b"<p>The quick brown fox jumps over the lazy dog near the river bank.</p>" * 2000
        + b"<img src=http://bench.test/a.jpg width=300 height=300></body></html>"
    )
    if case == "baseline":
        return _record(_http(page))
    if case == "gzip_bomb":
        import zlib

        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        body = b"".join(c.compress(z) for z in _zeros()) + c.flush()
        return _record(_http(body, "gzip"))
    if case == "brotli_bomb":
        import brotli

        c = brotli.Compressor(quality=5)
        body = b"".join(c.process(z) for z in _zeros()) + c.finish()
        return _record(_http(body, "br"))
    if case == "zstd_bomb":
        import zstandard

        c = zstandard.ZstdCompressor(level=19).compressobj()
        body = b"".join(c.compress(z) for z in _zeros()) + c.flush()
        return _record(_http(body, "zstd"))
    if case.startswith("nested_"):
        depth = 100_000 if case == "nested_100k" else 2000
        body = (
            b"<html><body><img src=http://bench.test/a.jpg width=300 height=300>"
            + b"<div>" * depth
            + b"<p>deep text</p>"
            + b"</div>" * depth
            + b"</body></html>"
        )
        return _record(_http(body))
    raise ValueError(case)


def child(case: str, path: str) -> None:
    import io
    import tracemalloc

    from kosmos_data.extract import ExtractConfig
    from kosmos_data.prefilter import PrefilterConfig, prefilter
    from kosmos_data.records import DeadLetter
    from kosmos_data.stages import ExtractStep
    from kosmos_data.warc import iter_records

    data = Path(path).read_bytes()
    step = ExtractStep(ExtractConfig(mode="fast"))
    step.setup()

    def handle() -> str:
        outcome = ""
        for item in iter_records(io.BytesIO(data), "bench.warc"):
            if isinstance(item, DeadLetter):
                outcome = f"dead:{item.reason}"
                continue
            verdict = prefilter(item, PrefilterConfig())
            if verdict:
                outcome = f"dropped:{verdict}"
                continue
            result = step(item)
            outcome = f"dead:{result.reason}" if isinstance(result, DeadLetter) else "kept"
        return outcome

    t0 = time.perf_counter()
    outcome = handle()
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    tracemalloc.start()  # a second pass, traced (tracing slows it: not timed)
    handle()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    row = {"case": case, "bytes": len(data), "wall_s": wall, "rss": rss, "traced": traced}
    print(json.dumps(row | {"outcome": outcome}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--build", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        for case in CASES:
            (Path(args.build) / f"{case}.warc").write_bytes(build(case))
        return
    if args.child:
        child(*args.child)
        return
    results: dict[str, list[dict]] = {c: [] for c in CASES}
    tmp = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    paths = {}
    # Built in a process of its own: Linux carries ru_maxrss across fork+exec, so a parent
    # that had built the bombs would lend every child its peak.
    subprocess.run([sys.executable, __file__, "--build", str(tmp)], cwd=ROOT, check=True)
    for case in CASES:
        paths[case] = tmp / f"{case}.warc"
    for _ in range(args.runs):
        for case in CASES:
            out = subprocess.run(
                [sys.executable, __file__, "--child", case, str(paths[case])],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            ).stdout
            results[case].append(json.loads(out.strip().splitlines()[-1]))
    head = f"{'case':<13} {'record':>9} {'outcome':<26} {'wall s':>8} {'peak RSS':>9}"
    print(f"{head} {'allocated while reading':>24}")
    for case, rs in results.items():
        wall = statistics.median(r["wall_s"] for r in rs)
        rss = statistics.median(r["rss"] for r in rs)
        traced = statistics.median(r["traced"] for r in rs)
        rec = f"{rs[0]['bytes'] / 1e3:,.0f} KB"
        print(
            f"{case:<13} {rec:>9} {rs[0]['outcome']:<26} {wall:>8.3f} {rss / 1e6:>6.0f} MB"
            f" {traced / 1e6:>21.1f} MB"
        )
    print(
        f"{args.runs} runs per case, medians; peak RSS is the child process's (imports and "
        "the extractor included); 'allocated' is the tracemalloc peak while it handled the record"
    )
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
