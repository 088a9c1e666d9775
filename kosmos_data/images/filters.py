"""Per-image filters, decided from the image header before any pixel is decoded.

``probe`` reads the format and pixel size with Pillow's lazy ``Image.open`` (header only), so
a decompression bomb — a few KB of PNG/GIF that declares 50,000 x 50,000 pixels — is refused
by its declared size, never decoded. ``check_dimensions`` applies the size rules (see
``ImageConfig`` for sources). Each returns ``None`` (keep) or a stable reason;
``check_header`` applies both, at fetch time and again to an image a rerun reuses.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

from kosmos_data.images.config import ImageConfig


def probe(data: bytes) -> tuple[Image.Image | None, str | None, str]:
    """(opened image or None, reason or None, error text) from the header alone."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        return None, "decompression_bomb", str(e)
    except Exception as e:
        return None, "undecodable", f"{type(e).__name__}: {e}"
    return img, None, ""


def check_format(fmt: str | None, config: ImageConfig) -> str | None:
    return None if fmt in config.formats else "bad_format"


def check_dimensions(width: int, height: int, config: ImageConfig) -> str | None:
    """Pixel budget, then min side, max side and aspect ratio (either orientation)."""
    if width <= 0 or height <= 0:
        return "undecodable"
    if width * height > config.max_pixels:
        return "decompression_bomb"
    if min(width, height) < config.min_side:
        return "too_small"
    if max(width, height) > config.max_side:
        return "too_large_dimensions"
    if max(width, height) / min(width, height) > config.max_aspect_ratio:
        return "aspect_ratio"
    return None


def check_header(fmt: str | None, width: int, height: int, config: ImageConfig) -> str | None:
    """The format rule, then the size rules."""
    return check_format(fmt, config) or check_dimensions(width, height, config)
