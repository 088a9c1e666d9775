"""URL normalisation, exact-text and image stages, and the keep rule, in memory."""

from __future__ import annotations

import pytest

from kosmos_data.dedup import DedupConfig
from kosmos_data.dedup.components import rank_doc_id, rank_key
from kosmos_data.dedup.local import dedup_documents
from kosmos_data.dedup.rows import row_to_document
from kosmos_data.dedup.urlnorm import normalize_url
from kosmos_data.outputs import document_to_row
from kosmos_data.records import Document, ImageRef, Provenance, Segment

ONLY_EXACT = DedupConfig(near=False, image_url_max_pages=2)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("HTTP://Example.COM:80/a/b?x=1#frag", "https://example.com/a/b?x=1"),
        ("https://example.com:443", "http://example.com/"),
        ("https://ex.com/p?b=2&utm_source=tw&a=1&fbclid=Z", "https://ex.com/p?a=1&b=2"),
        ("https://ex.com/a/./b/../c%2f", "https://ex.com/a/c%2F"),
        ("https://ex.com./p", "https://ex.com/p"),
    ],
)
def test_equivalent_urls_normalise_equal(a, b):
    assert normalize_url(a) == normalize_url(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://ex.com/p?id=1", "https://ex.com/p?id=2"),
        ("https://ex.com:8080/p", "https://ex.com/p"),
        ("https://ex.com/P", "https://ex.com/p"),  # paths are case-sensitive
        ("https://a.ex.com/p", "https://b.ex.com/p"),
    ],
)
def test_different_urls_stay_different(a, b):
    assert normalize_url(a) != normalize_url(b)


def _doc(i: int, url: str, text: str, images=()) -> Document:
    segs = [Segment(text=text)] + [Segment(image=ImageRef(u)) for u in images]
    return Document(f"d{i}", Provenance("w", str(i), i, url, ""), segs, "fast")


def test_keep_rule_most_images_then_longest_text_then_url_hash():
    a = _doc(1, "https://a.test/", "short text", ["https://i/1", "https://i/2"])
    b = _doc(2, "https://b.test/", "a much longer text than the other", ["https://i/3"])
    c = _doc(3, "https://c.test/", "a much longer text than the other!!", ["https://i/4"])
    assert min(rank_key(d) for d in (a, b, c)) == rank_key(a)
    assert min(rank_key(b), rank_key(c)) == rank_key(c)
    assert rank_doc_id(rank_key(c)) == "d3"


def test_exact_stages_and_kept_ids():
    logo = "https://cdn.test/logo.png"
    docs = [
        _doc(0, "https://a.test/x", "alpha text here", ["https://i/a", logo]),
        _doc(1, "http://A.test/x?utm_medium=m", "different words", ["https://i/b"]),
        _doc(2, "https://b.test/y", "Alpha, TEXT here!", ["https://i/c", logo]),
        _doc(3, "https://c.test/z", "gamma", [logo]),
        _doc(4, "https://d.test/z", "delta", ["https://i/d", "https://i/e"]),
        _doc(5, "https://e.test/z", "epsilon", ["https://i/e", "https://i/d"]),
        _doc(6, "https://f.test/text-only", "a text-only document"),
        _doc(7, "https://g.test/z", "zeta", ["https://i/f", logo]),
    ]
    r = dedup_documents(docs, ONLY_EXACT)
    got = {d.document.id: (d.stage, d.reason, d.detail) for d in r.dropped}
    assert got == {
        "d1": ("dedup_url", "duplicate_url", "kept=d0"),  # d0 has more images
        "d0": ("dedup_text", "duplicate_text", "kept=d2"),  # d2's text is longer
        "d3": ("dedup_images", "no_images_after_dedup", "removed=1"),  # logo on 3 pages > 2
        "d4": ("dedup_images", "duplicate_image_set", "kept=d5"),
    }
    assert [d.id for d in r.kept] == ["d2", "d5", "d6", "d7"]
    assert [i.url for i in r.kept[0].images] == ["https://i/c"]
    assert r.kept[0].meta["image_drops"] == {"boilerplate_image": 1}
    assert r.counters == {("image_dropped", "dedup_images", "boilerplate_image"): 3}
    assert docs[0].images[1].url == logo  # inputs are not modified


def test_rows_round_trip_and_obelics_rows():
    doc = _doc(7, "https://r.test/", "some text", ["https://i/z"])
    doc.meta.update(language="en", title="T")
    back = row_to_document(document_to_row(doc))
    assert back.id == doc.id and back.provenance == doc.provenance
    assert [(s.text, s.image.url if s.image else None) for s in back.segments] == [
        ("some text", None), (None, "https://i/z")
    ]  # fmt: skip
    obelics = {
        "texts": ["caption text", None],
        "images": [None, "https://img.test/1.jpg"],
        "metadata": '[null, {"src": "https://img.test/1.jpg", "alt_text": "a"}]',
        "general_metadata": '{"url": "https://o.test/p", "warc_filename": "cc.warc.gz", '
        '"warc_record_offset": 42}',
    }
    d = row_to_document(obelics)
    assert d.provenance.url == "https://o.test/p" and d.provenance.offset == 42 and d.id
    assert d.images[0].url == "https://img.test/1.jpg"


def test_config_validation():
    with pytest.raises(ValueError, match="num_perm"):
        DedupConfig(num_perm=100)
    with pytest.raises(ValueError, match="threshold"):
        DedupConfig(threshold=0)
