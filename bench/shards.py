"""Shard write and read throughput: ``python bench/shards.py [--samples N]``.

Writes interleaved samples (3 images of 224x224 JPEG each, ~300 words of text; the shape the
image stage produces) into WebDataset tars with ``kosmos_data.shards`` and reads them back
with the webdataset-based reader. Prints MB/s of tar bytes written per core (CPU seconds,
best of 3) and samples/s read; images are procedural photos resized to 224 px.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from PIL import Image

from kosmos_data.shards import (
    ImageBlob,
    InterleavedSample,
    ShardConfig,
    iter_samples,
    write_local,
)
from kosmos_samples.synthetic import synthetic_photo


def _jpeg_224(image_id: str) -> bytes:
    im = Image.open(io.BytesIO(synthetic_photo(image_id))).convert("RGB").resize((224, 224))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def make_samples(n: int) -> list[InterleavedSample]:
    photos = [_jpeg_224(f"bench{i}") for i in range(64)]
    words = "the quick brown fox jumps over a lazy dog while seven wizards quietly box " * 30
    out = []
    for i in range(n):
        imgs = [
            ImageBlob(photos[(i + k) % 64], "jpg", 224, 224, {"url": f"u{i}/{k}"}) for k in range(3)
        ]
        texts = [words[:600], None, words[:500], None, words[:700], None]
        out.append(InterleavedSample(f"doc{i:07d}", texts, imgs, {"url": f"https://x/{i}"}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=3000)
    args = ap.parse_args()
    samples = make_samples(args.samples)
    best_write, best_read, size = float("inf"), float("inf"), 0
    for _ in range(3):
        d = tempfile.mkdtemp(prefix="kosmos-shards-")
        try:
            t0 = time.process_time()
            m = write_local(d, "interleaved", samples, ShardConfig(maxcount=500, groups=4))
            best_write = min(best_write, time.process_time() - t0)
            size = m["totals"]["bytes"]
            t0 = time.process_time()
            n = sum(1 for _ in iter_samples(d))
            best_read = min(best_read, time.process_time() - t0)
            assert n == args.samples
        finally:
            shutil.rmtree(d)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"shards: {args.samples} interleaved samples, 3 x 224 px JPEG each, {size / 1e6:.1f} MB")
    mb = size / 1e6
    w_rate, r_rate = args.samples / best_write, args.samples / best_read
    print(f"write: {mb / best_write:8.1f} MB/s/core  ({w_rate:,.0f} samples/s)")
    print(f"read:  {mb / best_read:8.1f} MB/s/core  ({r_rate:,.0f} samples/s, typed, webdataset)")
    print(f"peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
