"""open_nsfw int8 (``ImageConfig.nsfw_precision="int8"``): agreement with fp32 on the shared
photos, its lower scores near the 0.5 threshold (why fp32 is the default), deterministic
build from the shipped ranges, config and flag validation; ``int8-vnni`` (8-bit weights):
the same agreement and the fp32 > 0.5 probes kept above 0.5 on a VNNI CPU, refusal elsewhere.

Bounds, from ``bench/nsfw_int8.py`` (6 photos, 300 web-like crops, 22 derived test images;
all safe: fp32 max 0.31): max |int8 - fp32| score 0.0022 on the six photos, 0.037 on the
crops, 0.086 on a skin-coloured solid square (fp32 0.170, int8 0.085); mean 0.0027; no
decision flips at 0.5 / 0.8. The asserted bounds below leave ~2x headroom for onnxruntime
kernel differences between CPUs, not for a different model (the model bytes are checked).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from kosmos_data.images import ImageConfig, ImageFetcher
from kosmos_data.images.fetch import Download
from kosmos_data.safety import nsfw_int8
from kosmos_data.safety.nsfw import NsfwClassifier
from kosmos_samples.image_server import unique_variant
from kosmos_samples.nsfw_calibration import calibration_inputs
from kosmos_samples.photos import PHOTO_NAMES, encode, photos_dir, solid, variant
from kosmos_samples.synthetic import skin_tone_blobs

PHOTOS_MAX_DIFF = 0.01  # measured 0.0022
ALL_MAX_DIFF = 0.15  # measured 0.086 (skin-coloured solid square)
MEAN_DIFF = 0.01  # measured 0.0027 (bench, 328 images), 0.0049 on this test's 83


def _images() -> dict[str, bytes]:
    out = {}
    for name in PHOTO_NAMES:
        data = (photos_dir() / name).read_bytes()
        out[name] = data
        out[f"{name}-q60"] = variant(data, 1.0, 60)
        out[f"{name}-x07"] = variant(data, 0.7, 85)
        for i in range(10):
            image_id = hashlib.sha1(f"nsfw-int8-eval/{name}/{i}".encode()).hexdigest()[:12]
            out[f"{name}-crop{i}"] = unique_variant(data, image_id)
    for i, colour in enumerate(((200, 30, 30), (30, 200, 30), (240, 200, 170), (0, 0, 0))):
        out[f"solid-{i}"] = solid(300, 300, colour)
    out["solid-jpeg"] = encode(Image.new("RGB", (400, 300), "tan"))
    return out


@pytest.fixture(scope="module")
def inputs() -> dict[str, np.ndarray]:
    fetcher = ImageFetcher(ImageConfig(nsfw_filter=True))
    fetcher.setup()
    out = {}
    for name, data in _images().items():
        _, px = fetcher._decode(name, Download("ok", data, 200, 1))
        assert px is not None and px.nsfw_input is not None, name
        out[name] = px.nsfw_input
    return out


def test_int8_agrees_with_fp32_on_the_shared_photos(inputs):
    names = list(inputs)
    x = [inputs[n] for n in names]
    fp32 = np.array(NsfwClassifier(precision="fp32").scores(x))
    int8 = np.array(NsfwClassifier(precision="int8").scores(x))
    d = np.abs(int8 - fp32)
    photos = np.array([n in PHOTO_NAMES for n in names])
    worst = names[int(d.argmax())]
    print(f"int8 vs fp32 over {len(names)} images: max |d| {d.max():.5f} ({worst}: "
          f"{fp32[names.index(worst)]:.4f} -> {int8[names.index(worst)]:.4f}), mean "
          f"{d.mean():.5f}; six photos max {d[photos].max():.5f}")  # fmt: skip
    assert d[photos].max() < PHOTOS_MAX_DIFF
    assert d.max() < ALL_MAX_DIFF
    assert d.mean() < MEAN_DIFF
    c = ImageConfig()
    for t in (c.nsfw_image_threshold, c.nsfw_document_threshold):
        assert ((fp32 > t) == (int8 > t)).all(), f"a decision flips at {t}"


#: The procedural skin-tone blobs (of ``nsfw-probe/0..1499``) that fp32 scores above 0.5
#: (0.50-0.62) and int8 0.35-0.61 (bench/nsfw_int8.py).
ABOVE_HALF = (366, 786, 319, 1063, 947, 1253, 1218)


def _probe_inputs() -> list[np.ndarray]:
    fetcher = ImageFetcher(ImageConfig())
    fetcher.setup()
    x = []
    for i in ABOVE_HALF:
        _, px = fetcher._decode("p", Download("ok", skin_tone_blobs(f"nsfw-probe/{i}"), 200, 1))
        x.append(px.nsfw_input)
    return x


def test_int8_scores_lower_near_the_threshold_so_fp32_stays_default():
    x = _probe_inputs()
    fp32 = np.array(NsfwClassifier(precision="fp32").scores(x))
    int8 = np.array(NsfwClassifier(precision="int8").scores(x))
    print("fp32", fp32.round(3), "int8", int8.round(3))
    assert (fp32 > 0.5).all()
    assert np.abs(int8 - fp32).max() < 0.3  # measured 0.17
    assert (int8 - fp32).mean() < 0  # measured -0.082: int8 under-scores here
    assert (int8 > 0.5).sum() < len(ABOVE_HALF)  # measured 3 of 7 kept above 0.5
    assert ImageConfig().nsfw_precision == "fp32"


def test_int8_model_builds_byte_identical_from_the_shipped_ranges():
    first, eight_bit = nsfw_int8.int8_model(), nsfw_int8.int8_model(reduce_range=False)
    nsfw_int8._build_int8_model.cache_clear()
    assert nsfw_int8.int8_model() == first
    assert nsfw_int8.int8_model(reduce_range=False) == eight_bit
    assert eight_bit != first  # the weights differ (8 vs 7 bits); the graph is the same
    assert len(first) < 8 * 1024 * 1024  # int8 weights: ~6 MB against the fp32 23 MB


def test_vnni_is_read_from_the_cpu_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    assert not nsfw_int8.cpu_has_vnni(str(info))
    with pytest.raises(RuntimeError, match="no VNNI"):
        nsfw_int8.require_vnni(str(info))
    for flag in ("avx512_vnni", "avx_vnni", "amx_int8"):
        info.write_text(f"processor\t: 0\nflags\t\t: fpu avx2 {flag} sse2\n")
        assert nsfw_int8.cpu_has_vnni(str(info)), flag
    info.write_text("model name : avx512_vnni in a name, not a flag\nflags : fpu sse2\n")
    assert not nsfw_int8.cpu_has_vnni(str(info))
    assert not nsfw_int8.cpu_has_vnni(str(tmp_path / "missing"))


def test_int8_vnni_keeps_the_fp32_decisions_or_refuses_the_cpu(inputs):
    """On a VNNI CPU (the development and CI machines: AMD EPYC with AVX-512 VNNI): the real
    images agree with fp32 as int8 does, and the fp32 > 0.5 probes stay above 0.5 (int8
    lets 4 of 7 through; one borderline miss is allowed for kernel differences between
    CPUs). Elsewhere: the classifier refuses to start, with the reason."""
    if not nsfw_int8.cpu_has_vnni():
        with pytest.raises(RuntimeError, match="no VNNI"):
            NsfwClassifier(precision="int8-vnni")
        return
    names = list(inputs)
    x = [inputs[n] for n in names]
    fp32 = np.array(NsfwClassifier(precision="fp32").scores(x))
    vnni = NsfwClassifier(precision="int8-vnni")
    got = np.array(vnni.scores(x))
    d = np.abs(got - fp32)
    photos = np.array([n in PHOTO_NAMES for n in names])
    print(f"int8-vnni vs fp32 over {len(names)} images: max |d| {d.max():.5f}, mean "
          f"{d.mean():.5f}; six photos max {d[photos].max():.5f}")  # fmt: skip
    assert d[photos].max() < PHOTOS_MAX_DIFF  # measured 0.0026 (bench)
    assert d.max() < ALL_MAX_DIFF and d.mean() < MEAN_DIFF
    c = ImageConfig()
    for t in (c.nsfw_image_threshold, c.nsfw_document_threshold):
        assert ((fp32 > t) == (got > t)).all(), f"a decision flips at {t}"
    x = _probe_inputs()
    ref, probes = np.array(NsfwClassifier(precision="fp32").scores(x)), np.array(vnni.scores(x))
    print("fp32 > 0.5 probes: fp32", ref.round(4), "int8-vnni", probes.round(4))
    # measured: all 7 above 0.5 (the lowest 0.5004, fp32 0.554), signed mean +0.023; int8
    # keeps 3 of 7 above 0.5, signed mean -0.082
    assert (probes > 0.5).sum() >= len(ABOVE_HALF) - 1
    assert abs((probes - ref).mean()) < 0.05


def test_int8_vnni_in_the_stage_config():
    assert ImageConfig(nsfw_precision="int8-vnni").nsfw_precision == "int8-vnni"


def test_shipped_ranges_are_reproduced_by_the_calibration():
    shipped = nsfw_int8.load_ranges()
    again = nsfw_int8.compute_ranges(calibration_inputs())
    assert sorted(again) == sorted(shipped)
    for k, (lo, hi) in shipped.items():
        assert again[k] == pytest.approx([lo, hi], rel=1e-4, abs=1e-5), k


def test_int8_in_the_stage():
    fetcher = ImageFetcher(ImageConfig(nsfw_precision="int8"))
    fetcher.setup()
    assert fetcher.safety.classifier.precision == "int8"
    data = (photos_dir() / "astronaut.png").read_bytes()
    img = fetcher.prepare("astronaut.png", Download("ok", data, 200, 1))
    assert img.ok and img.nsfw_score is not None and img.nsfw_score < 0.2


def test_precision_is_validated():
    assert ImageConfig().nsfw_precision == "fp32"
    assert ImageConfig(nsfw_precision="int8").nsfw_precision == "int8"
    for bad in ("fp16", "INT8", "int8_vnni", 8, None):
        with pytest.raises(ValueError, match="nsfw_precision"):
            ImageConfig(nsfw_precision=bad)
    with pytest.raises(ValueError, match="precision"):
        NsfwClassifier(precision="fp16")
