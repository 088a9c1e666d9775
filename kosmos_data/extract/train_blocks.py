"""Train the fast extractor's block classifier (``kosmos_data/assets/block_model.json``).

    python -m kosmos_data.extract.train_blocks [--root DIR] [--out FILE] [--sources ...]

Training data: the development set of ``kosmos_data.extract.devset`` (311 pages:
ScrapingHub's article benchmark and mozilla/readability's test pages, each with human gold
text). Pages go through the fast extractor's own pipeline (junk and boilerplate-region
removal, root choice, DOM walk) and each resulting block is labelled by aligning its text
with the gold text:

* a block of 3+ tokens is content when at least ``LABEL_MIN_SHARE`` of its token trigrams
  occur in the gold text (trigrams, not single tokens, so a menu entry "News" is not
  content just because the word occurs in the article);
* a block of 1-2 tokens is content when its token sequence occurs in the gold token
  sequence;
* a block without tokens (punctuation only) carries no weight.

Each block is weighted by its token count divided by its page's token count, so every page
counts equally (the metric is averaged per page) and long blocks matter more than short ones
within a page (the metric counts tokens). Both stages are L2-regularised logistic
regressions fitted by Newton's method (IRLS) in numpy, a fixed number of iterations from
zero; stage 2 sees stage 1's in-sample logits. The decision threshold is the grid value
(0.20-0.80, step 0.05) with the best F1 averaged over the training sources (each source
counts once: mean page F1 of a gold source, micro snippet F1 of the snippet pages). Parameters are
rounded to 6 significant digits and written as sorted-key JSON, so a retrain on the same
data regenerates the file byte for byte (``tests/extract/test_block_model.py``).

``cross_validate`` and ``cross_source`` give the held-out figures (5 folds by a blake2b hash
of the page id; train on one source, test on the other) that ``bench/extract_quality.py``
prints.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kosmos_data.extract.blocks import FEATURES, STAGE2_FEATURES, BlockModel, block_features
from kosmos_data.extract.config import ExtractConfig
from kosmos_data.extract.devset import PRF, DevPage, fold_of, load_dev_set, mean_prf, token_prf
from kosmos_data.extract.evaluate import load_eval_set, micro, normalize, score_text
from kosmos_data.extract.fast import FastExtractor, is_boilerplate_name

LABEL_MIN_SHARE = 0.5
L2 = 1.0
ITERATIONS = 30
SURE = 0.8
TREES = 120
DEPTH = 4
LEARNING_RATE = 0.15
TREE_L2 = 1.0
MIN_HESS = 1.0
BINS = 32
THRESHOLDS = tuple(round(0.2 + 0.05 * i, 2) for i in range(13))
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "assets" / "block_model.json"
_WORD = re.compile(r"\w+")


def snippet_pages(root: Path | None = None) -> list[DevPage]:
    """The hand-labelled snippet set (``tests/data/extraction_eval``: 45 WARC pages of
    home, team, docs and article pages with must / must-not snippets) as dev pages whose
    ``gold`` is None; its blocks are labelled from the snippets (``collect``)."""
    repo = Path(__file__).resolve().parents[2]
    jsonl = Path(root) if root else repo / "tests" / "data" / "extraction_eval" / "pages.jsonl"
    out = []
    for ep in load_eval_set(jsonl, repo):
        dp = DevPage("snippets", ep.label, ep.page, None)
        dp.must, dp.must_not = ep.must, ep.must_not
        out.append(dp)
    return out


def _snippet_label(text: str, must: list[str], must_not: list[str]) -> float | None:
    """1 when the block holds (or is part of) a must snippet, 0 for a must-not one, None
    when it holds neither (unlabelled: no weight)."""
    t = normalize(text)
    if len(t) < 3:
        return None
    for snip in must:
        if snip in t or (len(t) >= 15 and t in snip):
            return 1.0
    for snip in must_not:
        if snip in t or (len(t) >= 15 and t in snip):
            return 0.0
    return None


@dataclass
class PageBlocks:
    """One dev page after the walk: features, regions, labels, weights, token counters."""

    source: str
    key: str
    x1: np.ndarray
    regions: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    counters: list[Counter[str]]
    gold: Counter[str]
    texts: list[str]
    page: DevPage


def _label(toks: list[str], gold_tri: set, gold_seq: str) -> float:
    if len(toks) >= 3:
        tri = [(toks[i], toks[i + 1], toks[i + 2]) for i in range(len(toks) - 2)]
        return float(sum(t in gold_tri for t in tri) >= LABEL_MIN_SHARE * len(tri))
    return float(f" {' '.join(toks)} " in gold_seq)


def collect(pages: list[DevPage]) -> list[PageBlocks]:
    """Walk every page with the fast extractor and label its blocks (module docstring)."""
    ex = FastExtractor(ExtractConfig())
    got: list = []
    ex._collect = got.append
    out = []
    for dp in pages:
        got.clear()
        ex.extract(dp.page)
        blocks = got[0]
        toks = [_WORD.findall(b.text.casefold()) for b in blocks]
        ntok = np.array([len(t) for t in toks], dtype=np.float64)
        if dp.gold is None:
            must = [normalize(x) for x in dp.must]
            must_not = [normalize(x) for x in dp.must_not]
            labels = [_snippet_label(b.text, must, must_not) for b in blocks]
            y = np.array([lab or 0.0 for lab in labels])
            ntok = ntok * np.array([lab is not None for lab in labels], dtype=np.float64)
            gtoks = []
        else:
            gtoks = _WORD.findall(dp.gold.casefold())
            gold_tri = {(gtoks[i], gtoks[i + 1], gtoks[i + 2]) for i in range(len(gtoks) - 2)}
            gold_seq = f" {' '.join(gtoks)} "
            y = np.array([_label(t, gold_tri, gold_seq) for t in toks])
        weight = ntok / ntok.sum() if ntok.sum() else ntok
        if blocks:
            x1, regions = block_features(blocks, is_boilerplate_name)
        else:
            x1, regions = np.zeros((0, len(FEATURES))), np.zeros((0, 3), dtype=np.int64)
        out.append(
            PageBlocks(
                dp.source,
                dp.key,
                x1,
                regions,
                y,
                weight,
                [Counter(t) for t in toks],
                Counter(gtoks),
                [b.text for b in blocks],
                dp,
            )
        )
    return out


def _round(a) -> list[float]:
    return [float(f"{v:.6g}") for v in np.asarray(a, dtype=np.float64).ravel()]


def fit_logistic(x: np.ndarray, y: np.ndarray, sw: np.ndarray) -> dict:
    """Weighted L2 logistic regression by IRLS; returns rounded JSON-ready parameters."""
    mean = np.asarray(_round(x.mean(axis=0)))
    scale = np.asarray(_round(np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)))
    z = (x - mean) / scale
    z1 = np.hstack([z, np.ones((z.shape[0], 1))])
    w = np.zeros(z1.shape[1])
    reg = np.full(z1.shape[1], L2)
    reg[-1] = 0.0
    sw = sw * (len(sw) / sw.sum())
    for _ in range(ITERATIONS):
        p = 1.0 / (1.0 + np.exp(-(z1 @ w)))
        g = z1.T @ (sw * (p - y)) + reg * w
        h = (z1 * (sw * p * (1.0 - p))[:, None]).T @ z1 + np.diag(reg + 1e-9)
        w = w - np.linalg.solve(h, g)
    return {
        "mean": _round(mean),
        "scale": _round(scale),
        "w": _round(w[:-1]),
        "b": _round(w[-1:])[0],
    }


def fit_trees(x: np.ndarray, y: np.ndarray, sw: np.ndarray) -> dict:
    """Weighted logistic gradient boosting of oblivious trees (``blocks.Trees``).

    Newton steps on the log-loss (XGBoost's split gain, Chen & Guestrin 2016) over
    quantile thresholds (``BINS`` per feature); each level picks the one (feature,
    threshold) with the best gain summed over the current leaves.
    """
    n, f = x.shape
    sw = sw * (n / sw.sum())
    qs = np.linspace(0.0, 1.0, BINS + 1)[1:-1]
    cands, binned = [], np.empty((n, f), dtype=np.int64)
    for j in range(f):
        th = np.unique(np.asarray(_round(np.quantile(x[:, j], qs))))
        cands.append(th)
        binned[:, j] = np.searchsorted(th, x[:, j], side="left")
    prior = float(np.clip((sw * y).sum() / sw.sum(), 1e-6, 1 - 1e-6))
    base = _round([np.log(prior / (1 - prior))])[0]
    logit = np.full(n, base)
    feats, thrs, leaves = [], [], []
    for _ in range(TREES):
        p = 1.0 / (1.0 + np.exp(-logit))
        g = sw * (p - y)
        h = sw * p * (1.0 - p)
        leaf = np.zeros(n, dtype=np.int64)
        tf, tt = [], []
        for level in range(DEPTH):
            nleaf = 1 << level
            best = (-np.inf, 0, 0)
            for j in range(f):
                nb = len(cands[j]) + 1
                if nb < 2:
                    continue
                key = leaf * nb + binned[:, j]
                gs = np.bincount(key, weights=g, minlength=nleaf * nb).reshape(nleaf, nb)
                hs = np.bincount(key, weights=h, minlength=nleaf * nb).reshape(nleaf, nb)
                gl = np.cumsum(gs, axis=1)[:, :-1]
                hl = np.cumsum(hs, axis=1)[:, :-1]
                gr = gs.sum(axis=1, keepdims=True) - gl
                hr = hs.sum(axis=1, keepdims=True) - hl
                ok = (hl >= MIN_HESS) & (hr >= MIN_HESS)
                gain = np.where(ok, gl**2 / (hl + TREE_L2) + gr**2 / (hr + TREE_L2), 0.0).sum(0)
                k = int(np.argmax(gain))
                if gain[k] > best[0] + 1e-12:
                    best = (float(gain[k]), j, k)
            _, j, k = best
            tf.append(j)
            tt.append(float(cands[j][k]) if len(cands[j]) else 0.0)
            leaf |= (binned[:, j] > k).astype(np.int64) << level
        gsum = np.bincount(leaf, weights=g, minlength=1 << DEPTH)
        hsum = np.bincount(leaf, weights=h, minlength=1 << DEPTH)
        val = np.asarray(_round(-LEARNING_RATE * gsum / (hsum + TREE_L2)))
        logit = logit + val[leaf]
        feats.append(tf)
        thrs.append(tt)
        leaves.append(val.tolist())
    return {"feature": feats, "threshold": thrs, "leaf": leaves, "base": base}


def _stack(data: list[PageBlocks]):
    x1 = np.vstack([d.x1 for d in data])
    y = np.concatenate([d.y for d in data])
    sw = np.concatenate([d.weight for d in data])
    return x1, y, sw


def page_scores(
    model: BlockModel, data: list[PageBlocks], threshold: float | None = None
) -> list[PRF]:
    """Token P/R/F1 of each page's kept blocks under ``model``."""
    t = model.threshold if threshold is None else threshold
    return [
        score_page(d, model.probabilities_from(d.x1, d.regions) >= t if len(d.y) else [])
        for d in data
    ]


def score_page(d: PageBlocks, keep) -> PRF:
    c: Counter[str] = Counter()
    for k, cnt in zip(keep, d.counters, strict=True):
        if k:
            c.update(cnt)
    return token_prf(c, d.gold)


def train(data: list[PageBlocks]) -> dict:
    """Fit both stages and the threshold on ``data``; returns the model's JSON dict."""
    x1, y, sw = _stack(data)
    s1 = fit_logistic(x1, y, sw)
    from kosmos_data.extract.blocks import Linear

    lin1 = Linear.from_json(s1)
    x2 = np.vstack([_x2(d, lin1) for d in data if len(d.y)])
    s2 = fit_trees(x2, y, sw)
    model = BlockModel.from_json(_as_model(s1, s2, 0.5))
    best_t, best_f = 0.5, -1.0
    for t in THRESHOLDS:
        scores = source_scores(model, data, t)
        f = sum(v.f1 for v in scores.values()) / len(scores)
        if f > best_f + 1e-12:
            best_t, best_f = t, f
    return _as_model(s1, s2, best_t)


def _x2(d: PageBlocks, lin1) -> np.ndarray:
    from kosmos_data.extract.blocks import stage2_features

    return stage2_features(d.x1, lin1.logit(d.x1), d.regions, np.expm1(d.x1[:, 0]))


def _as_model(s1: dict, s2: dict, threshold: float) -> dict:
    return {
        "features": list(FEATURES),
        "stage2_features": list(STAGE2_FEATURES),
        "stage1": s1,
        "stage2": s2,
        "threshold": threshold,
        "sure": SURE,
    }


def dumps(model: dict, trained_on: dict) -> str:
    """Canonical JSON text of a model (sorted keys, fixed separators, trailing newline)."""
    return json.dumps({**model, "trained_on": trained_on}, sort_keys=True, indent=1) + "\n"


def out_of_fold(data: list[PageBlocks], k: int = 5) -> list[tuple[np.ndarray, float, float]]:
    """Per page: block probabilities from the model trained without the page's fold, with
    that model's threshold and ``sure`` level (k retrainings)."""
    out: list = [None] * len(data)
    for fold in range(k):
        trainset = [d for d in data if fold_of(d.source, d.key, k) != fold]
        model = BlockModel.from_json(train(trainset))
        for i, d in enumerate(data):
            if fold_of(d.source, d.key, k) == fold:
                p = model.probabilities_from(d.x1, d.regions) if len(d.y) else np.zeros(0)
                out[i] = (p, model.threshold, model.sure)
    return out


def confidence(d: PageBlocks, p: np.ndarray, sure: float) -> float:
    """The fast extractor's page confidence (``fast._classify``) from block probabilities."""
    chars = np.array([len(t) for t in d.texts], dtype=np.float64)
    if not chars.sum():
        return 0.0
    return round(float(chars[(p >= sure) | (p <= 1.0 - sure)].sum() / chars.sum()), 4)


def kept_text(d: PageBlocks, keep) -> str:
    return "\n".join(t for t, k in zip(d.texts, keep, strict=True) if k)


def cross_validate(data: list[PageBlocks], k: int = 5, oof=None) -> list[dict[str, PRF]]:
    """Per fold: figures per source on the fold's pages, trained on the other folds."""
    oof = out_of_fold(data, k) if oof is None else oof
    out = []
    for fold in range(k):
        idx = [i for i, d in enumerate(data) if fold_of(d.source, d.key, k) == fold]
        texts = {i: kept_text(data[i], oof[i][0] >= oof[i][1]) for i in idx}
        out.append(text_scores([data[i] for i in idx], [texts[i] for i in idx]))
    return out


def text_scores(data: list[PageBlocks], texts: list[str]) -> dict[str, PRF]:
    """Per source: mean token P/R/F1 (gold pages) or micro snippet P/R/F1 of ``texts``."""
    row: dict[str, PRF] = {}
    for src in sorted({d.source for d in data}):
        part = [(d, t) for d, t in zip(data, texts, strict=True) if d.source == src]
        if part[0][0].page.gold is None:
            s = micro(score_text(t, d.page.must, d.page.must_not) for d, t in part)
            row[src] = PRF(s.precision, s.recall, s.f1)
        else:
            row[src] = mean_prf(token_prf(t, d.page.gold) for d, t in part)
    return row


def source_scores(
    model: BlockModel, data: list[PageBlocks], threshold: float | None = None
) -> dict[str, PRF]:
    """Mean token P/R/F1 per gold source; micro snippet P/R/F1 for the snippet pages."""
    t = model.threshold if threshold is None else threshold
    row: dict[str, PRF] = {}
    for src in sorted({d.source for d in data}):
        part = [d for d in data if d.source == src]
        if part[0].page.gold is None:
            s = micro(
                score_text(
                    "\n".join(x for x, k in zip(d.texts, _keep(model, d, t), strict=True) if k),
                    d.page.must,
                    d.page.must_not,
                )
                for d in part
            )
            row[src] = PRF(s.precision, s.recall, s.f1)
        else:
            row[src] = mean_prf(page_scores(model, part, t))
    return row


def _keep(model: BlockModel, d: PageBlocks, threshold: float):
    if not len(d.y):
        return []
    return (model.probabilities_from(d.x1, d.regions) >= threshold).tolist()


def cross_source(data: list[PageBlocks]) -> dict[str, PRF]:
    """Train on one source, score the other: ``{"A->B": PRF}``."""
    out = {}
    sources = sorted({d.source for d in data if d.page.gold is not None})
    for a in sources:
        for b in sources:
            if a == b:
                continue
            model = BlockModel.from_json(train([d for d in data if d.source == a]))
            out[f"{a}->{b}"] = source_scores(model, [d for d in data if d.source == b])[b]
    return out


def load_training_pages(root: Path | None, sources) -> list[DevPage]:
    """Dev pages of the gold ``sources`` plus, when listed, the ``snippets`` pages."""
    gold = tuple(s for s in sources if s != "snippets")
    pages = load_dev_set(root, gold) if gold else []
    if "snippets" in sources:
        pages += snippet_pages()
    return pages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=None, help="extraction-dev directory")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--sources", default="scrapinghub,readability,snippets")
    args = ap.parse_args(argv)
    sources = tuple(s for s in args.sources.split(",") if s)
    pages = load_training_pages(Path(args.root) if args.root else None, sources)
    data = collect(pages)
    model = train(data)
    trained_on = {s: sum(p.source == s for p in pages) for s in sources}
    Path(args.out).write_text(dumps(model, trained_on), encoding="utf-8")
    print(
        f"wrote {args.out}: {sum(len(d.y) for d in data)} blocks from {len(pages)} pages, "
        f"threshold {model['threshold']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
