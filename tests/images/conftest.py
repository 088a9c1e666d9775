"""Fixtures for the image stage: the real photos, derived test images, a local server."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from kosmos_samples.image_server import ImageServer

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "images"
PHOTO_NAMES = (
    "astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg",
    "motorcycle_left.png", "rocket.jpg",
)  # fmt: skip


def photos_dir() -> Path:
    missing = [n for n in PHOTO_NAMES if not (PHOTOS / n).is_file()]
    assert not missing, f"test photos missing from {PHOTOS}: {missing} (../shared/data)"
    return PHOTOS


class MapResolver:
    """A DNS stand-in: host -> addresses, no network traffic (picklable for Beam)."""

    def __init__(self, mapping: dict[str, list[str]]) -> None:
        self.mapping = mapping
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.mapping:
            raise OSError(f"unknown host {host}")
        return self.mapping[host]


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


@pytest.fixture
def server():
    with ImageServer(photos_dir()) as s:
        yield s
