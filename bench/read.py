"""Micro-benchmark: read throughput (records/s, MB/s) and prefilter cost per 150 KB page.

Usage: python bench/read.py [WARC ...]   (default: the shared dolma samples)
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

from kosmos_data.prefilter import PrefilterConfig, prefilter
from kosmos_data.records import Provenance, RawPage
from kosmos_data.warc import ReadConfig, iter_records

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "warc"


def bench_read(paths: list[Path], repeat: int = 20) -> None:
    blobs = [(p.name, p.read_bytes()) for p in paths]
    size = sum(len(b) for _, b in blobs) * repeat
    n = 0
    t = time.perf_counter()
    for _ in range(repeat):
        for name, blob in blobs:
            for _item in iter_records(io.BytesIO(blob), name, ReadConfig()):
                n += 1
    dt = time.perf_counter() - t
    print(f"read: {n / dt:,.0f} records/s, {size / dt / 1e6:,.1f} MB/s compressed")


def bench_prefilter(n: int = 2000) -> None:
    prov = Provenance("f", "<urn:uuid:1>", 0, "http://www.example.com/a", "2024")
    body = b"<html><body>" + b"<p>lorem ipsum dolor sit amet</p>" * 4600 + b"</body></html>"
    cfg = PrefilterConfig(url_blocklist=("spam.net", "bad.org"))
    for label, payload in (("no <img>", body), ("<img> at end", body + b"<img src=x>")):
        page = RawPage(prov, "response", 200, "text/html", None, payload)
        t = time.perf_counter()
        for _ in range(n):
            prefilter(page, cfg)
        dt = (time.perf_counter() - t) / n
        print(f"prefilter {len(payload) / 1e3:.0f} KB page, {label}: {dt * 1e6:.1f} µs/page")


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]] or sorted((DATA / "dolma").glob("*.warc.gz"))
    bench_read(args)
    bench_prefilter()
