"""Tests for kosmos_data.decode."""

from __future__ import annotations

import os

import pytest

from kosmos_data.decode import DecodeError, decode_html, normalize_charset
from kosmos_data.records import Provenance, RawPage

FR = "Le café est très agréable — «bonjour», naïve façade, cœur, œuvre, déjà vu. " * 20
RU = "Привет, мир! Это тестовая страница на русском языке, довольно длинная строка. " * 20
JA = "日本語のテキストです。これはテストページです。東京都の天気は晴れです。" * 20


def page(payload: bytes, http_charset: str | None = None) -> RawPage:
    prov = Provenance("f", "<urn:uuid:1>", 0, "http://a.com/", "2024-01-01T00:00:00Z")
    return RawPage(prov, "response", 200, "text/html", http_charset, payload)


def html(body: str, head: str = "") -> str:
    return (
        f"<!doctype html><html><head>{head}<title>t</title></head><body><p>{body}</p></body></html>"
    )


def test_http_charset_wins_over_meta():
    data = html(FR, '<meta charset="utf-8">').encode("cp1252")
    out = decode_html(page(data, "windows-1252"))
    assert (out.charset, out.charset_source) == ("cp1252", "http")
    assert "café" in out.html


def test_meta_used_when_http_missing():
    for head in (
        '<meta charset="koi8-r">',
        '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=KOI8-R">',
    ):
        out = decode_html(page(html(RU, head).encode("koi8-r")))
        assert (out.charset, out.charset_source) == ("koi8-r", "meta")
        assert "Привет" in out.html


@pytest.mark.parametrize(
    ("text", "codec", "expected"),
    [(FR, "cp1252", "cp1252"), (RU, "koi8-r", "koi8-r"), (JA, "shift_jis", "cp932")],
)
def test_detection_without_declarations(text, codec, expected):
    out = decode_html(page(html(text).encode(codec)))
    assert out.charset_source == "detected"
    assert out.charset == expected
    assert text[:20] in out.html


def test_bogus_label_falls_through():
    out = decode_html(page(html(FR, '<meta charset="utf-8">').encode(), "x-bogus-charset"))
    assert (out.charset, out.charset_source) == ("utf-8", "meta")


def test_lying_declaration_is_skipped():
    out = decode_html(page(html(FR).encode("cp1252"), "utf-8"))
    assert out.charset_source != "http" and "café" in out.html


def test_latin1_means_windows_1252():
    assert normalize_charset("ISO-8859-1") == "cp1252"
    assert normalize_charset(" 'latin-1' ") == "cp1252"
    assert normalize_charset("us-ascii") == "cp1252"
    assert normalize_charset("nonsense") is None
    out = decode_html(page(html("smart “quotes” €").encode("cp1252"), "iso-8859-1"))
    assert "“quotes” €" in out.html


def test_bom_wins():
    data = "\ufeff".encode("utf-16-le") + html(FR).encode("utf-16-le")
    out = decode_html(page(data, "iso-8859-1"))
    assert out.charset == "utf-16-le" and out.html.startswith("<!doctype")
    out = decode_html(page(b"\xef\xbb\xbf" + html(FR).encode()))
    assert out.charset == "utf-8" and out.html.startswith("<!doctype")


def test_default_utf8():
    out = decode_html(page(b"<html><body>plain ascii</body></html>"))
    assert out.charset_source in ("detected", "default")
    assert out.html == "<html><body>plain ascii</body></html>"


def test_binary_garbage_raises():
    with pytest.raises(DecodeError) as e:
        decode_html(page(b"\x89PNG\r\n\x1a\n" + os.urandom(20_000)))
    assert e.value.reason == "undecodable_payload"
    with pytest.raises(DecodeError):
        decode_html(page(b"\x00" * 5000, "utf-8"))
