"""Snippet-based quality on the hand-labelled eval set (tests/data/extraction_eval).

These pages are part of the fast extractor's block-model training data
(``kosmos_data/extract/train_blocks.py``), so the fast figures here are a regression check;
held-out figures come from cross-validation in ``bench/extract_quality.py``."""

from __future__ import annotations

from kosmos_data.extract import ExtractConfig, make_extractor
from kosmos_data.extract.evaluate import Score, micro, normalize, score_text


def test_scoring_functions():
    s = score_text("Hello   big\nWorld. Footer", ["hello big world", "missing bit"], ["footer"])
    assert s == Score(tp=1, fn=1, fp=1)
    assert s.precision == 0.5 and s.recall == 0.5 and s.f1 == 0.5
    assert micro([Score(1, 0, 0), Score(0, 1, 1)]) == Score(1, 1, 1)
    assert normalize(" A\t b\n") == "a b"
    assert Score().f1 == 0.0


def test_eval_set_is_substantial(eval_pages):
    assert len(eval_pages) >= 40
    assert sum(len(p.must) for p in eval_pages) >= 200
    assert sum(len(p.must_not) for p in eval_pages) >= 100


def _score(eval_pages, mode: str) -> Score:
    ex = make_extractor(ExtractConfig(mode=mode, timeout_s=30.0))
    return micro(score_text(ex.extract(p.page).text, p.must, p.must_not) for p in eval_pages)


def test_fast_f1_at_least_090(eval_pages):
    s = _score(eval_pages, "fast")
    assert s.f1 >= 0.90, s
    assert s.precision >= 0.90, s


def test_fidelity_scores_too(eval_pages):
    s = _score(eval_pages, "fidelity")
    assert s.f1 >= 0.85, s
