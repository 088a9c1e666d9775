"""Benchmark: images/s/core for fetch + decode + filter + resize + pHash (``ImageFetcher``),
without the open_nsfw classifier, with it in fp32 (the default), in int8
(``--nsfw-precision int8``, ``kosmos_data.safety.nsfw_int8``) and, on a CPU with VNNI, in
int8-vnni (8-bit weights), against a loopback server
running in another process (its CPU is not counted).

Two image sets, both from ``../shared/data/images``:

* ``web-like JPEG``: 300 distinct crops (55-75%, JPEG q90, ~250-750 px a side) of the six
  photos, as ``ImageServer(unique_crawl_images=True)`` serves the generated crawl;
* ``original photos``: the six photos as they are (four are 300-800 KB PNGs), cycled; with
  the classifier on, each distinct photo is scored once per worker (the stage remembers
  scores by sha256), so that row shows the cache, not the classifier; the web-like set has
  distinct bytes for every URL and shows the classifier's full cost.

images/s/core = images / CPU seconds of this process (threads included), best of 3 runs;
also wall-clock images/s, the per-image CPU cost of the shared decode+resize+hash alone and
of the classifier alone (batched as in the stage, one onnxruntime thread).

Usage: python bench/images.py [--threads 16] [--images 300]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import multiprocessing as mp
import os
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
# this checkout's code, not whichever kosmos_data the venv has installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kosmos_data.images import ImageConfig, ImageFetcher
from kosmos_data.images.fetch import Download
from kosmos_data.safety.nsfw_int8 import cpu_has_vnni
from kosmos_samples.image_server import ImageServer
from kosmos_samples.photos import PHOTOS


def _serve(port_queue, stop_event) -> None:
    with ImageServer(PHOTOS, unique_crawl_images=True) as s:
        port_queue.put(s.port)
        stop_event.wait()


def _run(fetcher: ImageFetcher, urls: list[str]) -> tuple[float, float, int]:
    c0, w0 = time.process_time(), time.perf_counter()
    ok = sum(1 for r in fetcher.fetch_many(urls) if r.ok)
    return time.process_time() - c0, time.perf_counter() - w0, ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    assert PHOTOS.is_dir(), f"missing {PHOTOS} (../shared/data/images)"

    ctx = mp.get_context("spawn")
    q, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_serve, args=(q, stop), daemon=True)
    proc.start()
    base = f"http://127.0.0.1:{q.get(timeout=60)}"
    try:
        cfg = ImageConfig(allow_private_addresses=True, threads=args.threads, timeout_s=10)
        names = sorted(p.name for p in PHOTOS.iterdir())
        sets = {}
        for label, make in (
            ("web-like JPEG", lambda i, r: f"{base}/img.test/{_id(i, r)}.jpg"),
            ("original photos", lambda i, r: f"{base}/photos/{names[i % len(names)]}"),
        ):
            sets[label] = [[make(i, r) for i in range(args.images)] for r in range(args.repeat)]
        for urls in sets["web-like JPEG"]:  # let the server make its crops before timing
            for u in urls:
                urllib.request.urlopen(u).read()
        print(f"{os.cpu_count()} CPUs; {args.threads} download threads; "
              f"{args.images} images per run; best of {args.repeat}")  # fmt: skip
        variants = {
            "(no NSFW)": {"nsfw_filter": False},
            "+ NSFW fp32": {"nsfw_filter": True, "nsfw_precision": "fp32"},
            "+ NSFW int8": {"nsfw_filter": True, "nsfw_precision": "int8"},
        }
        if cpu_has_vnni():
            variants["+ NSFW int8-vnni"] = {"nsfw_filter": True, "nsfw_precision": "int8-vnni"}
        else:
            print("int8-vnni: not measured (this CPU has no VNNI; the classifier refuses it)")
        for label, runs in sets.items():
            for suffix, fields in variants.items():
                row = _measure(dataclasses.replace(cfg, **fields), runs)
                name = f"{label} {suffix}"
                print(f"{name:32s} {row}")
    finally:
        stop.set()
        proc.join(timeout=5)


def _measure(cfg: ImageConfig, runs: list[list[str]]) -> str:
    fetcher = ImageFetcher(cfg)  # fresh per row: robots.txt fetched once per host
    fetcher.setup()
    best = None
    for urls in runs:
        cpu, wall, ok = _run(fetcher, urls)
        assert ok == len(urls), f"{ok}/{len(urls)} ok"
        if best is None or cpu < best[0]:
            best = (cpu, wall)
    cpu, wall = best
    n = len(runs[0])
    data = [urllib.request.urlopen(u).read() for u in runs[0][:30]]
    t = time.process_time()
    decoded = [fetcher._decode("x", Download("ok", d, 200, 1)) for d in data]
    prep_ms = (time.process_time() - t) / len(data) * 1000
    fetcher.safety._scores.clear()  # time real inferences, not the per-worker score cache
    t = time.process_time()
    fetcher.safety.judge(decoded)
    nsfw_ms = (time.process_time() - t) / len(data) * 1000
    kb = sum(len(d) for d in data) / len(data) / 1024
    fetcher.teardown()
    return (
        f"{n / cpu:7.1f} images/s/core  {n / wall:7.1f} images/s wall  "
        f"decode+resize+hash {prep_ms:5.2f} ms  classifier {nsfw_ms:5.2f} ms/image  "
        f"(mean {kb:.0f} KB)"
    )


def _id(i: int, r: int) -> str:
    return hashlib.sha1(f"bench/{r}/{i}".encode()).hexdigest()[:12]


if __name__ == "__main__":
    main()
