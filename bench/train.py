"""Training throughput of kosmos_model: tokens/s and peak memory per config.

    python bench/train.py [--compile]  # tiny and small on CPU; kosmos1 on a GPU when present

Each row runs in a fresh process (peak memory is that process's own): AdamW steps on
batches shaped like real ones (random token ids; one 64-slot image per sequence), after two
warm-up steps. tokens/s counts every position of every sequence (text and image slots).
On a GPU, the kosmos1 row runs in bf16 autocast and reports model FLOPs utilisation
(MFU = 6N + 12LdT decoder FLOPs per token x tokens/s / peak bf16 FLOP/s; the CLIP encoder's
and resampler's FLOPs are not counted, so the figure is conservative).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

#: Dense bf16 peak FLOP/s (NVIDIA data sheets, SXM parts, without sparsity).
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}

ROWS = {
    # name: (config, device, batch, seq_len, steps)
    "tiny-cpu": ("tiny", "cpu", 8, 256, 8),
    "small-cpu": ("small", "cpu", 4, 512, 4),
    "kosmos1-gpu": ("kosmos1", "cuda", 4, 2048, 10),
}


def run_row(name: str, compile_model: bool) -> dict:
    import torch

    from kosmos_model.config import get_config
    from kosmos_model.model import Kosmos, count_parameters, flops_per_token

    config, device, batch, seq_len, steps = ROWS[name]
    torch.manual_seed(0)
    cfg = get_config(config)
    dev = torch.device(device)
    model = Kosmos(cfg).to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    fwd = torch.compile(model) if compile_model else model
    opt = torch.optim.AdamW(
        params, lr=2e-4, betas=(0.9, 0.98), weight_decay=0.01, fused=device == "cuda"
    )
    ids = torch.randint(6, cfg.vocab_size, (batch, seq_len), device=dev)
    mask = torch.zeros(batch, seq_len, dtype=torch.bool, device=dev)
    mask[:, 2 : 2 + cfg.num_latents] = True  # one image per sequence
    size = cfg.vision.image_size
    pixels = torch.randn(batch, 3, size, size, device=dev)
    targets = ids.roll(-1, 1).masked_fill(mask, -100)
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device == "cuda"
        else torch.autocast("cpu", enabled=False)
    )

    def step():
        with autocast:
            loss = fwd(ids, mask, pixels, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(2):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    float(loss)
    if device == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    tps = batch * seq_len * steps / dt
    out = {
        "row": name,
        "config": config,
        "device": device,
        "batch": batch,
        "seq_len": seq_len,
        "steps": steps,
        "tokens_per_s": round(tps, 1),
        "s_per_step": round(dt / steps, 3),
        "params": count_parameters(model),
        "threads": torch.get_num_threads(),
    }
    if device == "cuda":
        gpu = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16.items() if k in gpu), None)
        out["gpu"] = gpu
        out["peak_gpu_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        fpt = flops_per_token(cfg, seq_len)
        out["mfu"] = round(fpt * tps / peak, 4) if peak else None
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def run_data_row() -> dict:
    """The input pipeline alone: shards of real photos (full size, ../shared/data/images) and
    generated text -> packed, mixed, collated 2048-token batches with 224 px images."""
    import io
    import random
    import tempfile
    from pathlib import Path

    from PIL import Image

    from kosmos_data import shards as ks
    from kosmos_model.data import mixture_loader
    from kosmos_model.tokenizer import TokenizerConfig, train_tokenizer

    images_dir = Path(__file__).resolve().parents[2] / "shared" / "data" / "images"
    paths = sorted(images_dir.glob("*"))
    if not paths:
        raise SystemExit(f"{images_dir} is missing: the data row needs the shared photos")
    blobs = []
    for p in paths:
        im = Image.open(p).convert("RGB")
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
        blobs.append(ks.ImageBlob(buf.getvalue(), "jpg", im.width, im.height))
    rng = random.Random(0)
    words = "the a cat dog river moon house garden reads finds paints carries every near"
    words = words.split()

    def sent() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(6, 20))).capitalize() + "."

    root = Path(tempfile.mkdtemp(prefix="bench-train-"))
    text = [ks.TextSample(f"t{i}", " ".join(sent() for _ in range(40))) for i in range(200)]
    caps = [ks.CaptionSample(f"c{i}", blobs[i % len(blobs)], sent()) for i in range(60)]
    inter = [
        ks.InterleavedSample(
            f"w{i}",
            [sent() * 3, None, sent() * 4, None, sent()],
            [blobs[i % len(blobs)], blobs[(i + 1) % len(blobs)]],
        )
        for i in range(40)
    ]
    dirs = {}
    for source, samples in (("text", text), ("captions", caps), ("interleaved", inter)):
        ks.write_local(str(root / source), source, samples, ks.ShardConfig(groups=1))
        dirs[source] = str(root / source)
    tok = train_tokenizer((t.text for t in text), TokenizerConfig(vocab_size=1000))
    loader = mixture_loader(dirs, tok, 64, batch_size=8, seq_len=2048, image_size=224)
    it = iter(loader)
    next(it)
    steps, images = 5, 0
    t0 = time.perf_counter()
    for _ in range(steps):
        b = next(it)
        images += 0 if b.pixels is None else b.pixels.shape[0]
    dt = time.perf_counter() - t0
    return {
        "batch": 8,
        "seq_len": 2048,
        "tokens_per_s": round(8 * 2048 * steps / dt, 1),
        "s_per_step": round(dt / steps, 3),
        "images_per_s": round(images / dt, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    compile_model = "--compile" in sys.argv  # torch.compile the model (GPU runs)
    args = [a for a in sys.argv[1:] if a != "--compile"]
    if len(args) == 2 and args[0] == "--row":
        row = run_data_row() if args[1] == "data-cpu" else run_row(args[1], compile_model)
        print(json.dumps(row))
        return 0
    import torch

    gpu = torch.cuda.is_available()
    print(f"{'row':<13} {'tokens/s':>10} {'s/step':>8} {'peak memory':>16}  notes")
    for name, (config, device, batch, seq_len, _) in ROWS.items():
        if device == "cuda" and not gpu:
            print(
                f"{name:<13} {'-':>10} {'-':>8} {'-':>16}  not measured: no GPU in this "
                "session (torch.cuda.is_available() is False), so no MFU figure either"
            )
            continue
        extra = ["--compile"] if compile_model and device == "cuda" else []
        proc = subprocess.run(
            [sys.executable, __file__, "--row", name, *extra], capture_output=True, text=True
        )
        if proc.returncode:
            print(f"{name:<13} failed: {proc.stderr.strip().splitlines()[-1]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        mem = (
            f"{r['peak_gpu_mem_gib']} GiB GPU"
            if device == "cuda"
            else f"{r['peak_rss_mib']:.0f} MiB RSS"
        )
        notes = f"{config}, batch {batch}x{seq_len}, {r['params']['total']:,} params"
        if device == "cuda":
            notes += f", {r['gpu']}, MFU {r['mfu']:.1%}" if r["mfu"] else f", {r['gpu']}"
        else:
            notes += f", {r['threads']} CPU threads, fp32"
        print(f"{name:<13} {r['tokens_per_s']:>10,.0f} {r['s_per_step']:>8.3f} {mem:>16}  {notes}")
    proc = subprocess.run(
        [sys.executable, __file__, "--row", "data-cpu"], capture_output=True, text=True
    )
    if proc.returncode:
        print(f"{'data-cpu':<13} failed: {proc.stderr.strip().splitlines()[-1]}")
        return 1
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"{'data-cpu':<13} {r['tokens_per_s']:>10,.0f} {r['s_per_step']:>8.3f} "
        f"{r['peak_rss_mib']:>12.0f} MiB RSS  shard reading + packing + image decoding for "
        f"batch {r['batch']}x{r['seq_len']} ({r['images_per_s']:.1f} images/s at 224 px, "
        "one thread)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
