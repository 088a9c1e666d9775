"""Tests for kosmos_data.prefilter."""

from __future__ import annotations

import io
import random
from collections import Counter
from pathlib import Path

import pytest

from kosmos_data.prefilter import (
    PrefilterConfig,
    html_depth,
    html_depth_reference,
    looks_like_html,
    prefilter,
)
from kosmos_data.records import KEEP, DeadLetter, Provenance, RawPage
from kosmos_data.warc import iter_records

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "warc"
HTML = b"<!DOCTYPE html><html><body><p>hi</p><IMG SRC='a.png'></body></html>"


def page(
    payload=HTML,
    *,
    rtype="response",
    status=200,
    mime="text/html",
    url="http://a.com/x",
    truncated=False,
):
    prov = Provenance("f.warc.gz", "<urn:uuid:1>", 0, url, "2024-01-01T00:00:00Z")
    return RawPage(prov, rtype, status, mime, None, payload, truncated)


CFG = PrefilterConfig()


def test_keeps_html_with_image():
    assert prefilter(page(), CFG) is KEEP


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"rtype": "request"}, "not_response"),
        ({"rtype": "revisit"}, "not_response"),
        ({"status": 404}, "http_status"),
        ({"status": None}, "http_status"),
        ({"mime": "application/pdf"}, "not_html"),
        ({"mime": None, "payload": b"%PDF-1.4 <img"}, "not_html"),
        ({"payload": b""}, "empty_payload"),
        ({"payload": HTML + b"x" * 2_000_000}, "payload_too_large"),
        ({"payload": b"<html><body><p>no images, <image> is svg</p></body></html>"}, "no_img_tag"),
    ],
)
def test_drop_reasons(kwargs, reason):
    assert prefilter(page(**kwargs), CFG) == reason


def test_sniffs_html_without_content_type():
    assert prefilter(page(mime=None, payload=b"\xef\xbb\xbf  <!-- c -->\n" + HTML), CFG) is KEEP
    assert looks_like_html(b"\n<html lang=en>")
    assert not looks_like_html(b"GIF89a")


def test_resource_record_without_status_is_allowed():
    assert prefilter(page(rtype="resource", status=None), CFG) is KEEP


def test_truncated_optional():
    assert prefilter(page(truncated=True), CFG) is KEEP
    cfg = PrefilterConfig(drop_truncated=True)
    assert prefilter(page(truncated=True), cfg) == "truncated_payload"


def test_blocklist_suffixes(tmp_path):
    f = tmp_path / "block.txt"
    f.write_text("# comment\nbad.org\n\nEvil.COM  # trailing\n")
    cfg = PrefilterConfig(url_blocklist=("spam.net",), url_blocklist_file=str(f))
    assert prefilter(page(url="http://spam.net/"), cfg) == "url_blocklisted"
    assert prefilter(page(url="https://a.b.spam.net:8080/x"), cfg) == "url_blocklisted"
    assert prefilter(page(url="http://WWW.EVIL.com./"), cfg) == "url_blocklisted"
    assert prefilter(page(url="http://bad.org.example/"), cfg) is KEEP
    assert prefilter(page(url="http://notspam.net/"), cfg) is KEEP
    assert prefilter(page(url="http://[::1"), cfg) is KEEP  # unparsable URL: not blocked


def test_config_validation(tmp_path):
    with pytest.raises(ValueError, match="allowed_statuses"):
        PrefilterConfig(allowed_statuses=())
    with pytest.raises(ValueError, match="max_payload_bytes"):
        PrefilterConfig(max_payload_bytes=0)
    with pytest.raises(ValueError, match="url_blocklist_file"):
        PrefilterConfig(url_blocklist_file=str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="url_blocklist"):
        PrefilterConfig(url_blocklist="spam.net")


def test_on_real_files():
    verdicts = Counter()
    for path in sorted(DATA.glob("*/*")):
        for item in iter_records(io.BytesIO(path.read_bytes()), path.name):
            if not isinstance(item, DeadLetter):
                verdicts[prefilter(item, CFG)] += 1
    assert verdicts["not_response"] > 0 and verdicts[KEEP] > 0
    assert sum(verdicts.values()) - verdicts[KEEP] > verdicts[KEEP]  # most are dropped


def test_scan_of_a_large_page_without_images():
    # Its cost per page is measured by bench/read.py (no timed assertions in tests).
    big = page(payload=b"<html><body>" + b"<p>lorem ipsum dolor</p>" * 6000 + b"</body></html>")
    assert len(big.payload) > 140_000
    assert prefilter(big, CFG) == "no_img_tag"


def _nested(depth: int, tag: bytes = b"div") -> bytes:
    return (
        b"<html><body><img src=a.png>"
        + b"<%s>" % tag * depth
        + b"deep"
        + b"</%s>" % tag * depth
        + b"</body></html>"
    )


def test_deeply_nested_html_is_dropped_before_any_parser_sees_it():
    # 100,000 nested <div>: lexbor took 159 s on it (issue 10); the byte scan is one regex.
    assert prefilter(page(_nested(100_000)), PrefilterConfig()) == "html_too_deep"
    assert prefilter(page(_nested(2049, b"span")), PrefilterConfig()) == "html_too_deep"
    assert prefilter(page(_nested(2048)), PrefilterConfig()) is KEEP
    assert prefilter(page(_nested(600)), PrefilterConfig(max_html_depth=512)) == "html_too_deep"


def test_flat_pages_with_many_tags_are_not_deep():
    # Void elements, optional end tags (<p>, <li>, <td>) and self-closing SVG children do not
    # nest, however many there are.
    many = b"".join(
        b"<p>x<br><img src=%d.png><li>y<td>z<path d='M0'/><input>" % i for i in range(5000)
    )
    body = b"<html><body><svg>" + many + b"</svg></body></html>"
    assert html_depth(body, 2048) <= 2
    assert prefilter(page(body), PrefilterConfig()) is KEEP


def test_html_depth_on_real_pages_is_small():
    depths = []
    for path in sorted(DATA.glob("dolma/*.warc.gz")):
        with path.open("rb") as f:
            for rec in iter_records(f, path.name):
                if isinstance(rec, RawPage) and rec.mime_type == "text/html":
                    depths.append(html_depth(rec.payload, 50))  # exact up to 50
    assert len(depths) == 37 and 5 < max(depths) <= 50, max(depths)


def test_vectorised_depth_equals_the_tag_scan_on_real_pages():
    # The numpy walk must find exactly the tags ``_TAG_RE.finditer`` finds, on every real
    # page the shared crawls hold, at limits below, near and above their depths.
    pages = []
    for path in sorted(DATA.glob("*/*.warc.gz")):
        with path.open("rb") as f:
            pages += [r.payload for r in iter_records(f, path.name) if isinstance(r, RawPage)]
    assert len(pages) > 60
    for payload in pages:
        for limit in (3, 20, 50, 2048):
            assert html_depth(payload, limit) == html_depth_reference(payload, limit)


def test_vectorised_depth_equals_the_tag_scan_on_random_markup():
    # Fragments that stress the scan's corners: "<" inside a tag, "</" without a name,
    # names of 8 and 9 bytes (the skip list's longest is 8), upper case, "/>", no ">".
    parts = b'< > / div p br a x DIV <!-- --> </ colgroup basefonts 1 - : " img /> Td'.split()
    parts.append(b" ")
    rng = random.Random(12)
    for _ in range(20_000):
        s = b"".join(rng.choice(parts) for _ in range(rng.randint(0, 80)))
        for limit in (0, 1, 2, 5):
            assert html_depth(s, limit) == html_depth_reference(s, limit), (s, limit)
