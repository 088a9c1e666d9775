"""The shipped block model is reproducible, and the classifier/fallback plumbing works."""

from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np
import pytest

from kosmos_data.extract import ExtractConfig, make_extractor
from kosmos_data.extract.blocks import FEATURES, STAGE2_FEATURES, Trees, load_model
from kosmos_data.extract.common import confidence_bucket
from kosmos_data.extract.fallback import FallbackExtractor


def test_training_regenerates_the_shipped_model_byte_for_byte(tmp_path):
    """Full retrain from the shared dev data + snippet set (~10-20 s on a shared 2-core box)."""
    from kosmos_data.extract import train_blocks

    out = tmp_path / "model.json"
    assert train_blocks.main(["--out", str(out)]) == 0
    shipped = resources.files("kosmos_data").joinpath("assets", "block_model.json").read_bytes()
    new = out.read_bytes()
    assert hashlib.sha256(new).hexdigest() == hashlib.sha256(shipped).hexdigest()


def test_shipped_model_matches_the_feature_code():
    m = load_model()
    assert m.stage1.w.shape == (len(FEATURES),)
    assert m.stage2.feature.max() < len(STAGE2_FEATURES)
    assert 0.0 < m.threshold < 1.0 and 0.5 < m.sure < 1.0


def test_oblivious_trees_evaluate_bits_in_level_order():
    # one tree, depth 2: bit0 = x0 > 1, bit1 = x1 > 5; leaf index = bit0 + 2 * bit1
    t = Trees(np.array([[0, 1]]), np.array([[1.0, 5.0]]), np.array([[0.0, 1.0, 2.0, 3.0]]), 0.5)
    x = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 9.0], [2.0, 9.0]])
    got = t.logit(x)
    assert np.max(np.abs(got - np.array([0.5, 1.5, 2.5, 3.5]))) == 0.0


@pytest.fixture(scope="module")
def unsure_page():
    """The readability dev page the fast extractor is least sure about."""
    from kosmos_data.extract.devset import load_dev_set

    ex = make_extractor(ExtractConfig())
    pages = load_dev_set(sources=("readability",))
    return min(pages, key=lambda p: ex.extract(p.page).meta["extraction_confidence"]).page


def test_fallback_goes_to_fidelity_only_below_the_threshold(unsure_page):
    fast_doc = make_extractor(ExtractConfig()).extract(unsure_page)
    conf = fast_doc.meta["extraction_confidence"]
    assert 0.0 <= conf < 0.8
    above = make_extractor(ExtractConfig(fallback_threshold=conf))  # not below: stays fast
    assert isinstance(above, FallbackExtractor)
    kept = above.extract(unsure_page)
    assert kept.extractor == "fast" and "extraction_fallback" not in kept.meta
    assert kept.text == fast_doc.text
    below = make_extractor(ExtractConfig(fallback_threshold=conf + 0.01, timeout_s=60.0))
    doc = below.extract(unsure_page)
    assert doc.extractor == "fidelity"
    assert doc.meta["extraction_fallback"] == "fidelity"
    assert doc.meta["extraction_confidence"] == conf


def test_fallback_keeps_the_fast_document_when_fidelity_fails_or_finds_nothing(unsure_page):
    from kosmos_data.extract import ExtractionError
    from kosmos_data.records import Document

    class Empty:
        def extract(self, page):
            return Document("x", page.provenance, [], "fidelity", {})

    class Failing:
        def extract(self, page):
            raise ExtractionError("boom")

    fast_text = make_extractor(ExtractConfig()).extract(unsure_page).text
    for stub, reason in ((Empty(), "fidelity_empty"), (Failing(), "fidelity_error")):
        ex = make_extractor(ExtractConfig(fallback_threshold=1.0))
        ex._fidelity = stub
        doc = ex.extract(unsure_page)
        assert doc.extractor == "fast"
        assert doc.meta["extraction_fallback"] == reason
        assert doc.text == fast_text


@pytest.mark.parametrize(
    ("conf", "bucket"), [(0.0, "0.0-0.1"), (0.05, "0.0-0.1"), (0.85, "0.8-0.9"), (1.0, "0.9-1.0")]
)
def test_confidence_bucket(conf, bucket):
    assert confidence_bucket(conf) == bucket


def test_unspaced_scripts_have_the_text_shape_of_prose():
    """A Chinese or Japanese paragraph has no spaces: ``str.split`` made it one 15-character
    "word" without punctuation or stopwords, the shape of a menu label. Each character now
    counts half a word, function characters as stopwords, fullwidth punctuation as
    punctuation; Latin text keeps its features exactly."""
    from selectolax.lexbor import LexborHTMLParser

    from kosmos_data.extract.blocks import Block, block_features
    from kosmos_data.extract.fast import is_boilerplate_name

    zh = (
        "在美国旧金山举行的中美元首会晤吸引了全世界的目光。"
        "多名外国专家告诉记者，中美合作共赢符合国际社会利益。"
    )
    ja = (
        "６月12日の歴史的な米朝首脳会談を巡って戦っていたのは、"
        "米大統領と北朝鮮委員長ばかりではなかった。"
    )
    en = "The summit drew the attention of the world, and experts said that cooperation helps all."
    html = "".join(f"<p>{t}</p>" for t in (zh, ja, en, "北朝鮮"))
    nodes = LexborHTMLParser(html).css("p")
    texts = [n.text() for n in nodes]
    blocks = [Block(t, n, len(t), 0) for t, n in zip(texts, nodes, strict=True)]
    x, _ = block_features(blocks, is_boilerplate_name)
    col = {name: i for i, name in enumerate(FEATURES)}
    words = np.expm1(x[:, col["log_words"]])
    for i in (0, 1):  # the two CJK paragraphs
        assert words[i] > 20, (texts[i], words[i])
        assert x[i, col["stop_ratio"]] > 0.03, x[i, col["stop_ratio"]]
        assert x[i, col["punct_per_word"]] > 0.03, x[i, col["punct_per_word"]]
        assert x[i, col["mean_word_len"]] < 3.0, x[i, col["mean_word_len"]]
    assert words[3] == pytest.approx(1 + 0.5 * 3)  # a three-character label stays short
    latin, _ = block_features([blocks[2]], is_boilerplate_name)
    assert np.max(np.abs(latin[0, :8] - x[2, :8])) == 0.0
    assert words[2] == pytest.approx(len(en.split()))


def test_the_code_point_table_is_char_bits_of_every_bmp_code_point():
    """``_CHAR_BITS`` is built with ``re`` for speed; it must equal ``_char_bits`` per code
    point (decimal digits, whitespace, the joining space, punctuation, sentence ends)."""
    from kosmos_data.extract import blocks

    ref = np.array([blocks._char_bits(chr(i)) for i in range(0x10000)], dtype=np.uint8)
    diff = np.flatnonzero(ref != blocks._CHAR_BITS)
    assert diff.size == 0, [hex(int(i)) for i in diff[:10]]
