"""Benchmark: open_nsfw fp32 vs int8 and int8-vnni (``ImageConfig.nsfw_precision``; int8-vnni
on a CPU with VNNI only): agreement and speed.

Images (all through the stage's own decode, ``ImageFetcher._decode``, so the classifier sees
exactly what it sees in a run):

* the six photos of ``../shared/data/images`` as they are;
* ``--crops`` web-like crops of them (``kosmos_samples.image_server.unique_variant``, the
  generated crawl's images; other ids than the int8 calibration, which uses none of these);
* the tests' derived images (``kosmos_samples.photos``: re-encodes at q60, 0.7x resizes,
  PNG copies, solid colours);
* ``--probes`` procedural skin-tone blobs (``kosmos_samples.synthetic.skin_tone_blobs``,
  abstract shapes) of which the ones fp32 scores above 0.15 are kept: no real test photo
  scores near the 0.5 / 0.8 thresholds, these reach ~0.6, so they show how int8 behaves
  near the image threshold.

Agreement: max / mean |int8 - fp32| score, the same on the logit log(p / (1 - p)) (overall
and for images with fp32 logit > -5, i.e. p > 0.0067, nearest the thresholds), and how many
decisions flip at ``nsfw_image_threshold`` / ``nsfw_document_threshold``.

Speed: classifier CPU ms/image (``time.process_time``), onnxruntime on one intra-op thread,
batch sizes 1/8/32, best of ``--repeat``; preprocessing (``nsfw.preprocess``) included.

Usage: python bench/nsfw_int8.py [--crops 300] [--probes 1500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kosmos_data.images import ImageConfig, ImageFetcher
from kosmos_data.images.fetch import Download
from kosmos_data.safety.nsfw import NsfwClassifier
from kosmos_data.safety.nsfw_int8 import cpu_has_vnni
from kosmos_samples.image_server import unique_variant
from kosmos_samples.photos import PHOTOS, encode, solid, variant
from kosmos_samples.synthetic import skin_tone_blobs


def test_images() -> dict[str, bytes]:
    """The tests' derived images of the shared photos (``kosmos_samples.photos``)."""
    from PIL import Image

    out = {}
    for p in sorted(PHOTOS.iterdir()):
        data = p.read_bytes()
        out[f"{p.stem}-q60"] = variant(data, 1.0, 60)
        out[f"{p.stem}-x07"] = variant(data, 0.7, 85)
        with Image.open(io.BytesIO(data)) as im:
            out[f"{p.stem}-png"] = encode(im.convert("RGB"), "PNG")
    for i, colour in enumerate(((200, 30, 30), (30, 200, 30), (240, 200, 170), (0, 0, 0))):
        out[f"solid-{i}"] = solid(300, 300, colour)
    return out


def image_sets(crops: int) -> dict[str, dict[str, bytes]]:
    photos = {p.name: p.read_bytes() for p in sorted(PHOTOS.iterdir())}
    names = sorted(photos)
    web = {}
    for i in range(crops):
        image_id = hashlib.sha1(f"nsfw-int8-eval/{i}".encode()).hexdigest()[:12]
        web[image_id] = unique_variant(photos[names[i % len(names)]], image_id)
    return {"photos": photos, "web-like crops": web, "test images": test_images()}


def model_inputs(images: dict[str, bytes]) -> list[np.ndarray]:
    fetcher = ImageFetcher(ImageConfig())  # the classifier on: decode makes its input
    fetcher.setup()
    out = []
    for name, data in images.items():
        _, px = fetcher._decode(name, Download("ok", data, 200, 1))
        if px is not None and px.nsfw_input is not None:
            out.append(px.nsfw_input)
    return out


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def agreement(ref: np.ndarray, got: np.ndarray, cfg: ImageConfig) -> str:
    d, dl = np.abs(got - ref), np.abs(logit(got) - logit(ref))
    near = logit(ref) > -5
    flips = sum(
        int(((ref > t) != (got > t)).sum())
        for t in (cfg.nsfw_image_threshold, cfg.nsfw_document_threshold)
    )
    near_txt = f"max {dl[near].max():.3f} mean {dl[near].mean():.3f}" if near.any() else "-"
    return (
        f"n={len(ref):4d} fp32 max {ref.max():.4f}  |d score| max {d.max():.5f} "
        f"mean {d.mean():.5f}  |d logit| max {dl.max():.3f} mean {dl.mean():.3f}, "
        f"at fp32 logit > -5 (n={int(near.sum())}) {near_txt}  flips {flips}"
    )


def bands(ref: np.ndarray, got: np.ndarray, name: str) -> None:
    """Signed differences and decisions at 0.5 per band of the fp32 score."""
    for lo, hi in ((0.15, 0.3), (0.3, 0.5), (0.5, 1.0)):
        m = (ref > lo) & (ref <= hi)
        if m.any():
            d = got[m] - ref[m]
            above = f"fp32 {int((ref[m] > 0.5).sum())}, {name} {int((got[m] > 0.5).sum())}"
            print(
                f"{'':15s}   fp32 in ({lo}, {hi}]: n={int(m.sum())} signed mean "
                f"{d.mean():+.3f}, |d| max {np.abs(d).max():.3f}; above 0.5: {above}"
            )


def speed(clf: NsfwClassifier, inputs: list[np.ndarray], batch: int, repeat: int) -> float:
    clf.batch_size = batch
    n = max(batch, 64 // batch * batch)
    xs = (inputs * (n // len(inputs) + 1))[:n]
    clf.scores(xs[:batch])  # warm up
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        clf.scores(xs)
        best = min(best, (time.process_time() - t) / n * 1000)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crops", type=int, default=300)
    ap.add_argument("--probes", type=int, default=1500)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cfg = ImageConfig()
    sets = {k: model_inputs(v) for k, v in image_sets(args.crops).items()}
    t = time.process_time()
    classifiers = {"fp32": NsfwClassifier(32, 1, "fp32")}
    fp32_s = time.process_time() - t
    probes = model_inputs({f"nsfw-probe/{i}": skin_tone_blobs(f"nsfw-probe/{i}")
                           for i in range(args.probes)})  # fmt: skip
    probe_scores = classifiers["fp32"].scores(probes)
    sets["skin probes>.15"] = [x for x, p in zip(probes, probe_scores, strict=True) if p > 0.15]
    variants = ["int8", "int8-vnni"] if cpu_has_vnni() else ["int8"]
    if len(variants) == 1:
        print("int8-vnni: not measured (this CPU has no VNNI; the classifier refuses it)")
    builds = []
    for v in variants:
        t = time.process_time()
        classifiers[v] = NsfwClassifier(32, 1, v)
        builds.append(f"{v} {time.process_time() - t:.2f}")
    print(f"session build CPU s: fp32 {fp32_s:.2f}, {', '.join(builds)} "
          "(int8 includes quantising the model)")  # fmt: skip
    scores = {
        k: {s: np.array(c.scores(x)) for s, x in sets.items()} for k, c in classifiers.items()
    }
    real = [k for k in sets if not k.startswith("skin")]
    for v in variants:
        print(f"\n{v} against fp32")
        for s in [*sets, "all but probes"]:
            if s == "all but probes":
                ref = np.concatenate([scores["fp32"][k] for k in real])
                got = np.concatenate([scores[v][k] for k in real])
            else:
                ref, got = scores["fp32"][s], scores[v][s]
            print(f"{s:15s} {agreement(ref, got, cfg)}")
            if s.startswith("skin"):
                bands(ref, got, v)
    print()
    inputs = sets["web-like crops"] or sets["photos"]
    for name, clf in classifiers.items():
        row = "  ".join(f"bs {b:2d} {speed(clf, inputs, b, args.repeat):6.2f}" for b in (1, 8, 32))
        print(f"{name} ms/image (1 thread):  {row}")


if __name__ == "__main__":
    main()
