"""Deduplication's per-document decisions answer ``Outcome`` like every other step
(Beam-free): the reasons, the kept id in the detail, the image counters and ``Dropped``."""

from __future__ import annotations

from kosmos_data.dedup import (
    DUPLICATE_IMAGE_SET,
    DUPLICATE_TEXT,
    DUPLICATE_URL,
    NEAR_DUPLICATE,
    NO_IMAGES_AFTER_DEDUP,
    STAGE_IMAGES,
    STAGE_NEAR,
    STAGE_TEXT,
    STAGE_URL,
    STAGES,
    DedupConfig,
)
from kosmos_data.dedup.components import rank_key
from kosmos_data.dedup.images import BOILERPLATE_IMAGE
from kosmos_data.dedup.steps import (
    BoilerplateImagesStep,
    DuplicateStep,
    dedup_steps,
    keep_min_rank,
)
from kosmos_data.dedup.urlnorm import normalize_url
from kosmos_data.funnel import IMAGE_DROPPED
from kosmos_data.records import Document, ImageRef, Provenance, Segment
from kosmos_data.stages import dropped_of, funnel_stages, run_steps

LOGO = "https://cdn.test/logo.png"
BOILER = [normalize_url(LOGO)]  # the grouping hands each document normalised image URLs


def _doc(doc_id: str, text: str, images: list[str]) -> Document:
    prov = Provenance("w.warc.gz", f"<urn:{doc_id}>", 0, f"https://s.test/{doc_id}", "")
    segs = [Segment(text=text), *(Segment(image=ImageRef(u)) for u in images)]
    return Document(doc_id, prov, segs, "fast")


def test_duplicate_step_keeps_or_drops_with_the_kept_id():
    step = DuplicateStep(STAGE_NEAR, NEAR_DUPLICATE)
    doc = _doc("a", "some text", [])
    kept = step((doc, None))
    assert kept.verdict is None and kept.kept((doc, None)) is doc and not kept.counters
    dropped = step((doc, "b"))
    assert (dropped.verdict, dropped.detail) == (NEAR_DUPLICATE, "kept=b")
    assert dropped.kept((doc, "b")) is None
    d = dropped_of(step.name, (doc, "b"), dropped)  # what ApplyStep emits
    assert (d.stage, d.reason, d.detail) == (STAGE_NEAR, NEAR_DUPLICATE, "kept=b")
    assert d.document is doc and d.provenance is doc.provenance


def test_boilerplate_step_strips_counts_and_drops_documents_left_without_images():
    step = BoilerplateImagesStep(10)
    both = _doc("a", "text", [LOGO, "https://img.test/a.jpg"])
    out = step((both, BOILER))
    assert out.verdict is None and [i.url for i in out.record.images] == ["https://img.test/a.jpg"]
    assert out.counters == {(IMAGE_DROPPED, STAGE_IMAGES, BOILERPLATE_IMAGE): 1}
    assert len(both.images) == 2  # the input is not modified
    only_logo = _doc("b", "text", [LOGO, LOGO])
    out = step((only_logo, BOILER))
    assert (out.verdict, out.detail) == (NO_IMAGES_AFTER_DEDUP, "removed=2")
    assert out.counters == {(IMAGE_DROPPED, STAGE_IMAGES, BOILERPLATE_IMAGE): 2}
    d = dropped_of(step.name, (only_logo, BOILER), out)
    assert d.document is out.record and not d.document.images  # dropped/ shows what was left
    text_only = _doc("c", "text", [])
    assert step((text_only, BOILER)).kept((text_only, BOILER)) is text_only  # never dropped
    untouched = step((both, []))
    assert untouched.record is both and not untouched.counters


def test_keep_min_rank_keeps_one_per_group_and_names_it():
    rich = _doc("rich", "longer text here", ["https://img.test/1.jpg"])
    poor = _doc("poor", "text", [])
    again = _doc("rich", "longer text here", ["https://img.test/1.jpg"])  # read twice
    members = [(rank_key(d), d) for d in (poor, rich, again)]
    assert [(d.id, k) for d, k in keep_min_rank(members)] == [
        ("rich", None), ("poor", "rich"), ("rich", "rich"),
    ]  # fmt: skip
    assert list(keep_min_rank([])) == []


def test_steps_run_as_a_chain_like_any_other():
    doc = _doc("a", "text", [])
    counters: dict = {}
    res = run_steps([DuplicateStep(STAGE_URL, DUPLICATE_URL)], (doc, "z"), counters)
    assert res.record is None and res.dropped.reason == DUPLICATE_URL
    assert res.dropped.document is doc and res.dropped.detail == "kept=z"


def test_dedup_steps_follow_the_config_and_name_every_stage():
    every = dedup_steps(DedupConfig())
    assert [(s.name, getattr(s, "reason", None)) for s in every] == [
        (STAGE_URL, DUPLICATE_URL), (STAGE_TEXT, DUPLICATE_TEXT), (STAGE_IMAGES, None),
        (STAGE_IMAGES, DUPLICATE_IMAGE_SET), (STAGE_NEAR, NEAR_DUPLICATE),
    ]  # fmt: skip
    assert funnel_stages(every) == STAGES  # one funnel row per stage
    assert [s.name for s in dedup_steps(DedupConfig(url=False, near=False))] == [
        STAGE_TEXT, STAGE_IMAGES, STAGE_IMAGES,
    ]  # fmt: skip
    no_boilerplate = dedup_steps(DedupConfig(image_url_max_pages=0, image_sets=False))
    assert not any(s.name == STAGE_IMAGES for s in no_boilerplate)
