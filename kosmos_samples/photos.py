"""The real photos of ``../shared/data/images`` and images derived from them (re-encodes,
resizes, solid colours): what the image tests and the image benchmarks feed the stage."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "images"
PHOTO_NAMES = (
    "astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg",
    "motorcycle_left.png", "rocket.jpg",
)  # fmt: skip


def photos_dir() -> Path:
    """``PHOTOS``, after checking that every photo is there (tests fail, not skip)."""
    missing = [n for n in PHOTO_NAMES if not (PHOTOS / n).is_file()]
    if missing:
        raise FileNotFoundError(f"photos missing from {PHOTOS}: {missing} (../shared/data)")
    return PHOTOS


def encode(img: Image.Image, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def variant(data: bytes, scale: float, quality: int = 80) -> bytes:
    """A resized, re-encoded copy of a photo (a near duplicate: other bytes, same picture)."""
    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")
        w, h = im.size
        return encode(im.resize((int(w * scale), int(h * scale))), quality=quality)


def solid(w: int, h: int, color=(200, 30, 30), fmt: str = "PNG") -> bytes:
    return encode(Image.new("RGB", (w, h), color), fmt)
