"""Caption tables and text corpora -> Documents; caption filters; dead-letter reasons."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kosmos_data.records import DeadLetter, Document
from kosmos_data.sources import (
    CaptionFilterConfig,
    CaptionReadConfig,
    TableError,
    TextReadConfig,
    caption_document,
    check_caption,
    iter_rows,
    table_format,
    text_document,
)


def _parquet(rows: list[dict]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def test_formats_from_names():
    assert table_format("a/part-0.parquet") == "parquet"
    assert table_format("x.jsonl.gz") == "jsonl"
    assert table_format("x.json") == "jsonl"
    assert table_format("cc3m.tsv") == "tsv"
    assert table_format("y.csv.gz") == "csv"
    with pytest.raises(ValueError, match="unknown table format"):
        table_format("z.txt")


def test_laion_parquet_with_upper_case_columns():
    data = _parquet(
        [
            {"URL": "https://img.example/a.jpg", "TEXT": "A red  bicycle\nleaning on a wall",
             "WIDTH": 640, "HEIGHT": 480, "similarity": 0.33},
            {"URL": "ftp://img.example/b.jpg", "TEXT": "an ftp image", "WIDTH": 1, "HEIGHT": 1,
             "similarity": 0.4},
            {"URL": None, "TEXT": "no url here", "WIDTH": 1, "HEIGHT": 1, "similarity": 0.4},
            {"URL": "https://img.example/c.jpg", "TEXT": "  ", "WIDTH": 1, "HEIGHT": 1,
             "similarity": 0.4},
        ]
    )  # fmt: skip
    cfg = CaptionReadConfig()
    out = [
        r if isinstance(r, DeadLetter) else caption_document(r, cfg)
        for r in iter_rows(data, "laion/part-00000.parquet")
    ]
    doc = out[0]
    assert isinstance(doc, Document)
    assert [s.is_image for s in doc.segments] == [True, False]
    assert doc.text == "A red bicycle leaning on a wall"  # whitespace normalised
    assert doc.images[0].url == "https://img.example/a.jpg"
    assert (doc.images[0].width, doc.images[0].height) == (640, 480)
    assert doc.images[0].alt == doc.text
    assert doc.meta["similarity"] == pytest.approx(0.33)
    assert doc.provenance.warc_file == "laion/part-00000.parquet" and doc.provenance.offset == 0
    assert [(d.stage, d.reason) for d in out[1:]] == [
        ("read", "bad_url"),
        ("read", "missing_url"),
        ("read", "missing_caption"),
    ]
    # ids are stable and distinct per row
    again = caption_document(next(iter(iter_rows(data, "laion/part-00000.parquet"))), cfg)
    assert again.id == doc.id


def test_headerless_tsv_with_named_columns_and_bad_rows():
    tsv = "a dog running on the beach\thttps://x/1.jpg\nonly one field\n"
    rows = list(iter_rows(tsv.encode(), "cc3m.tsv", ("caption", "url")))
    assert not isinstance(rows[0], DeadLetter) and rows[0].fields["url"] == "https://x/1.jpg"
    assert isinstance(rows[1], DeadLetter) and rows[1].reason == "bad_row"


def test_jsonl_gz_text_corpus_and_dead_letters():
    lines = [
        json.dumps({"text": "The first document.", "meta": {"pile_set_name": "Pile-CC"}}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"text": ""}),
        json.dumps({"text": "Second one.", "url": "https://e.org/2", "id": 7}),
    ]
    data = gzip.compress("\n".join(lines).encode())
    cfg = TextReadConfig()
    out = [
        r if isinstance(r, DeadLetter) else text_document(r, cfg)
        for r in iter_rows(data, "pile/00.jsonl.gz")
    ]
    assert [type(o).__name__ for o in out] == [
        "Document", "DeadLetter", "DeadLetter", "DeadLetter", "Document"
    ]  # fmt: skip
    assert [o.reason for o in out if isinstance(o, DeadLetter)] == [
        "bad_row", "bad_row", "missing_text"
    ]  # fmt: skip
    assert out[0].meta["source_meta"] == {"pile_set_name": "Pile-CC"}
    assert out[4].provenance.url == "https://e.org/2"
    assert not out[0].images and out[0].text == "The first document."


def test_unreadable_files_raise_table_error():
    with pytest.raises(TableError, match="not a Parquet file"):
        list(iter_rows(b"garbage", "x.parquet"))
    with pytest.raises(TableError, match="bad gzip"):
        list(iter_rows(b"not gzip", "x.jsonl.gz"))


@pytest.mark.parametrize(
    ("caption", "sim", "size", "reason"),
    [
        ("two words", None, None, "caption_too_short"),
        (" ".join(["word"] * 78), None, None, "caption_too_long"),
        ("a fine caption here", 0.1, None, "low_clip_similarity"),
        ("a fine caption here", 0.35, (100, 400), "image_too_small"),
        ("a fine caption here", 0.35, (400, 300), None),
        ("a fine caption here", None, None, None),
    ],
)
def test_caption_filter_reasons(caption, sim, size, reason):
    row = {"url": "https://x/1.jpg", "caption": caption}
    if sim is not None:
        row["similarity"] = sim
    if size:
        row["width"], row["height"] = size
    (r,) = iter_rows(json.dumps(row).encode(), "c.jsonl")
    doc = caption_document(r, CaptionReadConfig())
    assert check_caption(doc, CaptionFilterConfig()) == reason


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match=r"CaptionFilterConfig\.min_words"):
        CaptionFilterConfig(min_words=5, max_words=2)
    with pytest.raises(ValueError, match=r"CaptionReadConfig\.url_column"):
        CaptionReadConfig(url_column="")


def test_text_records_are_split_into_paragraph_nodes_for_the_quality_stage():
    """A 1,200-word article is judged as an article: the node rule ``too_many_words``
    (OBELICS: 1,000 words per node) applies to a paragraph, not to the whole record."""
    import random

    from kosmos_data.filters.quality import QualityConfig, judge
    from kosmos_samples.crawl import _english_paragraphs

    paras = _english_paragraphs(random.Random(5), 12, 1200)
    text = "\n\n \n".join(paras)
    assert len(text.split()) > QualityConfig().node_max_words
    (r,) = iter_rows(json.dumps({"text": text}).encode(), "t.jsonl")
    doc = text_document(r, TextReadConfig())
    assert [s.text for s in doc.segments] == paras
    assert doc.text == "\n\n".join(paras)
    verdict, removed = judge(doc, QualityConfig())
    assert verdict is None and not removed.get("too_many_words")
