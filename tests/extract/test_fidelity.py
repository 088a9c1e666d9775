"""Fidelity (trafilatura) extractor: ordered segments and shared image rules."""

from __future__ import annotations

from kosmos_data.extract import ExtractConfig, make_extractor

from .conftest import make_page

PARA = "This is a long paragraph of real article content that trafilatura should keep. " * 3

HTML = f"""<html><head><title>Fidelity Test</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About us page link</a></nav>
<article><h1>Article heading</h1>
<p>Opening paragraph. {PARA}</p>
<p><img src="/media/first.jpg" alt="First figure"></p>
<p>Second paragraph. {PARA}</p>
<p><img src="data:image/png;base64,AAAA" alt="inline"></p>
<p><img src="/media/site-logo.png" alt="logo"></p>
<p><img src="/media/second.jpg" alt="Second figure"></p>
<p>Closing paragraph. {PARA}</p>
</article>
<footer>Copyright notice of the footer</footer></body></html>"""


def test_fidelity_interleaves_text_and_images():
    doc = make_extractor(ExtractConfig(mode="fidelity")).extract(make_page(HTML))
    assert doc.extractor == "fidelity"
    kinds = ["img" if s.is_image else "text" for s in doc.segments]
    assert kinds == ["text", "img", "text", "img", "text"]
    assert [i.url for i in doc.images] == [
        "https://example.org/media/first.jpg",
        "https://example.org/media/second.jpg",
    ]
    assert doc.images[0].alt == "First figure"
    assert "Opening paragraph." in doc.segments[0].text
    assert "Second paragraph." in doc.segments[2].text
    assert "Closing paragraph." in doc.segments[4].text
    assert "Copyright notice" not in doc.text
    drops = doc.meta["image_drops"]
    assert drops.get("icon_or_logo") == 1
    assert drops.get("data_uri", 0) + drops.get("in_boilerplate", 0) >= 1
    assert doc.meta["title"] in ("Fidelity Test", "Article heading")  # trafilatura may prefer h1
