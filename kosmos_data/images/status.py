"""``image_status/``: one Parquet row per distinct image URL of a run, and rerun reuse.

Every URL the image stage saw gets a row: the fetch outcome (``fetch_reason``: ``ok`` or why
the bytes were not usable), the final corpus outcome (``reason``: ``ok`` if at least one
document kept it, else e.g. ``duplicate_sha256``/``decontaminated``), HTTP status, attempts,
sizes, hashes, and the documents that referenced it. Rows whose fetch succeeded also hold
the resized image bytes, so ``--image-status-from PREVIOUS_RUN`` re-fetches only what failed
(or what was fetched with other resize settings, see ``ImageConfig.resize_key``); opt-outs
and HTTP errors are fetched again, since sites change their minds.
"""

from __future__ import annotations

import glob
import os

import pyarrow as pa

from kosmos_data.images.config import ImageConfig
from kosmos_data.images.filters import check_header
from kosmos_data.outputs import read_parquet_dir
from kosmos_data.records import FetchedImage
from kosmos_data.rundir import IMAGE_STATUS

STATUS_DIR = IMAGE_STATUS

STATUS_SCHEMA = pa.schema(
    [
        pa.field("url", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("fetch_reason", pa.string(), nullable=False),
        pa.field("http_status", pa.int32()),
        pa.field("attempts", pa.int32()),
        pa.field("error", pa.string()),
        pa.field("num_bytes", pa.int64()),
        pa.field("original_format", pa.string()),
        pa.field("original_width", pa.int32()),
        pa.field("original_height", pa.int32()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("sha256", pa.string()),
        pa.field("phash", pa.string()),
        pa.field("nsfw_score", pa.float64()),
        pa.field("resize_key", pa.string()),
        pa.field("occurrences", pa.int32()),
        pa.field("kept_occurrences", pa.int32()),
        pa.field("doc_ids", pa.list_(pa.string())),
        pa.field("detail", pa.string()),
        pa.field("reused", pa.bool_()),
        pa.field("image", pa.binary()),
    ]
)


def status_row(
    image: FetchedImage,
    fetch_reason: str,
    reason: str,
    doc_ids: list[str],
    occurrences: int,
    kept: int,
    resize_key: str,
    detail: str = "",
    reused: bool = False,
) -> dict[str, object]:
    return {
        "url": image.url,
        "reason": reason,
        "fetch_reason": fetch_reason,
        "http_status": image.http_status,
        "attempts": image.attempts,
        "error": image.error,
        "num_bytes": image.num_bytes,
        "original_format": image.original_format,
        "original_width": image.original_width,
        "original_height": image.original_height,
        "width": image.width,
        "height": image.height,
        "sha256": image.sha256,
        "phash": image.phash,
        "nsfw_score": image.nsfw_score,
        "resize_key": resize_key,
        "occurrences": occurrences,
        "kept_occurrences": kept,
        "doc_ids": sorted(set(doc_ids)),
        "detail": detail,
        "reused": reused,
        "image": image.data if fetch_reason == "ok" else None,
    }


def reusable(row: dict, config: ImageConfig) -> bool:
    """A previous row can stand in for a fetch: fetched fine, same resize settings."""
    return (
        row.get("fetch_reason") == "ok"
        and row.get("resize_key") == config.resize_key
        and bool(row.get("image"))
    )


def image_from_row(row: dict, config: ImageConfig) -> FetchedImage:
    """Rebuild the fetch result, re-applying the format and size filters of ``config``."""
    img = FetchedImage(
        url=row["url"],
        reason="ok",
        http_status=row.get("http_status"),
        attempts=0,
        data=row.get("image") or b"",
        width=row.get("width") or 0,
        height=row.get("height") or 0,
        original_width=row.get("original_width") or 0,
        original_height=row.get("original_height") or 0,
        original_format=row.get("original_format") or "",
        num_bytes=row.get("num_bytes") or 0,
        sha256=row.get("sha256") or "",
        phash=row.get("phash") or "",
        nsfw_score=row.get("nsfw_score"),
    )
    verdict = check_header(img.original_format, img.original_width, img.original_height, config)
    if verdict:
        img.reason, img.data = verdict, b""
    return img


def status_files(run_dir: str) -> list[str]:
    return sorted(glob.glob(os.path.join(run_dir, STATUS_DIR, "*.parquet")))


def read_status(run_dir: str) -> list[dict]:
    """All status rows of a local run directory (for tests, reports and the demo)."""
    rows = read_parquet_dir(os.path.join(run_dir, STATUS_DIR)).to_pylist()
    return sorted(rows, key=lambda r: r["url"])
