"""Command-line flags of the image stage (shared by the jobs that fetch images).

Every flag defaults to ``None`` so that a ``--config`` file's ``images`` section applies
unless a flag overrides it (``kosmos_data.config.merge``).
"""

from __future__ import annotations

import argparse

from kosmos_data.images.config import RESIZE_MODES


def add_image_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("images")
    g.add_argument(
        "--fetch-images",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fetch, filter, dedup and decontaminate the documents' images (default: off, "
        "the job makes no network requests unless asked)",
    )
    g.add_argument("--image-size", type=int, default=None, help="resize target (KOSMOS-1: 224)")
    g.add_argument("--resize-mode", choices=RESIZE_MODES, default=None)
    g.add_argument("--image-timeout", type=float, default=None, help="seconds per request")
    g.add_argument("--image-retries", type=int, default=None)
    g.add_argument("--image-threads", type=int, default=None, help="download threads/worker")
    g.add_argument("--user-agent", default=None, help="User-Agent header of image requests")
    g.add_argument(
        "--allow-private-addresses",
        action="store_true",
        default=None,
        help="allow loopback/private/link-local targets (tests and the local demo server only)",
    )
    g.add_argument("--image-min-side", type=int, default=None, help="pixels (OBELICS: 150)")
    g.add_argument("--image-max-aspect", type=float, default=None, help="(OBELICS: 2)")
    g.add_argument("--eval-images", default=None, help="dir (or hash file) of eval images")
    g.add_argument("--phash-threshold", type=int, default=None, help="near-dup bits (4)")
    g.add_argument("--decontam-phash-threshold", type=int, default=None, help="eval-match bits (4)")
    g.add_argument(
        "--image-status-from",
        default=None,
        help="earlier run directory: reuse its fetched images, re-fetch only what failed",
    )
    g.add_argument(
        "--nsfw-filter",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="score images with open_nsfw and drop NSFW ones (default: on)",
    )
    g.add_argument("--nsfw-image-threshold", type=float, default=None, help="drop image (0.5)")
    g.add_argument("--nsfw-document-threshold", type=float, default=None, help="drop doc (0.8)")
    g.add_argument(
        "--block-image-hashes",
        default=None,
        help="file of known-bad image pHashes (one per line): matches are dropped, never stored",
    )
    g.add_argument(
        "--image-mirror",
        default=None,
        help="fetch every image as MIRROR/<host>/<path> (an internal mirror, or the demo server)",
    )


def image_flag_values(opts) -> dict[str, object]:
    """Flag values as ``ImageConfig`` fields (``None``: not given)."""
    return {
        "fetch": opts.fetch_images,
        "image_size": opts.image_size,
        "resize_mode": opts.resize_mode,
        "timeout_s": opts.image_timeout,
        "retries": opts.image_retries,
        "threads": opts.image_threads,
        "user_agent": opts.user_agent,
        "allow_private_addresses": opts.allow_private_addresses,
        "min_side": opts.image_min_side,
        "max_aspect_ratio": opts.image_max_aspect,
        "eval_images": opts.eval_images,
        "phash_threshold": opts.phash_threshold,
        "decontam_phash_threshold": opts.decontam_phash_threshold,
        "status_from": opts.image_status_from,
        "mirror": opts.image_mirror,
        "nsfw_filter": opts.nsfw_filter,
        "nsfw_image_threshold": opts.nsfw_image_threshold,
        "nsfw_document_threshold": opts.nsfw_document_threshold,
        "block_hashes": opts.block_image_hashes,
    }
