"""The training loop: AdamW + warm-up/linear decay, DDP or FSDP, resumable checkpoints.

KOSMOS-1 §3.2 and Appendix A: AdamW with beta = (0.9, 0.98), weight decay 0.01, dropout 0.1,
learning rate warmed up over 375 steps to 2e-4 and decayed linearly to 0; 1.2M-token
batches. Mixed precision is bf16 autocast on GPU (FSDP keeps fp32 master weights and
reduces gradients in fp32). A checkpoint holds the model and its config, the optimiser,
scheduler, every rank's data position and RNG states, and the tokenizer, so ``--resume``
continues with the identical next batch and loss.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist

from kosmos_model.config import ModelConfig, get_config
from kosmos_model.data import (
    Batch,
    BatchLoader,
    LoaderSpec,
    MixtureConfig,
    build_streams,
    collate,
    default_workers,
    iter_texts,
    pack_sequence,
    plan_mixture,
    shard_dirs_by_source,
)
from kosmos_model.model import IGNORE, Kosmos, count_parameters
from kosmos_model.tokenizer import Tokenizer, TokenizerConfig, train_tokenizer


@dataclass(frozen=True, slots=True)
class TrainConfig:
    shard_dirs: dict[str, str]
    tokenizer: str
    out_dir: str
    model: str = "tiny"
    steps: int = 1000
    #: Sequences per optimiser step over all ranks (KOSMOS-1: 1.2M tokens / 2048 = ~585).
    batch_size: int = 8
    grad_accum: int = 1
    seq_len: int = 2048
    lr: float = 2e-4
    warmup_steps: int = 375
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    #: Applied to every trainable parameter, as fairseq/torchscale's AdamW does.
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    seed: int = 0
    mixture: MixtureConfig = field(default_factory=MixtureConfig)
    instructions: str | None = None
    clip_weights: str | None = None
    dropout: float | None = None  # None: the model config's (0.1)
    fsdp: bool = False
    activation_checkpointing: bool = False
    #: Batches received (and pinned) ahead by a background thread, and built ahead by each
    #: loader process (0: build or receive each batch when needed).
    prefetch: int = 2
    #: Loader processes per rank (shard reading, tokenising, packing, image decoding);
    #: None: this process's cores / ranks on the node (``data.default_workers``); 0: none,
    #: batches are built in the training process. Does not change the batch order.
    workers: int | None = None
    #: Each rank's data is split into this many loader shards, batch k from shard k % n
    #: (``data.LoaderSpec``); at most this many workers are useful. Fixes the batch order.
    loader_shards: int = 8
    save_every: int = 0  # 0: only at the end
    log_every: int = 1

    def __post_init__(self) -> None:
        for f in ("steps", "batch_size", "grad_accum", "seq_len", "log_every"):
            if getattr(self, f) < 1:
                raise ValueError(f"TrainConfig.{f} must be >= 1, got {getattr(self, f)}")
        if self.lr <= 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr}")
        if self.warmup_steps < 0 or self.save_every < 0 or self.prefetch < 0:
            raise ValueError("TrainConfig.warmup_steps, save_every and prefetch must be >= 0")
        if self.workers is not None and self.workers < 0:
            raise ValueError(f"TrainConfig.workers must be >= 0 or None, got {self.workers}")
        if self.loader_shards < 1:
            raise ValueError(f"TrainConfig.loader_shards must be >= 1, got {self.loader_shards}")
        if not self.shard_dirs:
            raise ValueError("TrainConfig.shard_dirs is empty")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        d["mixture"] = MixtureConfig(**d["mixture"])
        d["betas"] = tuple(d["betas"])
        return cls(**d)


def lr_lambda(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1 over ``warmup`` steps, then linear decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


# --------------------------------------------------------------------------- distributed


@dataclass(slots=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> Dist:
    """torchrun's environment -> process group (NCCL on GPU, gloo on CPU) and device."""
    cuda = torch.cuda.is_available()
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) == 1:
        return Dist(device=torch.device("cuda" if cuda else "cpu"))
    local = int(os.environ.get("LOCAL_RANK", 0))
    if cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    return Dist(dist.get_rank(), dist.get_world_size(), local, device)


def wrap_model(model: Kosmos, cfg: TrainConfig, d: Dist) -> torch.nn.Module:
    """DDP, or FSDP2 (``fully_shard`` per decoder layer, bf16 params on GPU) for big models."""
    if d.world == 1 and not cfg.fsdp:
        return model
    if cfg.fsdp:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = (
            MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
            if d.device.type == "cuda"
            else MixedPrecisionPolicy()
        )
        for layer in model.layers:
            fully_shard(layer, mp_policy=mp)
        fully_shard(model.vision, mp_policy=mp)
        fully_shard(model, mp_policy=mp)
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    # A rank's batch may hold no image (text-only sequences): the resampler and CLIP's last
    # layer then get no gradient, which DDP must be told about.
    ids = [d.local_rank] if d.device.type == "cuda" else None
    return DDP(model, device_ids=ids, find_unused_parameters=True)


def _all_mean(x: float, d: Dist) -> float:
    if d.world == 1:
        return x
    t = torch.tensor([x], dtype=torch.float64, device=d.device)
    dist.all_reduce(t)
    return float(t) / d.world


# --------------------------------------------------------------------------- checkpoints


def _rng_state() -> dict:
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _gather(obj: object, d: Dist) -> list:
    if d.world == 1:
        return [obj]
    out: list = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def save_checkpoint(path, model, optim, sched, loader, step, cfg, mcfg, tok, d: Dist) -> None:
    """Full (unsharded) state on rank 0; every rank's data position and RNG state."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
    model_sd, optim_sd = get_state_dict(model, optim, options=opts)
    data = _gather(loader.state_dict(), d)
    rng = _gather(_rng_state(), d)
    if d.main:
        ckpt = {
            "format": "kosmos-model/1",
            "step": step,
            "model_config": mcfg.to_dict(),
            "train_config": cfg.to_dict(),
            "model": model_sd,
            "optimizer": optim_sd,
            "scheduler": sched.state_dict(),
            "data": data,
            "rng": rng,
            "tokenizer": tok.model_proto,
        }
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        torch.save(ckpt, path + ".tmp")
        os.replace(path + ".tmp", path)
    if d.world > 1:
        dist.barrier()


def load_checkpoint(path: str) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def model_from_checkpoint(ckpt: dict) -> Kosmos:
    model = Kosmos(ModelConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    return model


# --------------------------------------------------------------------------- training


#: Fields a resumed run must share with its checkpoint: they decide the data order and shapes.
RESUME_FIELDS = (
    "model",
    "seq_len",
    "batch_size",
    "grad_accum",
    "seed",
    "mixture",
    "loader_shards",
)


def check_resume_config(cfg: TrainConfig, saved: dict) -> None:
    """Refuse to resume with settings that would silently change the data stream."""
    now = cfg.to_dict()
    bad = [f for f in RESUME_FIELDS if f in saved and now[f] != saved[f]]
    if sorted(now["shard_dirs"]) != sorted(saved["shard_dirs"]):
        bad.append("shard_dirs (sources)")
    if bool(now["instructions"]) != bool(saved["instructions"]):
        bad.append("instructions")
    if bad:
        raise ValueError(f"--resume: these settings differ from the checkpoint's: {bad}")


def build_model(cfg: TrainConfig, vocab_size: int) -> tuple[Kosmos, ModelConfig]:
    mcfg = get_config(cfg.model, vocab_size)
    if cfg.dropout is not None:
        mcfg = mcfg.replace(dropout=cfg.dropout)
    state = None
    if cfg.clip_weights:
        from kosmos_model.vision import load_clip_vision

        vcfg, state = load_clip_vision(
            cfg.clip_weights, trainable_last_layers=mcfg.vision.trainable_last_layers
        )
        mcfg = mcfg.replace(vision=vcfg)
    model = Kosmos(mcfg)
    model.activation_checkpointing = cfg.activation_checkpointing
    if state is not None:
        model.vision.load_state_dict(state, strict=True)
    return model, mcfg


def _autocast(device: torch.device, fsdp: bool):
    if device.type == "cuda" and not fsdp:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def _to(batch: Batch, device: torch.device) -> Batch:
    return Batch(
        batch.input_ids.to(device, non_blocking=True),
        batch.targets.to(device, non_blocking=True),
        batch.image_mask.to(device, non_blocking=True),
        None if batch.pixels is None else batch.pixels.to(device, non_blocking=True),
        batch.sources,
        batch.real_tokens,
    )


def train(cfg: TrainConfig, resume: str | None = None, quiet: bool = False) -> list[float]:
    """Train; returns the loss of every step run (rank-averaged). Saves ``out_dir/last.pt``."""
    d = setup_distributed()
    if cfg.batch_size % (d.world * cfg.grad_accum):
        raise ValueError(
            f"batch_size {cfg.batch_size} must divide by world size {d.world} x grad_accum "
            f"{cfg.grad_accum}"
        )
    micro = cfg.batch_size // (d.world * cfg.grad_accum)
    ckpt = load_checkpoint(resume) if resume else None
    if ckpt:
        check_resume_config(cfg, ckpt["train_config"])
    tok = Tokenizer(ckpt["tokenizer"]) if ckpt else Tokenizer.load(cfg.tokenizer)
    torch.manual_seed(cfg.seed)  # identical init on every rank
    model, mcfg = build_model(cfg, tok.vocab_size)
    if cfg.seq_len < mcfg.num_latents + 4:
        raise ValueError(
            f"seq_len {cfg.seq_len} cannot hold an image (<s> <image> {mcfg.num_latents} "
            "slots </image> + a token)"
        )
    if ckpt:
        model.load_state_dict(ckpt["model"])
    model.to(d.device)
    wrapped = wrap_model(model, cfg, d)
    params = [p for p in wrapped.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(
        params,
        lr=cfg.lr,
        betas=cfg.betas,
        eps=cfg.eps,
        weight_decay=cfg.weight_decay,
        fused=d.device.type == "cuda",
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: lr_lambda(s, cfg.warmup_steps, cfg.steps)
    )
    spec = LoaderSpec(
        shard_dirs=dict(cfg.shard_dirs),
        tokenizer=tok.model_proto,
        num_latents=mcfg.num_latents,
        batch_size=micro,
        seq_len=cfg.seq_len,
        image_size=mcfg.vision.image_size,
        mixture=cfg.mixture,
        instructions=cfg.instructions,
        seed=cfg.seed,
        rank=d.rank,
        world_size=d.world,
        loader_shards=cfg.loader_shards,
    )
    step = 0
    if ckpt:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

        set_state_dict(
            wrapped,
            optim,
            model_state_dict=ckpt["model"],
            optim_state_dict=ckpt["optimizer"],
            options=StateDictOptions(full_state_dict=True),
        )
        sched.load_state_dict(ckpt["scheduler"])
        _set_rng_state(ckpt["rng"][d.rank])
        step = ckpt["step"]
    if d.main and not quiet:
        counts = count_parameters(model)
        print(f"model {mcfg.name}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        tokens_per_step = cfg.batch_size * cfg.seq_len
        plan = plan_mixture(spec.shares(), cfg.shard_dirs, tokens_per_step, cfg.steps)
        for s, p in plan.items():
            ep = "n/a" if p["epochs"] is None else f"{p['epochs']:.2f}"
            print(
                f"  source {s}: share {p['share']:.3f}, manifest tokens "
                f"{p['manifest_tokens']:,}, planned {p['planned_tokens']:,} ({ep} epochs)"
            )

    def save(batches: BatchLoader, name: str) -> None:
        path = os.path.join(cfg.out_dir, name)
        save_checkpoint(path, wrapped, optim, sched, batches, step, cfg, mcfg, tok, d)

    losses: list[float] = []
    wrapped.train()
    workers = default_workers() if cfg.workers is None else cfg.workers
    with BatchLoader(
        spec,
        workers=workers,
        prefetch=cfg.prefetch,
        pin_memory=d.device.type == "cuda",
        state=ckpt["data"][d.rank] if ckpt else None,
    ) as batches:
        while step < cfg.steps:
            t0 = time.perf_counter()
            total, tokens = 0.0, 0
            for i in range(cfg.grad_accum):
                b = _to(next(batches), d.device)
                sync = i == cfg.grad_accum - 1 or not hasattr(wrapped, "no_sync")
                with nullcontext() if sync else wrapped.no_sync(), _autocast(d.device, cfg.fsdp):
                    loss = wrapped(b.input_ids, b.image_mask, b.pixels, b.targets)
                (loss / cfg.grad_accum).backward()
                total += float(loss.detach()) / cfg.grad_accum
                tokens += int((b.targets != IGNORE).sum())
            gnorm = torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm)
            optim.step()
            optim.zero_grad(set_to_none=True)
            sched.step()
            step += 1
            loss_avg = _all_mean(total, d)
            losses.append(loss_avg)
            if d.main and not quiet and (step % cfg.log_every == 0 or step == cfg.steps):
                dt = time.perf_counter() - t0
                print(
                    f"step {step:>6} loss {loss_avg:.4f} lr {sched.get_last_lr()[0]:.2e} "
                    f"gnorm {float(gnorm):.3f} {tokens * d.world / dt:,.0f} target tok/s"
                )
            if cfg.save_every and step % cfg.save_every == 0 and step < cfg.steps:
                save(batches, f"step-{step:07d}.pt")
        save(batches, "last.pt")
    return losses


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(
    checkpoint: str, shard_dirs: dict[str, str], *, batch_size: int = 8, seq_len: int | None = None
) -> dict[str, dict]:
    """Held-out loss per source: one ordered pass over each source's shards, token-weighted
    (bf16 autocast on GPU when one is present)."""
    ckpt = load_checkpoint(checkpoint)
    tok = Tokenizer(ckpt["tokenizer"])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model_from_checkpoint(ckpt).eval().to(device)
    seq_len = seq_len or TrainConfig.from_dict(ckpt["train_config"]).seq_len
    streams = build_streams(shard_dirs, tok, model.config.num_latents, shuffle=False, max_epochs=1)
    out = {}
    for source, stream in streams.items():
        nll, n, dropped = 0.0, 0, {}
        while True:
            seqs = []
            try:
                while len(seqs) < batch_size:
                    seqs.append(pack_sequence(stream, seq_len + 1, tok.pad_id, dropped))
            except StopIteration:
                pass
            if not seqs:
                break
            b = _to(collate(seqs, model.config.vision.image_size), device)
            with _autocast(device, fsdp=False):
                logits = model(b.input_ids, b.image_mask, b.pixels)
            k = int((b.targets != IGNORE).sum())
            loss = torch.nn.functional.cross_entropy(
                logits.float().flatten(0, 1),
                b.targets.flatten(),
                ignore_index=IGNORE,
                reduction="sum",
            )
            nll, n = nll + float(loss), n + k
            if len(seqs) < batch_size:
                break
        out[source] = {
            "loss": nll / n if n else math.nan,
            "tokens": n,
            "perplexity": math.exp(nll / n) if n else math.nan,
        }
    return out


# --------------------------------------------------------------------------- demo


def demo_train(shard_dirs, out_dir: str, steps: int = 30, *, seed: int = 0) -> list[float]:
    """Train a SentencePiece tokenizer on the shards, then the ``tiny`` model for ``steps``
    steps on the paper's mixture; print and return the loss curve (the ``kosmos-data demo``
    finale). Runs on CPU in about a second per step."""
    dirs = shard_dirs_by_source(shard_dirs)
    tok = train_tokenizer(
        iter_texts(list(dirs.values()), limit_chars=20_000_000),
        TokenizerConfig(vocab_size=1000, seed=seed),
    )
    tok_path = os.path.join(out_dir, "tokenizer.model")
    tok.save(tok_path)
    cfg = TrainConfig(
        shard_dirs=dirs,
        tokenizer=tok_path,
        out_dir=out_dir,
        model="tiny",
        steps=steps,
        batch_size=4,
        seq_len=256,
        lr=3e-3,
        warmup_steps=max(1, steps // 10),
        seed=seed,
        log_every=max(1, steps // 10),
    )
    print(f"kosmos_model: tokenizer {tok.vocab_size} pieces -> {tok_path}")
    losses = train(cfg)
    print("loss curve: " + " ".join(f"{x:.3f}" for x in losses))
    return losses
