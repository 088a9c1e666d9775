"""Tiny real shards for the trainer tests: generated text + the real photos in ../shared/data.

The photos are re-encoded at 96 px (short side) so image decoding stays cheap; they are still
real photographs. Missing shared data is a failure, never a skip.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from PIL import Image

from kosmos_data import shards as ks

IMAGES = Path(__file__).resolve().parents[3] / "shared" / "data" / "images"
CAPTIONS = {
    "astronaut": "An astronaut in a white space suit smiles in front of a flag.",
    "chelsea": "A tabby cat with green eyes looks at the camera.",
    "coffee": "A cup of coffee sits on a saucer on a wooden table.",
    "hubble_deep_field": "Thousands of distant galaxies fill the deep field image.",
    "motorcycle_left": "A red motorcycle is parked on a white background.",
    "rocket": "A rocket launches into the blue sky with a trail of smoke.",
}
SUBJECTS = ["The cat", "A small dog", "The old man", "My sister", "The teacher", "A red bird"]
VERBS = ["reads", "watches", "finds", "likes", "paints", "carries"]
OBJECTS = ["a long book", "the bright moon", "a green apple", "the river", "a wooden box"]
ENDS = ["every morning.", "near the house.", "after lunch.", "in the garden.", "with care."]


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(x) for x in (SUBJECTS, VERBS, OBJECTS, ENDS))


def photos() -> dict[str, ks.ImageBlob]:
    if not IMAGES.is_dir():
        pytest.fail(f"{IMAGES} is missing: the model tests need the shared photos")
    out = {}
    for name in CAPTIONS:
        path = next(IMAGES.glob(name + ".*"), None)
        if path is None:
            pytest.fail(f"{IMAGES}/{name}.* is missing")
        im = Image.open(path).convert("RGB")
        im.thumbnail((144, 144), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
        out[name] = ks.ImageBlob(buf.getvalue(), "jpg", im.width, im.height)
    return out


def make_shards(root: Path) -> dict[str, str]:
    rng = random.Random(0)
    pics = photos()
    names = sorted(pics)
    text = [
        ks.TextSample(f"doc{i:03d}", " ".join(sentence(rng) for _ in range(rng.randint(3, 12))))
        for i in range(40)
    ]
    caps = [ks.CaptionSample(f"cap{i:03d}", pics[n], CAPTIONS[n]) for i, n in enumerate(names * 3)]
    inter = []
    for i in range(16):
        k = rng.randint(1, 3)
        texts: list[str | None] = [sentence(rng) + " " + sentence(rng)]
        images = []
        for _ in range(k):
            n = rng.choice(names)
            texts += [None, CAPTIONS[n] + " " + sentence(rng)]
            images.append(pics[n])
        inter.append(ks.InterleavedSample(f"web{i:03d}", texts, images))
    cfg = ks.ShardConfig(maxcount=8, groups=2)
    dirs = {}
    for source, samples in (("text", text), ("captions", caps), ("interleaved", inter)):
        d = root / source
        ks.write_local(str(d), source, samples, cfg)
        dirs[source] = str(d)
    return dirs


@pytest.fixture(scope="session")
def shard_dirs(tmp_path_factory) -> dict[str, str]:
    return make_shards(tmp_path_factory.mktemp("shards"))


@pytest.fixture(scope="session")
def tokenizer(shard_dirs, tmp_path_factory):
    from kosmos_model.data import iter_texts
    from kosmos_model.tokenizer import TokenizerConfig, train_tokenizer

    tok = train_tokenizer(iter_texts(list(shard_dirs.values())), TokenizerConfig(vocab_size=400))
    path = tmp_path_factory.mktemp("tok") / "tok.model"
    tok.save(str(path))
    return tok, str(path)
