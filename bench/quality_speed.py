"""Quality stage: same decisions as a base revision, and CPU per document, A/B in one process.

Usage: ``python bench/quality_speed.py [--base REV] [--rounds N]`` from the repo root.

Loads ``kosmos_data/filters/quality.py`` as it was at ``--base`` (``git show``; default: the
merge base of HEAD and ``main``) beside the working tree's module, extracts every
extraction-dev page once (fast extractor, English only: the documents that reach the
quality step in the job), then

* asserts that the working tree with ``node_context=False`` (the only semantic change since
  the published unit) decides exactly as the base with its default config on every
  document: verdict, node removals per reason, the cleaned segments and the statistics in
  ``doc.meta["quality"]``; and reports how many verdicts and texts ``node_context=True``
  (the default) changes;
* times ``judge`` on fresh copies of the documents for base, new with ``node_context=False``
  and new (default), interleaved round by round (``time.process_time``; the VM drifts, so
  the three run in the same rounds) and prints the best round's ms per document.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def _load_base(rev: str):
    src = subprocess.run(
        ["git", "show", f"{rev}:kosmos_data/filters/quality.py"],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "quality_base.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("quality_base", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["quality_base"] = mod  # dataclasses look the module up
    spec.loader.exec_module(mod)
    return mod


def _docs():
    from extract_quality import _dev_pages

    from kosmos_data.extract import ExtractConfig
    from kosmos_data.filters.langid import LangIdConfig
    from kosmos_data.stages import ExtractStep, LanguageStep

    ext, lang = ExtractStep(ExtractConfig()), LanguageStep(LangIdConfig())
    ext.setup()
    lang.setup()
    out = []
    for _, page, _ in _dev_pages():
        doc = ext(page).record
        if doc is not None and lang(doc).verdict is None:
            out.append(doc)
    return out


def _outcome(mod, config, doc):
    doc = copy.deepcopy(doc)
    verdict, counts = mod.judge(doc, config)
    segs = [(s.text, s.image.url if s.image is not None else None) for s in doc.segments]
    return verdict, counts, segs, json.dumps(doc.meta.get("quality"), sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=None, help="git revision (default: merge-base HEAD main)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    rev = args.base or subprocess.run(
        ["git", "merge-base", "HEAD", "main"], cwd=REPO, check=True, capture_output=True,
        text=True,
    ).stdout.strip()  # fmt: skip
    from kosmos_data.filters import quality as new

    base = _load_base(rev)
    docs = _docs()
    arms = {
        f"base {rev[:8]}": (base, base.QualityConfig()),
        "new node_context=False": (new, new.QualityConfig(node_context=False)),
        "new (default)": (new, new.QualityConfig()),
    }
    (_, (bm, bc)), (_, (om, oc)), (_, (nm, nc)) = arms.items()
    same = sum(_outcome(bm, bc, d) == _outcome(om, oc, d) for d in docs)
    print(f"{len(docs)} documents; new node_context=False == base on {same}/{len(docs)}")
    changed = [(_outcome(bm, bc, d), _outcome(nm, nc, d)) for d in docs]
    print(
        f"default (node_context=True) vs base: verdict differs on "
        f"{sum(a[0] != b[0] for a, b in changed)}, cleaned text on "
        f"{sum(a[2] != b[2] for a, b in changed)} documents"
    )
    best = dict.fromkeys(arms, float("inf"))
    for _ in range(args.rounds):
        for name, (mod, config) in arms.items():
            batch = [copy.deepcopy(d) for d in docs]
            t0 = time.process_time()
            for d in batch:
                mod.judge(d, config)
            best[name] = min(best[name], time.process_time() - t0)
    for name, t in best.items():
        print(f"{name:26s} {1000 * t / len(docs):7.3f} ms CPU per document (best of {args.rounds})")
    if same != len(docs):
        raise SystemExit("node_context=False no longer decides as the base revision")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
