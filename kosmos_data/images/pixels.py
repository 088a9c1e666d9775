"""One decode per image, shared by the resize, the pHash and the NSFW classifier.

Before, an image was decoded three times (Pillow's header probe, OpenCV in img2dataset's
``Resizer``, and Pillow again to hash the resized JPEG). Here the probed Pillow image is
decoded once:

* JPEG uses **draft mode** (``Image.draft``: libjpeg's DCT scaling by 1/2, 1/4 or 1/8), asking
  for the smallest scale that is still at least as large as every consumer needs (the resize
  target, and 256x256 for the classifier's squash), so a 2000 px photo is decoded at
  ~250-500 px instead of in full; other formats decode at full size;
* transparency is matted on white, as img2dataset does;
* the resize is Pillow's (``BOX`` filter when shrinking — the area average img2dataset gets
  from OpenCV's ``INTER_AREA`` — Lanczos when enlarging, img2dataset's defaults), with the
  centre crop folded into the resize's source ``box``; modes match img2dataset's
  ``ResizeMode`` (``no``, ``keep_ratio``, ``center_crop``, ``border``, ``keep_ratio_largest``);
* the pHash is taken from the resized image in memory (the image as the trainer sees it,
  ``kosmos_data.images.phash``), not from a re-decoded JPEG;
* the classifier's 224x224 input is cut from the same decoded image.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from kosmos_data.images.phash import phash_image
from kosmos_data.safety.nsfw import model_input

#: The classifier squashes the whole image to 256x256 before its crop (open_nsfw).
NSFW_SOURCE_SIDE = 256


@dataclass(slots=True)
class Pixels:
    """The products of one decode: the encoded resize, its pHash, the classifier input."""

    data: bytes
    width: int
    height: int
    phash: int
    nsfw_input: np.ndarray | None = None


def _target(w: int, h: int, size: int, mode: str) -> tuple[int, int, tuple[float, ...] | None]:
    """(out width, out height, source crop box or None) for img2dataset's resize modes."""
    if mode == "no":
        return w, h, None
    # keep_ratio/center_crop fit the short side; border/keep_ratio_largest the long side
    s = size / (min(w, h) if mode in ("keep_ratio", "center_crop") else max(w, h))
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    if mode != "center_crop":
        return nw, nh, None
    # crop the centre size x size of the (nw, nh) resize, mapped back to source pixels
    x0, y0 = (nw - size) // 2, (nh - size) // 2
    return size, size, (x0 / s, y0 / s, (x0 + size) / s, (y0 + size) / s)


def _draft_request(w: int, h: int, size: int, mode: str, nsfw: bool) -> tuple[int, int]:
    """The smallest decoded size every consumer can still work from without enlarging."""
    if mode == "no":
        return w, h
    s = size / (min(w, h) if mode in ("keep_ratio", "center_crop") else max(w, h))
    rw, rh = math.ceil(w * min(s, 1)), math.ceil(h * min(s, 1))
    if nsfw:
        rw, rh = max(rw, min(w, NSFW_SOURCE_SIDE)), max(rh, min(h, NSFW_SOURCE_SIDE))
    return rw, rh


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def decode(img: Image.Image, size: int, mode: str, quality: int, nsfw: bool = False) -> Pixels:
    """Decode the (header-probed, not yet loaded) ``img`` once; see the module docstring.

    Raises whatever Pillow raises on corrupt data (the caller names it ``undecodable``).
    """
    w, h = img.size
    if img.format == "JPEG":
        img.draft("RGB", _draft_request(w, h, size, mode, nsfw))
    img.load()
    rgb = _to_rgb(img)
    # the decoded image may be smaller than (w, h) (draft): scale the geometry to it
    dw, dh = rgb.size
    ow, oh, box = _target(w, h, size, mode)
    if box is not None:
        fx, fy = dw / w, dh / h
        box = (box[0] * fx, box[1] * fy, box[2] * fx, box[3] * fy)
    if (ow, oh) == (dw, dh) and box is None:
        out = rgb
    else:
        shrink = ow * oh <= dw * dh
        resample = Image.Resampling.BOX if shrink else Image.Resampling.LANCZOS
        out = rgb.resize((ow, oh), resample, box=box)
    if mode == "border" and (ow, oh) != (size, size):
        canvas = Image.new("RGB", (size, size), (255, 255, 255))
        canvas.paste(out, ((size - ow) // 2, (size - oh) // 2))
        out, ow, oh = canvas, size, size
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=quality)
    return Pixels(buf.getvalue(), ow, oh, phash_image(out), model_input(rgb) if nsfw else None)
