"""Image URL choice and drop rules (shared by both extractors)."""

from __future__ import annotations

from kosmos_data.extract.images import ImageCollector, page_base_url, parse_srcset, pick_srcset

BASE = "https://example.org/a/b/page.html"


def test_srcset_width_picks_largest_not_above_cap():
    ss = "s.jpg 320w, m.jpg 800w, l.jpg 1024w, xl.jpg 2048w"
    assert pick_srcset(ss, 1024) == "l.jpg"
    assert pick_srcset("xl.jpg 2048w, xxl.jpg 4096w", 1024) == "xl.jpg"


def test_srcset_density_picks_highest_and_handles_commas_in_urls():
    assert pick_srcset("a.jpg, b.jpg 2x, c.jpg 1.5x", 1024) == "b.jpg"
    cands = parse_srcset("https://cdn.x/img,w_100/a.jpg 100w, https://cdn.x/img,w_900/a.jpg 900w")
    assert [c[0] for c in cands] == [
        "https://cdn.x/img,w_100/a.jpg",
        "https://cdn.x/img,w_900/a.jpg",
    ]


def test_base_href_resolution():
    assert page_base_url(BASE, "/static/") == "https://example.org/static/"
    assert page_base_url("<https://x.org/p>", None) == "https://x.org/p"
    c = ImageCollector(page_base_url(BASE, "https://cdn.example.net/assets/"))
    ref = c.consider({"src": "img/photo.jpg"})
    assert ref is not None and ref.url == "https://cdn.example.net/assets/img/photo.jpg"


def test_relative_protocol_relative_and_root_relative():
    c = ImageCollector(BASE)
    assert c.consider({"src": "photo.jpg"}).url == "https://example.org/a/b/photo.jpg"
    assert c.consider({"src": "../up.jpg"}).url == "https://example.org/a/up.jpg"
    assert c.consider({"src": "//cdn.x.org/p.jpg"}).url == "https://cdn.x.org/p.jpg"
    assert c.consider({"src": "/root.jpg"}).url == "https://example.org/root.jpg"


def test_lazy_attributes_win_over_placeholder_src():
    c = ImageCollector(BASE)
    ref = c.consider({"src": "data:image/gif;base64,R0lGOD", "data-src": "/real.jpg", "alt": "A"})
    assert ref is not None and ref.url == "https://example.org/real.jpg"
    assert ref.source == "data-src" and ref.alt == "A"
    ref = c.consider({"src": "/blank.gif", "data-srcset": "/r1.jpg 400w, /r2.jpg 900w"})
    assert ref is not None and ref.url == "https://example.org/r2.jpg"


def test_picture_source_used():
    c = ImageCollector(BASE)
    ref = c.consider(
        {"src": "/fallback.jpg", "alt": "cat"},
        [{"type": "image/svg+xml", "srcset": "/v.svg"}, {"srcset": "/p-600.webp 600w"}],
    )
    assert ref is not None and ref.url == "https://example.org/p-600.webp"
    assert ref.source == "picture"


def test_drop_reasons_are_counted():
    c = ImageCollector(BASE)
    assert c.consider({"src": "data:image/png;base64,AAAA"}) is None
    assert c.consider({"src": "javascript:void(0)"}) is None
    assert c.consider({"src": "/t.gif", "width": "1", "height": "1"}) is None
    assert c.consider({"src": "https://www.google-analytics.com/collect?v=1"}) is None
    assert c.consider({"src": "/img/site-logo.png"}) is None
    assert c.consider({"src": "/img/photo.jpg", "class": "wp-smiley icon"}) is None
    assert c.consider({"src": "/images/spacer.gif"}) is None
    assert c.consider({"src": "/img/photo2.jpg", "width": "40", "height": "40"}) is None
    assert c.consider({"src": "/u/avatar-123.jpg"}) is None
    assert c.consider({"src": "/d/diagram.svg"}) is None
    assert c.consider({}) is None
    assert c.consider({"src": "/ok.jpg"}) is not None
    assert c.consider({"src": "https://example.org/ok.jpg"}) is None
    assert dict(c.drops) == {
        "data_uri": 1,
        "bad_scheme": 1,
        "tracking_pixel": 2,
        "icon_or_logo": 2,
        "spacer": 1,
        "too_small_declared": 1,
        "avatar": 1,
        "svg": 1,
        "missing_src": 1,
        "duplicate_in_page": 1,
    }


def test_declared_size_from_style_and_threshold_is_configurable():
    c = ImageCollector(BASE, min_px=100)
    assert c.consider({"src": "/a.jpg", "style": "width: 80px; height:200px"}) is None
    assert c.drops["too_small_declared"] == 1
    ref = c.consider({"src": "/b.jpg", "width": "300", "height": "200px"})
    assert ref is not None and (ref.width, ref.height) == (300, 200)


def test_photo_with_descriptive_alt_is_kept():
    c = ImageCollector(BASE)
    ref = c.consider({"src": "/p/flagship-store.jpg", "alt": "A flag on a star-shaped pole"})
    assert ref is not None
