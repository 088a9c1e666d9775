"""Procedural photos for the demo: one distinct image per image id, no files shipped.

The demo must run on a fresh machine without downloads, and the generated crawl references
thousands of image ids. Serving a handful of real photos for all of them would make the
corpus-wide sha256/pHash image dedup remove almost every image, so the demo server renders
an image per id instead: a smooth colour field (a few random 2-D sinusoids) with random
ellipses and bars on top. Different ids give images whose 64-bit pHashes are far apart
(tests check the spread), and the same id always gives the same JPEG bytes.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image, ImageDraw


def _rng(image_id: str) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha1(image_id.encode("utf-8")).digest()[:8], "big")
    return np.random.default_rng(seed)


def synthetic_photo(image_id: str, width: int = 320, height: int = 240) -> bytes:
    """A deterministic JPEG for ``image_id`` (``width`` x ``height``, quality 90)."""
    if width < 8 or height < 8:
        raise ValueError(f"synthetic_photo: size must be >= 8x8, got {width}x{height}")
    rng = _rng(image_id)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.zeros((height, width, 3), np.float32)
    for c in range(3):
        for _ in range(3):
            fx, fy = rng.uniform(0.5, 4.0, 2) * 2 * np.pi / np.array([width, height])
            phase = rng.uniform(0, 2 * np.pi)
            img[..., c] += np.sin(fx * x + fy * y + phase) * rng.uniform(20, 60)
        img[..., c] += rng.uniform(60, 190)
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(3, 8))):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(width // 10, width // 2), rng.integers(height // 10, height // 2)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            draw.rectangle([x0, y0, x0 + w, y0 + h // 3], fill=colour)
    buf = io.BytesIO()
    pil.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def skin_tone_blobs(image_id: str, width: int = 320, height: int = 320) -> bytes:
    """A deterministic JPEG of skin-coloured ellipses on a skin-coloured or random field,
    some blurred, some with noise: abstract shapes, nothing depicted, that open_nsfw scores
    from ~0 up to ~0.7 (fp32). ``bench/nsfw_int8.py`` uses them to compare int8 with fp32
    near the 0.5 decision threshold, where no real test photo scores."""
    from PIL import ImageFilter

    rng = _rng("skin/" + image_id)
    kind = int(rng.integers(0, 4))

    def skin() -> tuple[int, int, int]:
        r, g, b = rng.uniform(150, 255), rng.uniform(100, 210), rng.uniform(70, 180)
        return int(r), int(g), int(b)

    def any_colour() -> tuple[int, int, int]:
        r, g, b = (int(v) for v in rng.integers(0, 256, 3))
        return r, g, b

    pil = Image.new("RGB", (width, height), skin() if kind else any_colour())
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(1, 8))):
        x0, y0 = (int(v) for v in rng.integers(0, (width, height)))
        w, h = (int(v) // 2 for v in rng.integers(30, 250, 2))
        fill = skin() if rng.random() < 0.8 else any_colour()
        draw.ellipse([x0 - w, y0 - h, x0 + w, y0 + h], fill=fill)
    if kind >= 2:
        pil = pil.filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 15))))
    if kind == 3:
        noisy = np.asarray(pil, np.int16) + rng.normal(0, 8, (height, width, 3)).astype(np.int16)
        pil = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    pil.save(buf, "JPEG", quality=90)
    return buf.getvalue()
