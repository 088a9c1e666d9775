"""Training on real shards: overfitting, exact resume, two-process DDP, CLI, demo."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys

import pytest
import torch

from kosmos_model.config import get_config
from kosmos_model.data import mixture_loader
from kosmos_model.model import Kosmos
from kosmos_model.train import TrainConfig, load_checkpoint, lr_lambda, train


def test_lr_schedule_is_warmup_then_linear_decay():
    assert lr_lambda(0, 375, 1000) == 1 / 375
    assert lr_lambda(374, 375, 1000) == 1.0
    assert lr_lambda(375, 375, 1000) == 1.0
    assert abs(lr_lambda(1000 - 1, 375, 1000) - 1 / 625) < 1e-12
    assert lr_lambda(1000, 375, 1000) == 0.0


def test_tiny_model_overfits_real_shard_batches(shard_dirs, tokenizer):
    tok, _ = tokenizer
    torch.manual_seed(0)
    loader = mixture_loader(shard_dirs, tok, 64, batch_size=4, seq_len=160, image_size=28)
    it = iter(loader)
    batches = [next(it) for _ in range(2)]
    assert any(b.pixels is not None for b in batches)
    model = Kosmos(get_config("tiny", vocab_size=tok.vocab_size).replace(dropout=0.0))
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=3e-3,
        betas=(0.9, 0.98),
        weight_decay=0.01,
    )
    losses = []
    for step in range(60):
        b = batches[step % 2]
        loss = model(b.input_ids, b.image_mask, b.pixels, b.targets)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    first, last = sum(losses[:2]) / 2, sum(losses[-2:]) / 2
    print(f"overfit 2 real batches: loss {first:.3f} -> {last:.3f} in 60 steps")
    assert last < first / 2


def _cfg(shard_dirs, tok_path, out, **kw):
    base = dict(
        shard_dirs=shard_dirs,
        tokenizer=tok_path,
        out_dir=str(out),
        model="tiny",
        steps=4,
        batch_size=2,
        seq_len=128,
        lr=1e-3,
        warmup_steps=1,
        seed=0,
        log_every=100,
    )
    return TrainConfig(**(base | kw))


def test_resume_continues_with_identical_loss(shard_dirs, tokenizer, tmp_path):
    _, tok_path = tokenizer
    # Dropout 0.1 stays on. Two loader processes build the first run's batches; the resumed
    # run builds them in the training process (workers=0) and without prefetching.
    cfg = _cfg(shard_dirs, tok_path, tmp_path / "a", save_every=2, workers=2)
    full = train(cfg, quiet=True)
    ckpt_path = tmp_path / "a" / "step-0000002.pt"
    ckpt = load_checkpoint(str(ckpt_path))
    assert ckpt["step"] == 2 and ckpt["model_config"]["name"] == "tiny"
    assert ckpt["train_config"]["seq_len"] == 128 and ckpt["data"][0]["next"] == 2
    resumed = train(
        dataclasses.replace(cfg, out_dir=str(tmp_path / "b"), prefetch=0, workers=0),
        resume=str(ckpt_path),
        quiet=True,
    )
    diff = max(abs(a - b) for a, b in zip(full[2:], resumed, strict=True))
    print(f"resume: losses {full} vs resumed {resumed}: max diff {diff:.3e}")
    assert len(resumed) == 2 and diff == 0.0
    with pytest.raises(ValueError, match="seq_len"):
        train(dataclasses.replace(cfg, seq_len=256), resume=str(ckpt_path), quiet=True)
    with pytest.raises(ValueError, match="loader_shards"):
        train(dataclasses.replace(cfg, loader_shards=4), resume=str(ckpt_path), quiet=True)


def _run(args, timeout=240):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_ddp_and_fsdp_two_gloo_processes_then_cli_eval(shard_dirs, tokenizer, tmp_path):
    _, tok_path = tokenizer

    def torchrun(out, *extra):
        stdout = _run(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc_per_node",
                "2",
                "-m",
                "kosmos_model.cli",
                "train",
                "--shards",
                *shard_dirs.values(),
                "--tokenizer",
                tok_path,
                "--out",
                str(out),
                "--config",
                "tiny",
                "--steps",
                "3",
                "--batch-size",
                "4",
                "--seq-len",
                "128",
                "--lr",
                "1e-3",
                "--warmup-steps",
                "1",
                "--log-every",
                "1",
                *extra,
            ]
        )
        losses = [float(x.split()[3]) for x in stdout.splitlines() if x.startswith("step ")]
        return losses, json.loads(stdout.strip().splitlines()[-1])

    ddp, summary = torchrun(tmp_path / "ddp", "--save-every", "2")
    assert summary["steps"] == 3 and len(ddp) == 3 and all(map(math.isfinite, ddp))
    ckpt = load_checkpoint(str(tmp_path / "ddp" / "last.pt"))
    assert ckpt["step"] == 3 and len(ckpt["data"]) == 2  # both ranks' data positions
    assert ckpt["data"][0]["shards"] != ckpt["data"][1]["shards"]  # ranks read different data
    # FSDP (fully_shard per layer) resumes the DDP checkpoint and gives the same step-3 loss.
    fsdp, _ = torchrun(
        tmp_path / "fsdp", "--fsdp", "--resume", str(tmp_path / "ddp" / "step-0000002.pt")
    )
    print(f"DDP x2 (gloo) losses {ddp}; FSDP x2 resumed at step 2 -> {fsdp}")
    assert fsdp == ddp[2:]
    ev = json.loads(
        _run(
            [
                sys.executable,
                "-m",
                "kosmos_model.cli",
                "eval",
                "--checkpoint",
                str(tmp_path / "ddp" / "last.pt"),
                "--shards",
                *shard_dirs.values(),
            ]
        )
    )
    print("held-out eval: " + ", ".join(f"{s} {v['loss']:.3f}" for s, v in ev.items()))
    assert set(ev) == set(shard_dirs) and all(v["tokens"] > 0 for v in ev.values())


def test_cli_tokenizer_and_demo_train(shard_dirs, tmp_path, capsys):
    from kosmos_model.cli import main
    from kosmos_model.tokenizer import Tokenizer
    from kosmos_model.train import demo_train

    out = tmp_path / "t.model"
    assert (
        main(
            [
                "tokenizer",
                "--shards",
                *shard_dirs.values(),
                "--out",
                str(out),
                "--vocab-size",
                "300",
            ]
        )
        == 0
    )
    tok = Tokenizer.load(str(out))
    assert tok.image_start_id == 4 and tok.image_end_id == 5 and tok.bos_id == 2
    assert main(["tokenizer", "--model", str(out), "--out", str(tmp_path / "copy.model")]) == 0
    losses = demo_train(list(shard_dirs.values()), str(tmp_path / "demo"), 4)
    assert len(losses) == 4 and all(map(math.isfinite, losses))
    assert "loss curve:" in capsys.readouterr().out
