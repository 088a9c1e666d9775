"""``kosmos-data images``: helpers around the image stage.

* ``hash-eval DIR --out FILE``: pHash every evaluation image once (through the same resize
  as a run with these settings), for ``--eval-images FILE`` on large evaluation sets;
* ``hash-block DIR --out FILE``: a ``--block-image-hashes`` list from a directory of
  known-bad images (through the same resize as a run with these settings);
* ``status RUN_DIR``: image outcomes of a run, per URL, from ``image_status/``;
* ``serve PHOTOS_DIR [--port N]``: the local test/demo image server on 127.0.0.1 (use its
  printed mirror with ``--image-mirror ... --allow-private-addresses``).
"""

from __future__ import annotations

import argparse
import sys
import time

from kosmos_data.images.config import RESIZE_MODES, ImageConfig


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="kosmos-data images", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hash-eval", help="pHash a directory of evaluation images")
    h.add_argument("directory")
    h.add_argument("--out", required=True)
    h.add_argument("--image-size", type=int, default=ImageConfig().image_size)
    h.add_argument("--resize-mode", choices=RESIZE_MODES, default=ImageConfig().resize_mode)
    b = sub.add_parser("hash-block", help="pHash a directory of known-bad images")
    b.add_argument("directory")
    b.add_argument("--out", required=True)
    b.add_argument("--image-size", type=int, default=ImageConfig().image_size)
    b.add_argument("--resize-mode", choices=RESIZE_MODES, default=ImageConfig().resize_mode)
    st = sub.add_parser("status", help="image outcomes of a run (image_status/)")
    st.add_argument("run_dir")
    sv = sub.add_parser("serve", help="serve a photo directory on 127.0.0.1")
    sv.add_argument("photos_dir")
    sv.add_argument("--port", type=int, default=0)
    sv.add_argument("--robots-txt", default=None, help="file served as /robots.txt")
    return ap


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "hash-eval":
        from pathlib import Path

        from kosmos_data.images.fetch import ImageFetcher
        from kosmos_data.images.phash import hash_directory, write_hash_file

        cfg = ImageConfig(image_size=args.image_size, resize_mode=args.resize_mode)
        if not Path(args.directory).is_dir():
            print(f"error: {args.directory} is not a directory", file=sys.stderr)
            return 2
        fetcher = ImageFetcher(cfg)
        hashes = hash_directory(Path(args.directory), fetcher.resize)
        write_hash_file(hashes, args.out, cfg.resize_key)
        print(f"{len(hashes)} evaluation image hashes -> {args.out} ({cfg.resize_key})")
        return 0
    if args.cmd == "hash-block":
        from pathlib import Path

        from kosmos_data.images.fetch import ImageFetcher
        from kosmos_data.safety.blocklist import hash_images, write_block_file

        cfg = ImageConfig(
            image_size=args.image_size, resize_mode=args.resize_mode, nsfw_filter=False
        )
        if not Path(args.directory).is_dir():
            print(f"error: {args.directory} is not a directory", file=sys.stderr)
            return 2
        hashes = hash_images(Path(args.directory), ImageFetcher(cfg).phash_of)
        write_block_file(hashes, args.out, cfg.resize_key)
        print(f"{len(hashes)} blocked image hashes -> {args.out} ({cfg.resize_key})")
        return 0
    if args.cmd == "status":
        from kosmos_data.images.status import read_status, status_files

        if not status_files(args.run_dir):
            print(f"error: no image_status/*.parquet in {args.run_dir}", file=sys.stderr)
            return 2
        rows = read_status(args.run_dir)
        counts: dict[tuple[str, str], int] = {}
        for r in rows:
            key = (r["fetch_reason"], r["reason"])
            counts[key] = counts.get(key, 0) + 1
        print(f"{'fetch_reason':<22} {'final reason':<22} {'urls':>8}")
        for (fetch, final), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"{fetch:<22} {final:<22} {n:>8,}")
        print(f"{len(rows):,} distinct image URLs")
        return 0
    from kosmos_samples.image_server import DEFAULT_ROBOTS, ImageServer

    robots = DEFAULT_ROBOTS
    if args.robots_txt:
        with open(args.robots_txt, encoding="utf-8") as f:
            robots = f.read()
    with ImageServer(args.photos_dir, robots, unique_crawl_images=True, port=args.port) as s:
        print(f"serving {args.photos_dir} on {s.base}; mirror: {s.mirror_base}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
