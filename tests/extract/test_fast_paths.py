"""Fast extractor: the merged queries and walks of the speed-up give what the separate
selectors gave (expected values are those of the extractor before it; bench/extract_same.py
compares whole outputs on the real pages)."""

from __future__ import annotations

from kosmos_data.extract import ExtractConfig, make_extractor

from .conftest import make_page

L = "This paragraph is the main content of the article and it is long enough. " * 4


def _extract(html: str):
    return make_extractor(ExtractConfig()).extract(make_page(html))


def _urls(doc) -> list[str]:
    return [img.url for img in doc.images]


def test_base_href_in_body_is_found_when_head_has_none():
    # <head>'s <base> has no href; the first <base href> in document order is in <body>.
    doc = _extract(
        "<html><head><base target=_blank></head><body><base href='https://c.test/y/'>"
        f"<p>{L}</p><img src='a.jpg' width=400 height=300><p>{L}</p>"
        "<base href='https://d.test/'></body></html>"
    )
    assert _urls(doc) == ["https://c.test/y/a.jpg"]


def test_base_href_in_head_comes_first():
    doc = _extract(
        "<html><head><base href='https://b.test/x/'></head><body><base href='https://c.test/y/'>"
        f"<p>{L}</p><img src='a.jpg' width=400 height=300><p>{L}</p></body></html>"
    )
    assert _urls(doc) == ["https://b.test/x/a.jpg"]


def test_noscript_unwrap_next_to_junk_placeholder():
    # The placeholder sits in a <button> (junk): after the unwrap the junk is looked up again.
    doc = _extract(
        f"<html><body><p>{L}</p><button><img src='data:image/gif;base64,R0l'></button>"
        "<noscript><img src='https://g.test/real.jpg' width=400 height=300></noscript>"
        f"<img alt=nourl><p>{L}</p></body></html>"
    )
    assert _urls(doc) == ["https://g.test/real.jpg"]
    assert doc.meta["image_drops"] == {"missing_src": 1}


def test_main_with_role_main_is_one_root_candidate():
    doc = _extract(
        f"<html><body><div><p>Outside text, not in the main element. {L}</p></div>"
        f"<main role=main><p>{L}</p><p>{L}</p><p>{L}</p></main></body></html>"
    )
    assert "Outside" not in doc.text and doc.text.count("main content") == 3 * 4


def test_article_with_role_main_is_the_root():
    doc = _extract(
        f"<html><body><article role=main><p>{L}</p><p>{L}</p></article>"
        f"<article><p>Second article text. {L}</p></article></body></html>"
    )
    assert "Second article" not in doc.text and doc.text.count("main content") == 2 * 4


def test_hidden_attributes_match_exactly():
    # aria-hidden=TRUE is not the selector's value "true": the text stays; [hidden] goes.
    doc = _extract(
        f"<html><body><p>{L}</p><span aria-hidden=true></span><div aria-hidden=TRUE>"
        f"<p>Shown: aria-hidden is matched exactly. {L}</p></div>"
        "<div hidden><p>Hidden short text.</p></div></body></html>"
    )
    assert "Shown:" in doc.text and "Hidden short" not in doc.text
