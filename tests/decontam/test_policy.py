"""Drop and cut policies on documents, and the contamination report."""

from __future__ import annotations

import pytest

from kosmos_data.decontam import (
    CONTAMINATED,
    CONTAMINATED_AFTER_CUT,
    CUT_COUNTER,
    DecontamConfig,
    DecontamStep,
)
from kosmos_data.decontam.index import TaskIndex
from kosmos_data.decontam.loaders import TaskSet
from kosmos_data.decontam.report import TaskReport, build_report
from kosmos_data.records import Document, ImageRef, Provenance, Segment

PASSAGE = ("The quick brown fox jumps over the lazy dog while the farmer watches from the "
           "old wooden porch of the house")  # fmt: skip
CLEAN = ("Photographs of the harbour at dawn show fishing boats returning with their catch, "
         "gulls circling overhead and nets drying on the stone quay. ") * 4  # fmt: skip


@pytest.fixture(scope="module")
def index() -> TaskIndex:
    return TaskIndex.build([TaskSet("fox", (("fox/0", (PASSAGE,)),))])


def _doc(*texts: str) -> Document:
    segs = [Segment(text=t) for t in texts]
    segs.insert(1, Segment(image=ImageRef("https://img.test/a.jpg")))
    return Document("d1", Provenance("w", "r", 0, "https://site.test/p", ""), segs, "fast")


def test_clean_documents_pass_untouched(index):
    doc = _doc(CLEAN, CLEAN)
    v = DecontamStep(DecontamConfig(tasks=("x",)), index=index)(doc)
    assert v.verdict is None and v.kept(doc) is doc and not v.report and not v.counters


def test_drop_policy(index):
    doc = _doc(CLEAN, f"As they say: {PASSAGE.upper()}! {CLEAN}")
    v = DecontamStep(DecontamConfig(tasks=("x",)), index=index)(doc)
    assert v.verdict == CONTAMINATED and v.detail == "tasks=fox" and v.kept(doc) is None
    assert v.record is None and not v.counters  # dropped/ shows the document as it came
    ((task, (ngrams, url)),) = v.report  # one item per matched task, for the report
    assert task == "fox" and url == "https://site.test/p"
    assert "the quick brown fox jumps over the lazy dog while the farmer watches" in ngrams


def test_cut_policy_removes_the_span_with_a_margin_and_keeps_the_rest(index):
    doc = _doc(CLEAN, f"{CLEAN}As they say, {PASSAGE.replace(' ', '  ')}. {CLEAN}")
    cfg = DecontamConfig(tasks=("x",), policy="cut", margin_chars=20)
    v = DecontamStep(cfg, index=index)(doc)
    assert v.verdict is None and v.counters == {CUT_COUNTER: 1} and v.report
    text = v.kept(doc).text
    assert "fox" not in text and "porch" not in text and "As they say" not in text
    # the 20-character margin took "e quay. As they say, " before the match, nothing else
    assert text.count("harbour") == 12 and text.count("quay") == 11
    assert len(v.record.images) == 1 and doc.text != text  # input not modified


def test_cut_policy_refilters_what_is_left(index):
    cfg = DecontamConfig(tasks=("x",), policy="cut")
    doc = _doc(CLEAN, PASSAGE)
    v = DecontamStep(cfg, refilter=lambda d: "too_few_words", index=index)(doc)
    assert v.verdict == CONTAMINATED_AFTER_CUT and v.detail == "too_few_words"
    assert v.record.text == CLEAN and v.record is not doc  # dropped/ shows what the cut left
    v = DecontamStep(cfg, index=index)(_doc(PASSAGE))
    assert v.verdict == CONTAMINATED_AFTER_CUT and v.detail == "no_text_left"
    assert v.record is None and not v.counters


def test_report_merges_and_warns_above_one_in_a_thousand():
    a, b = TaskReport(), TaskReport()
    a.add(["x y z"], "https://b.test/")
    b.add(["x y z", "u v w"], "https://a.test/")
    merged = a.merge(b).to_json()
    assert merged["documents"] == 2 and merged["example_urls"] == [
        "https://a.test/",
        "https://b.test/",
    ]
    assert merged["top_ngrams"][0] == {"ngram": "x y z", "documents": 2}
    ok = build_report({"t": a}, 10_000, 10, 0, {}, {})
    assert ok["warning"] is None and ok["removed_fraction"] == 0.001
    assert "0.1%" in build_report({"t": a}, 10_000, 11, 0, {}, {})["warning"]


def test_config_is_validated():
    with pytest.raises(ValueError, match="policy"):
        DecontamConfig(policy="erase")
    with pytest.raises(ValueError, match="min_words"):
        DecontamConfig(ngram=5, min_words=8)
    assert not DecontamConfig().enabled
