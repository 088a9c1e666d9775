"""Calibration of the int8 open_nsfw (``kosmos_data.safety.nsfw_int8``): the activation
ranges shipped in ``kosmos_data/assets/open-nsfw-int8-ranges.json``.

    python -m kosmos_samples.nsfw_calibration

It lives with the sample generators, not in the core, because its inputs are procedural
photos (``kosmos_samples.synthetic``): the core only reads the shipped ranges, and the
imports run downward (samples -> core). MinMax over ``CALIBRATION_IMAGES`` photos rendered
from fixed ids and decoded through the stage's own ``model_input``: no image from outside
the repository, none of the evaluation photos, the same file on every machine
(``tests/safety/test_nsfw_int8.py`` recomputes the ranges and compares).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from kosmos_data.safety.nsfw import MODEL_SHA256, model_input
from kosmos_data.safety.nsfw_int8 import RANGES_FILE, compute_ranges, int8_sha256
from kosmos_samples.synthetic import synthetic_photo

CALIBRATION_IMAGES = 64
CALIBRATION_PREFIX = "nsfw-int8-calibration"


def calibration_inputs(n: int = CALIBRATION_IMAGES) -> list[np.ndarray]:
    """The ``model_input`` arrays of ``n`` procedural photos (deterministic bytes)."""
    sizes = ((320, 240), (240, 320), (400, 300), (256, 256))
    out = []
    for i in range(n):
        w, h = sizes[i % len(sizes)]
        data = synthetic_photo(f"{CALIBRATION_PREFIX}/{i}", w, h)
        with Image.open(io.BytesIO(data)) as im:
            out.append(model_input(im))
    return out


def write_ranges(path: Path = RANGES_FILE) -> None:
    """Recompute the ranges and write them as sorted-key JSON."""
    ranges = compute_ranges(calibration_inputs())
    doc = {
        "model_sha256": MODEL_SHA256,
        "calibration": f"MinMax over {CALIBRATION_IMAGES} kosmos_samples.synthetic photos "
        f"'{CALIBRATION_PREFIX}/<i>' through model_input (kosmos_samples.nsfw_calibration)",
        "ranges": ranges,
    }
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_ranges()
    print(f"wrote {RANGES_FILE}")
    print("int8 model sha256", int8_sha256())
