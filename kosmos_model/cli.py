"""``kosmos-train``: tokenizer, train (and resume), evaluate.

    kosmos-train tokenizer --shards DIR [DIR ...] --out tok.model [--vocab-size 64000]
    kosmos-train tokenizer --model existing.model --out tok.model    # check and copy
    kosmos-train train --shards DIR [DIR ...] --tokenizer tok.model --out RUN \
        [--config tiny|small|kosmos1] [--steps N] [--batch-size B] [--seq-len T] \
        [--instructions inst.jsonl] [--clip CLIP_DIR_OR_CKPT] [--resume RUN/last.pt] [--fsdp]
    kosmos-train eval --checkpoint RUN/last.pt --shards DIR [DIR ...]

Shard directories are those ``kosmos-data`` writes (each with a ``manifest.json`` naming its
source). Multi-GPU: ``torchrun --nproc_per_node 8 -m kosmos_model.cli train ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from kosmos_model.config import CONFIGS


def _mixture(spec: str | None, instruction_fraction: float):
    from kosmos_model.data import MixtureConfig

    if spec is None:
        return MixtureConfig(instruction_fraction=instruction_fraction)
    if spec == "natural":
        return MixtureConfig(natural=True, instruction_fraction=instruction_fraction)
    weights = {}
    for part in spec.split(","):
        name, _, value = part.partition("=")
        if name not in ("text", "captions", "interleaved") or not value:
            raise SystemExit(f"--mixture: expected text=W,captions=W,interleaved=W, got {part!r}")
        weights[name] = float(value)
    full = {"text": 0.0, "captions": 0.0, "interleaved": 0.0} | weights
    return MixtureConfig(**full, instruction_fraction=instruction_fraction)


def cmd_tokenizer(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="kosmos-train tokenizer")
    p.add_argument("--shards", nargs="+", default=[], help="shard directories (any source)")
    p.add_argument("--model", help="an existing SentencePiece .model to check and copy")
    p.add_argument("--out", required=True)
    p.add_argument("--vocab-size", type=int, default=64000)
    p.add_argument("--model-type", default="unigram", choices=["unigram", "bpe"])
    p.add_argument("--max-chars", type=int, default=None, help="stop reading text after this")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    from kosmos_model.data import iter_texts
    from kosmos_model.tokenizer import Tokenizer, TokenizerConfig, train_tokenizer

    if a.model:
        tok = Tokenizer.load(a.model)
    elif a.shards:
        cfg = TokenizerConfig(vocab_size=a.vocab_size, model_type=a.model_type, seed=a.seed)
        tok = train_tokenizer(iter_texts(a.shards, a.max_chars), cfg)
    else:
        p.error("give --shards to train a tokenizer or --model to load one")
    tok.save(a.out)
    print(
        json.dumps(
            {
                "out": a.out,
                "vocab_size": tok.vocab_size,
                "pad": tok.pad_id,
                "bos": tok.bos_id,
                "eos": tok.eos_id,
                "image": tok.image_start_id,
                "image_end": tok.image_end_id,
            }
        )
    )
    return 0


def cmd_train(argv: list[str]) -> int:
    from kosmos_model.data import shard_dirs_by_source
    from kosmos_model.train import TrainConfig, train

    p = argparse.ArgumentParser(prog="kosmos-train train")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--config", default="tiny", choices=sorted(CONFIGS))
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=8, help="sequences per step, all ranks")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--warmup-steps", type=int, default=375)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--clip-norm", type=float, default=1.0)
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--mixture",
        default=None,
        help="text=W,captions=W,interleaved=W or 'natural' (default 0.5/0.5/0.2)",
    )
    p.add_argument("--instructions", default=None, help="(instruction, input, output) JSONL")
    p.add_argument("--instruction-fraction", type=float, default=0.1)
    p.add_argument("--clip", default=None, help="CLIP weights: HF dir or open_clip checkpoint")
    p.add_argument("--fsdp", action="store_true")
    p.add_argument(
        "--activation-checkpointing",
        action="store_true",
        help="recompute decoder layers in backward (less memory, ~1/3 more compute)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="loader processes per rank (default: cores / ranks on the node; 0: none)",
    )
    p.add_argument(
        "--loader-shards",
        type=int,
        default=8,
        help="loader shards per rank: fixes the batch order; at most this many workers",
    )
    p.add_argument("--prefetch", type=int, default=2, help="batches received/built ahead")
    p.add_argument("--save-every", type=int, default=0)
    p.add_argument("--log-every", type=int, default=1)
    p.add_argument("--resume", default=None, help="checkpoint to continue from")
    a = p.parse_args(argv)
    cfg = TrainConfig(
        shard_dirs=shard_dirs_by_source(a.shards),
        tokenizer=a.tokenizer,
        out_dir=a.out,
        model=a.config,
        steps=a.steps,
        batch_size=a.batch_size,
        grad_accum=a.grad_accum,
        seq_len=a.seq_len,
        lr=a.lr,
        warmup_steps=a.warmup_steps,
        weight_decay=a.weight_decay,
        clip_norm=a.clip_norm,
        seed=a.seed,
        mixture=_mixture(a.mixture, a.instruction_fraction),
        instructions=a.instructions,
        clip_weights=a.clip,
        dropout=a.dropout,
        fsdp=a.fsdp,
        activation_checkpointing=a.activation_checkpointing,
        workers=a.workers,
        loader_shards=a.loader_shards,
        prefetch=a.prefetch,
        save_every=a.save_every,
        log_every=a.log_every,
    )
    import torch.distributed as dist

    try:
        losses = train(cfg, resume=a.resume)
    finally:
        # Also on an error: a process that exits with a live gloo group can abort (SIGABRT)
        # while the interpreter tears down the group's threads.
        if dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(
        json.dumps(
            {
                "steps": len(losses),
                "first_loss": losses[0] if losses else None,
                "last_loss": losses[-1] if losses else None,
            }
        )
    )
    return 0


def cmd_eval(argv: list[str]) -> int:
    from kosmos_model.data import shard_dirs_by_source
    from kosmos_model.train import evaluate

    p = argparse.ArgumentParser(prog="kosmos-train eval")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=None)
    a = p.parse_args(argv)
    out = evaluate(
        a.checkpoint, shard_dirs_by_source(a.shards), batch_size=a.batch_size, seq_len=a.seq_len
    )
    print(json.dumps(out, indent=2))
    return 0


COMMANDS = {"tokenizer": cmd_tokenizer, "train": cmd_train, "eval": cmd_eval}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: kosmos-train {{{','.join(COMMANDS)}}} [flags]  (-h for a command's flags)")
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
