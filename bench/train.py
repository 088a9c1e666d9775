"""Trainer throughput: the input pipeline from real shards, model tokens/s, and parity figures.

    python bench/train.py [--compile] [--workers N ...]

Rows (each in a fresh process, so peak memory is that row's own):

* ``loader-W``: the input pipeline alone with W loader processes (``data.BatchLoader``):
  shard reading, tokenising, full-sentence packing, mixing (KOSMOS-1's 0.5 : 0.5 : 0.2) and
  image decoding into 8 x 2048-token batches with 224 px images, received as tensors by the
  measuring process. tokens/s counts every position of every batch (what the model consumes),
  images/s the decoded images. W = 1 and 2, and the machine's core count when larger.
* ``tiny-cpu`` / ``small-cpu``: AdamW steps on batches shaped like real ones (random ids, one
  64-slot image per sequence), fp32 on CPU.
* ``kosmos1-gpu``: the paper's model (1.3B decoder + CLIP ViT-L/14 + resampler) on real loader
  batches: bf16 autocast, SDPA restricted to the flash kernel, fused AdamW, ``torch.compile``
  with ``--compile``. Prints tokens/s, MFU (6N + 12LdT decoder FLOPs per token x tokens/s /
  peak bf16 FLOP/s; CLIP's and the resampler's FLOPs are not counted, so it is conservative),
  peak GPU memory, the share of step time spent waiting for data, and the loader's headroom
  (loader tokens/s, measured with the same worker count beforehand, / model tokens/s).
* ``dry-cpu``: the kosmos1-gpu code path (real loader batches, bf16 autocast, fused-AdamW
  switch, compile switch) with the ``tiny`` config on CPU, so the GPU path is at least
  constructed and run end to end where no GPU is present.

The shards are built once (cached under the temp dir) from real data only: text from
``../shared/data/extraction-dev`` (311 pages' gold main text), photos from
``../shared/data/images`` resized exactly as the image stage writes them (img2dataset's
Resizer, 224 px centre crop, JPEG q95, ``ImageConfig`` defaults). Captions are real
sentences of those pages (there are no real alt texts for these photos); interleaved
documents are the readability pages with as many photos as the page's gold image list, at
evenly spaced paragraph boundaries. The parity rows run ``tests/model/test_torchscale_parity.py``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CACHE = Path(tempfile.gettempdir()) / "kosmos-bench-train-v1"
#: Dense bf16 peak FLOP/s (NVIDIA data sheets, SXM parts, without sparsity).
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
LOADER_BATCH, LOADER_SEQ, LOADER_SHARDS = 8, 2048, 8

SYNTHETIC_ROWS = {
    # name: (config, device, batch, seq_len, steps)
    "tiny-cpu": ("tiny", "cpu", 8, 256, 8),
    "small-cpu": ("small", "cpu", 4, 512, 4),
}
MODEL_ROWS = {
    # name: (config, device, batch, seq_len, steps)
    "kosmos1-gpu": ("kosmos1", "cuda", 4, 2048, 10),
    "dry-cpu": ("tiny", "cpu", 2, 256, 3),
}


# --------------------------------------------------------------------------- real shards


def _real_texts() -> list[tuple[str, str, int]]:
    """``(id, text, gold image count)`` of every extraction-dev page."""
    dev = SHARED / "extraction-dev"
    if not dev.is_dir():
        raise SystemExit(f"{dev} is missing: the loader rows need the shared real pages")
    out = []
    gt = json.loads((dev / "scrapinghub" / "ground-truth.json").read_text(encoding="utf-8"))
    for k in sorted(gt):
        out.append((f"sh-{k}", gt[k]["articleBody"], 0))
    for page in sorted(p for p in (dev / "readability").iterdir() if p.is_dir()):
        text = (page / "expected.txt").read_text(encoding="utf-8")
        imgs = json.loads((page / "expected-images.json").read_text(encoding="utf-8"))
        out.append((f"rd-{page.name}", text, len(imgs)))
    return [t for t in out if t[1].strip()]


def _stage_photos():
    """The shared photos as the image stage writes them (img2dataset Resizer, 224 centre
    crop, JPEG q95: ``kosmos_data.images`` defaults)."""
    import io

    from kosmos_data import shards as ks
    from kosmos_data.images.config import ImageConfig
    from kosmos_data.images.fetch import load_img2dataset

    paths = sorted((SHARED / "images").glob("*"))
    if not paths:
        raise SystemExit(f"{SHARED / 'images'} is missing: the loader rows need the photos")
    c = ImageConfig()
    resizer_cls, _ = load_img2dataset()
    resizer = resizer_cls(
        image_size=c.image_size,
        resize_mode=c.resize_mode,
        resize_only_if_bigger=False,
        encode_format="jpg",
        encode_quality=c.encode_quality,
    )
    blobs = []
    for p in paths:
        data, w, h, _, _, err = resizer(io.BytesIO(p.read_bytes()))
        if err:
            raise SystemExit(f"resizing {p}: {err}")
        blobs.append(ks.ImageBlob(data, "jpg", w, h))
    return blobs


def build_real_shards() -> tuple[dict[str, str], str]:
    """(shard dirs by source, tokenizer path), built once into ``CACHE``."""
    dirs = {s: str(CACHE / s) for s in ("text", "captions", "interleaved")}
    tok_path = str(CACHE / "tokenizer.model")
    if (CACHE / "done").exists():
        return dirs, tok_path
    from kosmos_data import shards as ks
    from kosmos_model.data import split_sentences
    from kosmos_model.tokenizer import TokenizerConfig, train_tokenizer

    pages = _real_texts()
    photos = _stage_photos()
    copies = 4  # the real pages, four times over (distinct keys): enough files per source
    text = [ks.TextSample(f"{k}-{c}", t) for c in range(copies) for k, t, _ in pages]
    sentences = [s for _, t, _ in pages for s in split_sentences(t) if 4 <= len(s.split()) <= 40]
    caps = [
        ks.CaptionSample(f"cap{i:05d}", photos[i % len(photos)], sentences[i % len(sentences)])
        for i in range(2400)
    ]
    inter = []
    for c in range(copies):
        for j, (k, t, n_img) in enumerate(pages):
            if not k.startswith("rd-"):
                continue
            paras = [p for p in t.splitlines() if p.strip()]
            n = max(1, min(n_img, len(paras)))
            cut = {round((i + 1) * len(paras) / (n + 1)) for i in range(n)}
            texts: list[str | None] = []
            images = []
            for i, p in enumerate(paras):
                if i in cut:
                    texts.append(None)
                    images.append(photos[(j + len(images)) % len(photos)])
                texts.append(p)
            inter.append(ks.InterleavedSample(f"{k}-{c}", texts, images))
    cfg = ks.ShardConfig(maxcount=40, groups=1)
    for source, samples in (("text", text), ("captions", caps), ("interleaved", inter)):
        ks.write_local(dirs[source], source, samples, cfg)
    tok = train_tokenizer((t for _, t, _ in pages), TokenizerConfig(vocab_size=32000))
    tok.save(tok_path)
    (CACHE / "done").write_text("ok")
    return dirs, tok_path


def _spec(dirs, tok, *, batch, seq_len, image_size):
    from kosmos_model.data import LoaderSpec

    return LoaderSpec(
        shard_dirs=dirs,
        tokenizer=tok.model_proto,
        num_latents=64,
        batch_size=batch,
        seq_len=seq_len,
        image_size=image_size,
        loader_shards=LOADER_SHARDS,
    )


# --------------------------------------------------------------------------- rows


def run_loader_row(workers: int, seconds: float = 20.0) -> dict:
    """Batches/s of the loader with ``workers`` processes, after the first batch arrived
    (process start-up and the first shard opens are not counted)."""
    from kosmos_model.data import BatchLoader
    from kosmos_model.tokenizer import Tokenizer

    dirs, tok_path = build_real_shards()
    tok = Tokenizer.load(tok_path)
    spec = _spec(dirs, tok, batch=LOADER_BATCH, seq_len=LOADER_SEQ, image_size=224)
    with BatchLoader(spec, workers=workers, prefetch=4) as loader:
        for _ in range(max(2, workers)):  # warm-up: every worker has delivered once
            next(loader)
        n = images = real = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds or n < 2 * workers:
            b = next(loader)
            n += 1
            images += 0 if b.pixels is None else b.pixels.shape[0]
            real += sum(b.real_tokens)
        dt = time.perf_counter() - t0
    tokens = n * LOADER_BATCH * LOADER_SEQ
    return {
        "row": f"loader-{workers}",
        "workers": workers,
        "batches": n,
        "seconds": round(dt, 2),
        "tokens_per_s": round(tokens / dt, 1),
        "real_tokens_per_s": round(real / dt, 1),
        "images_per_s": round(images / dt, 1),
        "images_per_1000_tokens": round(1000 * images / tokens, 2),
        "per_worker_tokens_per_s": round(tokens / dt / max(1, workers), 1),
        "per_worker_images_per_s": round(images / dt / max(1, workers), 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_synthetic_row(name: str) -> dict:
    import torch

    from kosmos_model.config import get_config
    from kosmos_model.model import Kosmos, count_parameters

    config, _, batch, seq_len, steps = SYNTHETIC_ROWS[name]
    torch.manual_seed(0)
    cfg = get_config(config)
    model = Kosmos(cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4, betas=(0.9, 0.98), weight_decay=0.01)
    ids = torch.randint(6, cfg.vocab_size, (batch, seq_len))
    mask = torch.zeros(batch, seq_len, dtype=torch.bool)
    mask[:, 2 : 2 + cfg.num_latents] = True  # one image per sequence
    size = cfg.vision.image_size
    pixels = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8)
    targets = ids.roll(-1, 1).masked_fill(mask, -100)

    def step():
        loss = model(ids, mask, pixels, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(2):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    float(loss)
    dt = time.perf_counter() - t0
    return {
        "row": name,
        "config": config,
        "batch": batch,
        "seq_len": seq_len,
        "tokens_per_s": round(batch * seq_len * steps / dt, 1),
        "s_per_step": round(dt / steps, 3),
        "params": count_parameters(model),
        "threads": torch.get_num_threads(),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_model_row(name: str, compile_model: bool, workers: int) -> dict:
    """The GPU check (``kosmos1-gpu``) or its CPU dry run (``dry-cpu``): one code path."""
    import torch

    from kosmos_model.config import get_config
    from kosmos_model.data import BatchLoader
    from kosmos_model.model import Kosmos, count_parameters, flops_per_token
    from kosmos_model.tokenizer import Tokenizer

    config, device, batch, seq_len, steps = MODEL_ROWS[name]
    cuda = device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("no GPU: torch.cuda.is_available() is False")
    dev = torch.device(device)
    torch.manual_seed(0)
    dirs, tok_path = build_real_shards()
    tok = Tokenizer.load(tok_path)
    cfg = get_config(config, vocab_size=max(tok.vocab_size, get_config(config).vocab_size))
    model = Kosmos(cfg).to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    fwd = torch.compile(model) if compile_model else model
    opt = torch.optim.AdamW(
        params, lr=2e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01, fused=cuda
    )
    autocast = torch.autocast(device, dtype=torch.bfloat16)
    from torch.nn.attention import SDPBackend, sdpa_kernel

    # Every attention (decoder, CLIP, resampler) restricted to the flash kernel: an input it
    # cannot take (a mask, an odd head size, fp32) fails loudly instead of falling back to
    # the math kernel. PyTorch has a CPU flash kernel too, so the dry run checks the same.
    def kernel():
        return sdpa_kernel([SDPBackend.FLASH_ATTENTION])

    spec = _spec(dirs, tok, batch=batch, seq_len=seq_len, image_size=cfg.vision.image_size)
    wait = 0.0

    def step(loader):
        nonlocal wait
        t = time.perf_counter()
        b = next(loader)
        wait += time.perf_counter() - t
        ids = b.input_ids.to(dev, non_blocking=True)
        mask = b.image_mask.to(dev, non_blocking=True)
        tgt = b.targets.to(dev, non_blocking=True)
        px = None if b.pixels is None else b.pixels.to(dev, non_blocking=True)
        with autocast, kernel():
            loss = fwd(ids, mask, px, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    with BatchLoader(spec, workers=workers, prefetch=4, pin_memory=cuda) as loader:
        for _ in range(2):  # warm-up (and compilation)
            float(step(loader))
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        wait = 0.0
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step(loader)
        loss = float(loss)
        if cuda:
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
        "workers": workers,
        "compile": compile_model,
        "loss": round(loss, 4),
        "tokens_per_s": round(tps, 1),
        "s_per_step": round(dt / steps, 3),
        "data_wait_share": round(wait / dt, 4),
        "params": count_parameters(model),
        "gpu": None,
        "mfu": None,
        "peak_gpu_mem_gib": None,
    }
    if cuda:
        gpu = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16.items() if k in gpu), None)
        out["gpu"] = gpu
        out["peak_gpu_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        out["mfu"] = round(flops_per_token(cfg, seq_len) * tps / peak, 4) if peak else None
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


# --------------------------------------------------------------------------- driver


def _sub(args: list[str], timeout: int = 1800) -> dict | str:
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit code {proc.returncode}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def parity_lines() -> list[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "tests/model/test_torchscale_parity.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    lines = [x.lstrip(".") for x in proc.stdout.splitlines() if "vs torchscale" in x]
    status = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "no output"
    return [*lines, f"parity test: {status}"]


def main() -> int:
    argv = sys.argv[1:]
    compile_model = "--compile" in argv
    argv = [a for a in argv if a != "--compile"]
    if len(argv) >= 2 and argv[0] == "--row":
        name = argv[1]
        if name.startswith("loader-"):
            row = run_loader_row(int(name.split("-")[1]))
        elif name in SYNTHETIC_ROWS:
            row = run_synthetic_row(name)
        else:
            workers = int(argv[2]) if len(argv) > 2 else 1
            row = run_model_row(name, compile_model, workers)
        print(json.dumps(row))
        return 0
    import torch

    from kosmos_model.data import default_workers

    cores = default_workers()
    print(f"machine: {os.cpu_count()} CPUs, {cores} usable by this process")
    build_real_shards()
    print(f"real shards: {CACHE}")

    print(f"\n{'loader':<10} {'tokens/s':>10} {'images/s':>9} {'per worker':>20}  notes")
    loader_rows = {}
    for w in sorted({1, 2, cores}):
        r = _sub(["--row", f"loader-{w}"])
        if isinstance(r, str):
            print(f"loader-{w:<3} failed: {r}")
            continue
        loader_rows[w] = r
        per = f"{r['per_worker_tokens_per_s']:,.0f} / {r['per_worker_images_per_s']:.0f}"
        print(
            f"loader-{w:<3} {r['tokens_per_s']:>10,.0f} {r['images_per_s']:>9.1f} {per:>20}  "
            f"{r['batches']} batches of {LOADER_BATCH}x{LOADER_SEQ} in {r['seconds']} s, "
            f"{r['images_per_1000_tokens']} images/1000 tokens, real (non-pad) tokens "
            f"{r['real_tokens_per_s']:,.0f}/s"
        )
    print(
        "  target per rank: 92,000 tokens/s and 540 images/s (2x one H100's appetite for a "
        "1.6B KOSMOS-1 at 45% MFU)"
    )

    print(f"\n{'model':<12} {'tokens/s':>10} {'s/step':>8} {'peak memory':>16}  notes")
    for name in SYNTHETIC_ROWS:
        r = _sub(["--row", name])
        if isinstance(r, str):
            print(f"{name:<12} failed: {r}")
            continue
        print(
            f"{name:<12} {r['tokens_per_s']:>10,.0f} {r['s_per_step']:>8.3f} "
            f"{r['peak_rss_mib']:>12.0f} MiB  {r['config']}, batch {r['batch']}x{r['seq_len']}, "
            f"{r['params']['total']:,} params, {r['threads']} CPU threads, fp32"
        )
    gpu = torch.cuda.is_available()
    for name, (config, device, batch, seq_len, _) in MODEL_ROWS.items():
        if device == "cuda" and not gpu:
            print(
                f"{name:<12} {'-':>10} {'-':>8} {'-':>16}  not measured: no GPU in this "
                "session (torch.cuda.is_available() is False), so no MFU or headroom figure"
            )
            continue
        w = max(loader_rows) if loader_rows else cores
        extra = ["--compile"] if compile_model else []
        r = _sub(["--row", name, str(w), *extra])
        if isinstance(r, str):
            print(f"{name:<12} failed: {r}")
            continue
        gib, mib = r["peak_gpu_mem_gib"], r["peak_rss_mib"]
        mem = f"{gib} GiB GPU" if device == "cuda" else f"{mib:.0f} MiB"
        notes = (
            f"{config}, batch {batch}x{seq_len}, {r['params']['total']:,} params, bf16 autocast, "
            f"{w} loader workers, data wait {r['data_wait_share']:.1%} of step time"
        )
        if r["gpu"]:
            mfu = f"MFU {r['mfu']:.1%}" if r["mfu"] else "MFU n/a (unknown peak)"
            notes += f", {r['gpu']}, {mfu}, flash SDPA, fused AdamW"
        if w in loader_rows:
            notes += (
                f", loader headroom {loader_rows[w]['tokens_per_s'] / r['tokens_per_s']:.2f}x "
                f"(loader-{w} tokens/s / model tokens/s)"
            )
        if compile_model:
            notes += ", torch.compile"
        print(f"{name:<12} {r['tokens_per_s']:>10,.0f} {r['s_per_step']:>8.3f} {mem:>16}  {notes}")

    print("\nparity with torchscale 0.3.0 (fp32):")
    for line in parity_lines():
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
