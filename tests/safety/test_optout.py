"""Page-level AI opt-outs: each signal on a real page, in a WARC, through the interleaved job."""

from __future__ import annotations

import io
import json
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from kosmos_data.outputs import read_parquet_dir
from kosmos_data.records import Provenance, RawPage
from kosmos_data.safety.decisions import page_safety
from kosmos_data.safety.optout import OptOutConfig, page_optout, robots_directives
from kosmos_data.stages import OptOutStep
from kosmos_data.warc import iter_records

HTML_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "html" / "html_text"
PAGE = "A Light in the Attic | Books to Scrape - Sandbox.html"


def real_page() -> bytes:
    p = HTML_DIR / PAGE
    assert p.is_file(), f"missing {p} (../shared/data/html)"
    return p.read_bytes()


def with_meta(html: bytes, tag: str) -> bytes:
    i = html.lower().index(b"<head>") + len(b"<head>")
    return html[:i] + b"\n" + tag.encode() + html[i:]


def cases() -> dict[str, tuple[list[tuple[str, str]], bytes, str | None]]:
    """name -> (extra response headers, body, expected optout reason or None)."""
    html = real_page()
    return {
        "header_noai": ([("X-Robots-Tag", "noai")], html, "noai_header"),
        "header_scoped": ([("X-Robots-Tag", "kosmos-data: noai, noimageai")], html, "noai_header"),
        "header_other_bot": ([("X-Robots-Tag", "otherbot: noai")], html, None),
        "header_noimageai": ([("X-Robots-Tag", "noindex"), ("X-Robots-Tag", "noimageai")], html,
                             "noimageai_header"),
        "meta_noai": ([], with_meta(html, '<meta name="robots" content="noai">'), "noai_meta"),
        "meta_agent": ([], with_meta(html, "<META NAME='kosmos-data' CONTENT='NoImageAI'>"),
                       "noimageai_meta"),
        "meta_tdm": ([], with_meta(html, '<meta name="tdm-reservation" content="1">\n'
                     '<meta name="tdm-policy" content="https://books.test/tdm-policy.json">'),
                     "tdm_reservation_meta"),
        "header_tdm": ([("tdm-reservation", "1"),
                        ("Link", '<https://books.test/policy>; rel="tdm-policy"')], html,
                       "tdm_reservation_header"),
        "tdm_zero": ([("tdm-reservation", "0")],
                     with_meta(html, '<link rel="tdm-policy" href="https://books.test/p">'), None),
        "control": ([], html, None),
    }  # fmt: skip


def write_warc(path: Path) -> dict[str, str]:
    urls = {}
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=True)
        for name, (headers, body, _) in cases().items():
            url = f"https://books.test/{name}.html"
            urls[url] = name
            http = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8"), *headers],
                protocol="HTTP/1.1",
            )  # fmt: skip
            rec = w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
            w.write_record(rec)
    return urls


def test_each_signal_gives_its_reason_from_the_archived_record(tmp_path):
    warc = tmp_path / "optout.warc.gz"
    urls = write_warc(warc)
    step = OptOutStep(OptOutConfig())
    got = {}
    with open(warc, "rb") as f:
        for page in iter_records(f, str(warc)):
            if isinstance(page, RawPage) and page.record_type == "response":
                got[urls[page.provenance.url]] = step(page)
    expected = {n: c[2] for n, c in cases().items()}
    assert {n: o.verdict for n, o in got.items()} == expected
    assert got["header_tdm"].detail == "tdm-reservation: 1; tdm-policy https://books.test/policy"
    assert got["meta_tdm"].detail.endswith("tdm-policy https://books.test/tdm-policy.json")
    assert got["header_scoped"].detail == "X-Robots-Tag: kosmos-data: noai, noimageai"
    # a text-only job keeps a noimageai page (its images are not needed)
    text_job = OptOutStep(OptOutConfig(images_required=False))
    with open(warc, "rb") as f:
        pages = {urls[p.provenance.url]: p for p in iter_records(f, str(warc))
                 if isinstance(p, RawPage) and p.record_type == "response"}  # fmt: skip
    assert text_job(pages["header_noimageai"]).verdict is None
    assert text_job(pages["header_noai"]).verdict == "noai_header"
    # the inspect view of one page
    view = page_safety(pages["meta_tdm"])
    assert view["optout"]["reason"] == "tdm_reservation_meta"
    assert view["optout"]["tdm_policy"] == "https://books.test/tdm-policy.json"
    assert view["optout"]["removes_page"] and not view["optout"]["removes_images"]
    assert page_safety(pages["control"])["optout"] is None


def test_x_robots_tag_scoping():
    tokens = ("kosmos-data",)
    assert robots_directives(["noai"], tokens) == {"noai"}
    assert robots_directives(["Kosmos-Data: NoAI"], tokens) == {"noai"}
    assert robots_directives(["googlebot: noindex, noai"], tokens) == set()
    assert robots_directives(["googlebot: noindex, kosmos-data: noimageai"], tokens) == {
        "noimageai"}  # fmt: skip
    assert robots_directives(["unavailable_after: 25 Jun 2010 15:00:00 PST, noai"], tokens) == {
        "unavailable_after: 25 jun 2010 15:00:00 pst", "noai"}  # fmt: skip
    # meta tags after </head> are not read; an opt-out needs no page parse
    late = b"<html><head><title>x</title></head><body><meta name=robots content=noai></body>"
    assert page_optout([], late) is None
    assert page_optout([], late.replace(b"</head>", b"")).reason == "noai_meta"


def test_interleaved_job_drops_opted_out_pages_with_the_signal(tmp_path):
    from tests.beam.conftest import load_funnel, run_interleaved

    warc = tmp_path / "in" / "optout.warc.gz"
    warc.parent.mkdir()
    urls = write_warc(warc)
    out = tmp_path / "run"
    run_interleaved([str(warc)], out)
    rows = read_parquet_dir(str(out / "dropped")).to_pylist()
    by_name = {urls[r["url"]]: r for r in rows}
    for name, (_, _, reason) in cases().items():
        row = by_name.get(name)
        if reason is None:  # not an opt-out: kept, or dropped later for another reason
            assert row is None or row["stage"] != "optout", (name, row)
        else:
            assert (row["stage"], row["reason"]) == ("optout", reason), name
    assert by_name["header_tdm"]["detail"].endswith("tdm-policy https://books.test/policy")
    funnel = load_funnel(out)
    assert funnel["balanced"]
    assert funnel["safety"]["optout"] == {
        "noai_header": 2, "noai_meta": 1, "noimageai_header": 1, "noimageai_meta": 1,
        "tdm_reservation_header": 1, "tdm_reservation_meta": 1,
    }  # fmt: skip
    row = next(s for s in funnel["stages"] if s["stage"] == "optout")
    assert row["dropped"] == 7 and row["in"] - row["out"] == 7
    assert json.loads(json.dumps(funnel["safety"])) == funnel["safety"]


def test_disabled_step_keeps_everything():
    page = RawPage(Provenance("x", "<r>", 0, "https://a.test/", ""), "response", 200,
                   "text/html", None, b"<head><meta name=robots content=noai></head>",
                   headers=(("X-Robots-Tag", "noai"),))  # fmt: skip
    assert OptOutStep(OptOutConfig(enabled=False))(page).verdict is None
    assert OptOutStep(OptOutConfig())(page).verdict == "noai_header"
