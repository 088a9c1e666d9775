"""Configuration for the HTML -> interleaved-document extractors.

One frozen dataclass, validated in ``__post_init__`` so a bad value fails at pipeline
construction time with a message naming the field, not deep inside a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["fast", "fidelity"]


@dataclass(frozen=True)
class ExtractConfig:
    """How to turn one ``HtmlPage`` into one ``Document``.

    ``mode``: ``"fast"`` (lexbor DOM walk, the default hot path) or ``"fidelity"``
    (trafilatura with images; ~10-20x slower, for comparison and small jobs).

    ``timeout_s``: wall-clock cap for one page. Fast mode checks it cooperatively every
    ``check_every_nodes`` DOM nodes; fidelity mode uses SIGALRM in the main thread or a
    watchdog elsewhere (see ``timeout.py`` for the limits of the latter).

    ``min_declared_px``: images whose declared ``width`` or ``height`` (attribute or inline
    style) is below this are dropped as ``too_small_declared``. KOSMOS-1 style corpora keep
    images that can be resized to 224 px; anything declared under ~50 px is an icon, a
    bullet or a spacer in practice.

    ``srcset_max_width``: when a ``srcset`` has width descriptors, pick the largest one not
    above this (or the smallest one above it if all are larger): big enough for a 224-448 px
    training crop without fetching 4K originals.

    ``max_images``: keep at most this many images per document (the rest are counted as
    ``too_many_images``). ``keep_svg``: SVGs are nearly always logos/icons/diagram chrome
    and do not decode with raster tooling, so they are dropped (``svg``) unless set.

    ``main_min_share``: a ``<main>``/``<article>`` candidate becomes the extraction root only
    when it holds at least this share of the page's visible text (after boilerplate
    removal); otherwise the whole body is walked.

    ``list_link_density``: a ``<ul>``/``<ol>`` whose text is at least this share link text
    is treated as navigation (menus, related-links, tag clouds) and removed.

    ``fallback_threshold``: fast mode only. Every fast document carries
    ``meta["extraction_confidence"]``, the share of its block text the block classifier was
    sure about (probability <= 0.2 or >= 0.8, see ``fast._classify``); a page whose
    confidence is below this threshold is extracted again by the fidelity extractor
    (trafilatura, ~20x slower), which then supplies the document. 0 (the default) never
    falls back. On the dev set, 0.8 sends about one page in ten to fidelity (see
    ``bench/extract_quality.py``).
    """

    mode: Mode = "fast"
    timeout_s: float = 5.0
    min_declared_px: int = 50
    srcset_max_width: int = 1024
    max_images: int = 100
    keep_svg: bool = False
    main_min_share: float = 0.25
    list_link_density: float = 0.75
    min_block_chars: int = 1
    check_every_nodes: int = 256
    include_title: bool = False
    fallback_threshold: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in ("fast", "fidelity"):
            raise ValueError(f"ExtractConfig.mode must be 'fast' or 'fidelity', got {self.mode!r}")
        if not isinstance(self.timeout_s, int | float) or not self.timeout_s > 0:
            raise ValueError(f"ExtractConfig.timeout_s must be > 0 seconds, got {self.timeout_s!r}")
        if not isinstance(self.min_declared_px, int) or self.min_declared_px < 0:
            raise ValueError(
                f"ExtractConfig.min_declared_px must be an int >= 0, got {self.min_declared_px!r}"
            )
        if not isinstance(self.srcset_max_width, int) or self.srcset_max_width < 1:
            raise ValueError(
                f"ExtractConfig.srcset_max_width must be an int >= 1, got {self.srcset_max_width!r}"
            )
        if not isinstance(self.max_images, int) or self.max_images < 0:
            raise ValueError(
                f"ExtractConfig.max_images must be an int >= 0, got {self.max_images!r}"
            )
        if not 0.0 <= self.main_min_share <= 1.0:
            raise ValueError(
                f"ExtractConfig.main_min_share must be in [0, 1], got {self.main_min_share!r}"
            )
        if not 0.0 < self.list_link_density <= 1.0:
            raise ValueError(
                f"ExtractConfig.list_link_density must be in (0, 1], got {self.list_link_density!r}"
            )
        if not isinstance(self.min_block_chars, int) or self.min_block_chars < 1:
            raise ValueError(
                f"ExtractConfig.min_block_chars must be an int >= 1, got {self.min_block_chars!r}"
            )
        if not isinstance(self.fallback_threshold, int | float) or not (
            0.0 <= self.fallback_threshold <= 1.0
        ):
            raise ValueError(
                "ExtractConfig.fallback_threshold must be in [0, 1], "
                f"got {self.fallback_threshold!r}"
            )
        if not isinstance(self.check_every_nodes, int) or self.check_every_nodes < 1:
            raise ValueError(
                "ExtractConfig.check_every_nodes must be an int >= 1, "
                f"got {self.check_every_nodes!r}"
            )
