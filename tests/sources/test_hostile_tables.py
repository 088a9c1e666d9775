"""Bad caption tables (issue 10): every row counted, bad rows and groups dead-lettered."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kosmos_data.records import DeadLetter, Document
from kosmos_data.sources import (
    CaptionReadConfig,
    TextReadConfig,
    caption_document,
    iter_rows,
    text_document,
    url_problem,
)


def _rows(data: bytes, name: str, columns: tuple[str, ...] = ()):
    return list(iter_rows(data, name, columns))


def _table(n: int, quote_row: int | None = None, sep: str = "\t") -> bytes:
    lines = [f"url{sep}caption"]
    for i in range(n):
        caption = f"a photo of thing {i}"
        if i == quote_row:
            caption = f'"a stray quote {i}'
        lines.append(f"http://img.test/{i}.jpg{sep}{caption}")
    return ("\n".join(lines) + "\n").encode()


def test_tsv_stray_quote_swallows_no_rows():
    rows = _rows(_table(10, quote_row=3), "cc.tsv")
    assert len(rows) == 10 and all(not isinstance(r, DeadLetter) for r in rows)
    assert rows[3].fields["caption"] == '"a stray quote 3'
    assert [r.index for r in rows] == list(range(10))


def test_csv_stray_quote_swallows_no_rows_but_multiline_fields_still_parse():
    rows = _rows(_table(10, quote_row=3, sep=","), "cc.csv")
    assert len(rows) == 10 and all(not isinstance(r, DeadLetter) for r in rows)
    assert rows[4].fields["url"] == "http://img.test/4.jpg"
    legit = b'url,caption\nhttp://a.test/1.jpg,"two\nlines"\nhttp://a.test/2.jpg,plain\n'
    rows = _rows(legit, "x.csv")
    assert [r.fields["caption"] for r in rows] == ["two\nlines", "plain"]


def _two_group_parquet(n: int = 1000, binary: bool = False) -> bytes:
    urls = [f"http://img.test/{i}.jpg" for i in range(2 * n)]
    caps = [f"a photo of thing number {i}" for i in range(2 * n)]
    cap_col = pa.array([c.encode() for c in caps], pa.binary()) if binary else pa.array(caps)
    table = pa.table({"url": urls, "caption": cap_col})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=n, compression="snappy")
    return buf.getvalue()


def test_parquet_corrupt_row_group_costs_only_that_group():
    data = bytearray(_two_group_parquet())
    meta = pq.ParquetFile(io.BytesIO(bytes(data))).metadata
    col = meta.row_group(1).column(0)
    start = col.data_page_offset
    for k in range(start, start + col.total_compressed_size):
        data[k] ^= 0x5A
    rows = _rows(bytes(data), "laion.parquet")
    assert len(rows) == 2000  # 1,000 readable rows + 1,000 dead letters (counted from the footer)
    good = [r for r in rows if not isinstance(r, DeadLetter)]
    dead = [r for r in rows if isinstance(r, DeadLetter)]
    assert len(good) == 1000 and [r.index for r in good] == list(range(1000))
    assert len(dead) == 1000 and {d.reason for d in dead} == {"unreadable_row_group"}
    assert [d.provenance.offset for d in dead] == list(range(1000, 2000))


def test_binary_caption_column_is_decoded_as_utf8():
    rows = _rows(_two_group_parquet(5, binary=True), "laion.parquet")
    docs = [caption_document(r, CaptionReadConfig()) for r in rows]
    assert all(isinstance(d, Document) for d in docs)
    assert docs[0].text == "a photo of thing number 0"
    rows = _rows(_two_group_parquet(5, binary=True), "t.parquet")
    doc = text_document(rows[0], TextReadConfig(text_field="caption"))
    assert isinstance(doc, Document) and doc.text == "a photo of thing number 0"


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/x.jpg",  # urlsplit: ValueError("Invalid IPv6 URL")
        "http://host:99999/x.jpg",  # port out of range
        "http://host:abc/x.jpg",
        "http://img.test/\xff.jpg",
        "http://img.test/\ufffd.jpg",
        "http://img.test/a b.jpg",
        "http://img.test/\x00.jpg",
        "http:///x.jpg",
        "ftp://img.test/x.jpg",
    ],
)
def test_unparseable_or_unsendable_caption_urls_are_bad_url(url):
    row = next(iter(_rows(f"url\tcaption\n{url}\ta fine caption here\n".encode(), "t.tsv")))
    dead = caption_document(row, CaptionReadConfig())
    assert isinstance(dead, DeadLetter) and dead.reason == "bad_url", dead
    assert url_problem(url)


def test_a_good_url_has_no_problem():
    assert url_problem("https://img.test/a%20b.jpg?x=1#y") is None


def test_truncated_gzip_table_keeps_the_rows_before_the_cut():
    import gzip as gz

    data = gz.compress(_table(2000))
    rows = _rows(data[: len(data) // 2], "cc.tsv.gz")
    good = [r for r in rows if not isinstance(r, DeadLetter)]
    dead = [r for r in rows if isinstance(r, DeadLetter)]
    assert len(good) > 100 and [r.index for r in good] == list(range(len(good)))
    assert good[-1].fields["caption"] == f"a photo of thing {len(good) - 1}"  # not a cut line
    assert [d.reason for d in dead] == ["truncated_table"]


def test_jsonl_rows_split_on_newlines_only_and_deep_nesting_is_a_bad_row():
    lines = [
        '{"text": "one\\u2028two", "id": 1}'.replace("\\u2028", "\u2028"),
        '{"text": "form\\ffeed", "id": 2}'.replace("\\f", "\f"),
        '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"text": "last", "id": 4}',
    ]
    rows = _rows(("\n".join(lines) + "\n").encode(), "pile.jsonl")
    assert len(rows) == 4
    assert rows[0].fields["text"] == "one\u2028two"
    assert isinstance(rows[1], DeadLetter)  # a raw form feed is invalid JSON: one bad row
    assert isinstance(rows[2], DeadLetter) and rows[2].reason == "bad_row"
    assert rows[3].fields["text"] == "last"
