"""pHash near-duplicate bands, evaluation index, and the corpus-level decisions."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from kosmos_data.images import ImageConfig, ImageFetcher
from kosmos_data.images.corpus import (
    OccurrenceOutcome,
    RebuildStep,
    UrlResult,
    decontaminate,
    exact_dedup,
    near_duplicates,
    rebuild_document,
)
from kosmos_data.images.phash import (
    EvalIndex,
    bands,
    hamming,
    phash_bytes,
    to_hex,
    write_hash_file,
)
from kosmos_data.records import Document, FetchedImage, ImageRef, Provenance, Segment
from kosmos_samples.photos import photos_dir, variant


@pytest.fixture(scope="module")
def fetcher():
    f = ImageFetcher(ImageConfig())
    f.setup()
    return f


@pytest.mark.parametrize("threshold", [0, 3, 4, 7])
def test_bands_find_every_pair_within_threshold(threshold):
    """Pigeonhole: hashes within the threshold share at least one band exactly."""
    rng = random.Random(threshold)
    for _ in range(300):
        a = rng.getrandbits(64)
        b = a
        for bit in rng.sample(range(64), rng.randint(0, threshold)):
            b ^= 1 << bit
        assert hamming(a, b) <= threshold
        assert set(bands(a, threshold)) & set(bands(b, threshold))
    widths = [64 // (threshold + 1) + (i < 64 % (threshold + 1)) for i in range(threshold + 1)]
    assert sum(widths) == 64


def test_resized_copies_are_near_and_different_photos_are_far(fetcher):
    photos = {p.name: p.read_bytes() for p in sorted(photos_dir().iterdir())}
    hashes = {n: phash_bytes(fetcher.resize(d)) for n, d in photos.items()}
    for name, data in photos.items():
        for scale, q in ((0.8, 70), (0.6, 90)):
            copy = phash_bytes(fetcher.resize(variant(data, scale, q)))
            assert hamming(copy, hashes[name]) <= 4, name
    for a, b in itertools.combinations(sorted(hashes), 2):
        assert hamming(hashes[a], hashes[b]) > 12, (a, b)


def test_eval_index_from_directory_and_hash_file(tmp_path, fetcher):
    evald = tmp_path / "eval"
    (evald / "coco").mkdir(parents=True)
    rocket = (photos_dir() / "rocket.jpg").read_bytes()
    (evald / "coco" / "000001.jpg").write_bytes(variant(rocket, 0.7))
    (evald / "notes.txt").write_text("not an image")
    key = fetcher.config.resize_key
    index = EvalIndex.from_path(str(evald), 4, fetcher.resize, key)
    assert index.names == ["coco/000001.jpg"]
    match = index.match(phash_bytes(fetcher.resize(rocket)))
    assert match is not None and match[0] == "coco/000001.jpg"
    chelsea = (photos_dir() / "chelsea.png").read_bytes()
    assert index.match(phash_bytes(fetcher.resize(chelsea))) is None
    hf = tmp_path / "eval.phash"
    write_hash_file({n: int(h) for n, h in zip(index.names, index.hashes, strict=True)}, hf, key)
    assert EvalIndex.from_path(str(hf), 4, fetcher.resize, key).names == index.names
    with pytest.raises(ValueError, match="same resize"):
        EvalIndex.from_path(str(hf), 4, fetcher.resize, "512/border/jpg95")


def img(url: str, sha: str = "s", phash: int = 0) -> FetchedImage:
    return FetchedImage(url, "ok", 200, 1, b"jpg", sha256=sha, phash=to_hex(phash))


def test_exact_dedup_keeps_first_occurrence_in_doc_order():
    a = UrlResult("http://a/x.jpg", img("http://a/x.jpg"), [("d2", 1), ("d9", 3)], "ok")
    b = UrlResult("http://b/x.jpg", img("http://b/x.jpg"), [("d1", 5)], "ok")
    rep, dropped = exact_dedup([a, b])
    assert (rep.url, rep.occurrences) == ("http://b/x.jpg", [("d1", 5)])
    assert sorted((o.url, o.doc_id, o.verdict) for o in dropped) == [
        ("http://a/x.jpg", "d2", "duplicate_sha256"),
        ("http://a/x.jpg", "d9", "duplicate_sha256"),
    ]


def test_near_duplicates_drop_later_items_only():
    bucket = [(("d3", 1), to_hex(0b111), "u3"), (("d1", 1), to_hex(0b1), "u1"),
              (("d2", 1), to_hex(0xFFFF << 40), "u2")]  # fmt: skip
    assert near_duplicates(bucket, 2) == [("u3", "u1")]


def test_decontaminate_marks_matches():
    index = EvalIndex({"coco/1.jpg": 0xFF}, 2)
    near = decontaminate(UrlResult("u", img("u", phash=0xFC), [("d", 0)], "ok"), index)
    far = decontaminate(UrlResult("v", img("v", phash=0xF0F0), [("d", 1)], "ok"), index)
    assert near.verdict == "decontaminated" and "coco/1.jpg" in near.detail
    assert far.verdict == "ok"


def test_rebuild_keeps_order_and_counts():
    prov = Provenance("f.warc.gz", "r", 0, "https://p.test/a", "2025-01-01")
    segs = [Segment(text="t0"), Segment(image=ImageRef("u1")), Segment(text="t1"),
            Segment(image=ImageRef("u2")), Segment(image=ImageRef("u3"))]  # fmt: skip
    doc = Document("d", prov, segs, "fast")
    outs = [OccurrenceOutcome("u1", "d", 1, "ok", img("u1")),
            OccurrenceOutcome("u2", "d", 3, "timeout"),
            OccurrenceOutcome("u3", "d", 4, "ok", img("u3"))]  # fmt: skip
    r = rebuild_document(doc, outs)
    assert [s.text or s.image.url for s in r.document.segments] == ["t0", "u1", "t1", "u3"]
    assert r.document.segments[1].image.fetched.url == "u1"
    assert (r.kept, r.dropped) == (2, {"timeout": 1})
    assert r.document.meta["images"] == {"kept": 2, "dropped": {"timeout": 1}}
    assert doc.segments[1].image.fetched is None  # the input is not mutated
    with pytest.raises(ValueError, match="no image outcome"):
        rebuild_document(doc, outs[:1])


def test_rebuild_step_answers_outcome_per_document():
    prov = Provenance("f.warc.gz", "r", 0, "https://p.test/a", "2025-01-01")
    doc = Document("d", prov, [Segment(text="t"), Segment(image=ImageRef("u1")),
                               Segment(image=ImageRef("u2"))], "fast")  # fmt: skip
    ok, lost = img("u1"), OccurrenceOutcome("u2", "d", 2, "timeout")
    step = RebuildStep(nsfw_document_threshold=0.8)
    kept = step((doc, [OccurrenceOutcome("u1", "d", 1, "ok", ok), lost]))
    assert kept.verdict is None and [i.url for i in kept.record.images] == ["u1"]
    assert kept.counters == {("image_dropped", "images", "timeout"): 1,
                             ("images_kept", "images", ""): 1}  # fmt: skip
    none = step((doc, [OccurrenceOutcome("u1", "d", 1, "http_error"), lost]))
    assert (none.verdict, none.detail) == ("no_images_after_fetch", "http_error=1, timeout=1")
    assert none.record is doc  # dropped/ keeps the document as it came
    porn = dataclasses.replace(ok, nsfw_score=0.9)
    nsfw = step((doc, [OccurrenceOutcome("u1", "d", 1, "ok", porn), lost]))
    assert nsfw.verdict == "nsfw_document" and "u1 nsfw score 0.9 > 0.8" in nsfw.detail
    assert ("images_kept", "images", "") not in nsfw.counters and nsfw.record is doc
    text_only = Document("t", prov, [Segment(text="t")], "fast")
    assert step((text_only, [])).kept((text_only, [])) is text_only
