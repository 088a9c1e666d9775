"""Loader processes: batch order independent of the worker count, exact resume, sharding of
shards across ranks and loader shards, and all the work done in the workers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kosmos_data import shards as ks
from kosmos_model.data import BatchLoader, LoaderSpec


def _spec(shard_dirs, tok, **kw) -> LoaderSpec:
    base = dict(
        shard_dirs=shard_dirs,
        tokenizer=tok.model_proto,
        num_latents=64,
        batch_size=2,
        seq_len=128,
        image_size=28,
        seed=5,
        loader_shards=4,
    )
    return LoaderSpec(**(base | kw))


def _take(loader: BatchLoader, n: int) -> list[tuple]:
    out = []
    for _ in range(n):
        b = next(loader)
        px = None if b.pixels is None else b.pixels.numpy().tobytes()
        out.append(
            (b.input_ids.numpy().tobytes(), b.targets.numpy().tobytes(), px, tuple(b.sources))
        )
    return out


def test_same_batches_for_any_worker_count_and_exact_resume(shard_dirs, tokenizer):
    tok, _ = tokenizer
    spec = _spec(shard_dirs, tok)
    with BatchLoader(spec, workers=0, prefetch=0) as ld:
        want = _take(ld, 6)
        state = json.loads(json.dumps(ld.state_dict()))  # checkpoint round trip
        want += _take(ld, 6)
    assert state["next"] == 6 and sum(s is not None for s in state["shards"]) == 4
    assert any(w[2] is not None for w in want)  # images came through
    for workers, prefetch in ((1, 2), (3, 1)):
        with BatchLoader(spec, workers=workers, prefetch=prefetch) as ld:
            got = _take(ld, 12)
            pids = ld.pids
        same = sum(g == w for g, w in zip(got, want, strict=True))
        print(f"{workers} worker(s) (pids {pids}), prefetch {prefetch}: {same}/12 batches same")
        assert got == want
    # Resume from batch 6 with a different worker count: the identical next batches.
    with BatchLoader(spec, workers=2, prefetch=2, state=state) as ld:
        assert _take(ld, 6) == want[6:]
    # Another loader-shard count is another batch order, refused on resume.
    with pytest.raises(ValueError, match="loader shards"):
        BatchLoader(_spec(shard_dirs, tok, loader_shards=2), state=state)


def test_files_are_sharded_across_ranks_and_loader_shards(shard_dirs, tokenizer, tmp_path):
    tok, _ = tokenizer
    # 40 text documents in 10 files: 2 ranks x 2 loader shards split the files.
    docs = [ks.TextSample(f"d{i:02d}", f"Document number {i} has one sentence.") for i in range(40)]
    ks.write_local(str(tmp_path / "text"), "text", docs, ks.ShardConfig(maxcount=4, groups=1))
    dirs = {"text": str(tmp_path / "text"), "captions": shard_dirs["captions"]}
    files, ids = {}, {}
    for rank in range(2):
        for v in range(2):
            spec = _spec(dirs, tok, rank=rank, world_size=2, loader_shards=2)
            streams = spec.build(v).streams
            files[rank, v] = streams["text"].files
            # captions has 3 files for 4 partitions: samples are split instead.
            cap = streams["captions"]
            ids[rank, v] = [s.key for f in cap.files for s in cap._samples(f)]
    all_files = sorted(ks.shard_urls(dirs["text"]))
    assert sorted(f for fs in files.values() for f in fs) == all_files  # each file once
    assert sorted(len(fs) for fs in files.values()) == [2, 2, 3, 3]  # every 4th file
    all_caps = sorted(s.key for s in ks.iter_samples(dirs["captions"]))
    assert sorted(k for ks_ in ids.values() for k in ks_) == all_caps  # each sample once
    print(
        f"text: {len(all_files)} files over 4 partitions: {[len(f) for f in files.values()]}; "
        "captions: "
        f"{len(all_caps)} samples over 4 partitions: {[len(v) for v in ids.values()]}"
    )


def test_training_process_neither_tokenises_nor_decodes(shard_dirs, tokenizer, monkeypatch):
    """With workers, the training process only receives arrays: break its tokenizer and image
    decoder and the batches still come (spawned workers import their own, intact)."""
    import kosmos_model.data as data
    from kosmos_model.tokenizer import Tokenizer

    tok, _ = tokenizer
    spec = _spec(shard_dirs, tok, loader_shards=2)

    def broken(*a, **k):
        raise AssertionError("called in the training process")

    monkeypatch.setattr(Tokenizer, "encode", broken)
    monkeypatch.setattr(data, "crop_array", broken)
    with BatchLoader(spec, workers=2, prefetch=1) as ld:
        batches = [next(ld) for _ in range(4)]
    assert any(b.pixels is not None for b in batches)
    # The patch does bite in the training process itself:
    with pytest.raises(AssertionError, match="training process"), BatchLoader(spec) as ld:
        next(ld)


def test_worker_error_reaches_the_trainer(tokenizer, tmp_path):
    tok, _ = tokenizer
    spec = _spec({"text": str(tmp_path / "missing")}, tok, loader_shards=1)
    loader = BatchLoader(spec, workers=1, prefetch=1)
    with loader, pytest.raises(RuntimeError, match="loader worker 0 failed") as err:
        next(loader)
    assert "missing" in str(err.value)


def test_pixels_are_decoded_once_and_cropped(shard_dirs, tokenizer):
    tok, _ = tokenizer
    with BatchLoader(_spec(shard_dirs, tok, image_size=28), workers=1, prefetch=1) as ld:
        b = next(b for b in (next(ld) for _ in range(8)) if b.pixels is not None)
    n_images = int(b.image_mask.sum()) // 64
    assert tuple(b.pixels.shape) == (n_images, 3, 28, 28)
    assert str(b.pixels.dtype) == "torch.uint8" and np.asarray(b.pixels).std() > 1
