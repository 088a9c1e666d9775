"""``FetchImages`` on the DirectRunner: every image outcome, dedup, decontamination, the
join back into documents, the status Parquet, a rerun that re-fetches only what failed, and
shards that the webdataset-based reader reads back."""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from kosmos_data.beam.images import FetchImages
from kosmos_data.beam.runner import make_pipeline
from kosmos_data.images import ImageConfig
from kosmos_data.images.status import read_status
from kosmos_data.records import Document, ImageRef, Provenance, Segment
from kosmos_data.shards import ShardConfig, interleaved_sample, iter_samples, write_local
from kosmos_samples.image_server import ImageServer, Route
from kosmos_samples.photos import photos_dir, solid, variant

_SINK: dict[str, list] = {}


def _append(x, name: str) -> None:
    _SINK[name].append(x)


def _collect(name: str):
    """In-process DirectRunner only: a module-level function is pickled by reference."""
    _SINK[name] = []
    return beam.Map(_append, name)


PATHS = {
    "A": "/photos/rocket.jpg", "B": "/404.jpg", "C": "/photos/chelsea.png", "D": "/stall.jpg",
    "E": "/noai.jpg", "F": "/photos/coffee.png", "G": "/copies/coffee.png",
    "H": "/near/coffee.jpg", "I": "/private/astronaut.png", "J": "/photos/hubble_deep_field.jpg",
    "K": "/corrupt.jpg", "L": "/small.png", "M": "/photos/motorcycle_left.png",
}  # fmt: skip
DOCS = {
    "d1": ["t", "A", "t", "B", "C"],
    "d2": ["t", "D", "E"],
    "d3": ["t", "A", "M"],
    "d4": ["F", "t", "G"],
    "d5": ["t", "H", "I", "J", "K", "L"],
    "d6": ["t"],
}


def script(server: ImageServer) -> None:
    p = server.photos
    server.routes["/404.jpg"] = Route.not_found()
    server.routes["/stall.jpg"] = Route.stall(3.0)
    server.routes["/noai.jpg"] = Route.noai(p["rocket.jpg"])
    server.routes["/copies/coffee.png"] = Route(200, p["coffee.png"], content_type="image/png")
    server.routes["/near/coffee.jpg"] = Route(200, variant(p["coffee.png"], 0.8, 75))
    server.routes["/corrupt.jpg"] = Route.corrupt()
    server.routes["/small.png"] = Route(200, solid(120, 90), content_type="image/png")


def documents(server: ImageServer) -> list[Document]:
    out = []
    for doc_id, items in DOCS.items():
        prov = Provenance("x.warc.gz", f"<urn:{doc_id}>", 0, f"https://site.test/{doc_id}", "")
        segs = [
            Segment(text=f"{doc_id} paragraph {i}.")
            if it == "t"
            else Segment(image=ImageRef(server.url(PATHS[it]), alt=it))
            for i, it in enumerate(items)
        ]
        out.append(Document(doc_id, prov, segs, "fast"))
    return out


def run(docs, config: ImageConfig, out) -> dict[str, list]:
    (out / "image_status").mkdir(parents=True, exist_ok=True)
    with make_pipeline(PipelineOptions([])) as p:
        res = p | beam.Create(docs) | "FetchImages" >> FetchImages(config, str(out))
        _ = res["kept"] | "K" >> _collect("kept")
        _ = res["dropped"] | "D" >> _collect("dropped")
        _ = res["stats"] | "S" >> _collect("stats")
    return {k: list(v) for k, v in _SINK.items()}


def sums(stats) -> dict:
    out: dict = {}
    for key, n in stats:
        out[key] = out.get(key, 0) + n
    return out


@pytest.fixture
def eval_dir(tmp_path):
    d = tmp_path / "eval"
    d.mkdir()
    hubble = (photos_dir() / "hubble_deep_field.jpg").read_bytes()
    (d / "vqa_000042.jpg").write_bytes(variant(hubble, 0.5, 85))
    return d


def test_outcomes_dedup_decontam_status_and_rerun(tmp_path, eval_dir):
    with ImageServer(photos_dir()) as server:
        script(server)
        cfg = ImageConfig(
            allow_private_addresses=True, timeout_s=1.0, retries=1, retry_backoff_s=0,
            eval_images=str(eval_dir), status_shards=2, batch_size=8,
        )  # fmt: skip
        got = run(documents(server), cfg, tmp_path / "run1")

        kept = {d.id: d for d in got["kept"]}
        assert sorted(kept) == ["d1", "d3", "d4", "d6"]
        urls = {v: k for k, v in PATHS.items()}

        def letters(doc):
            return [
                "t" if s.image is None else urls[s.image.url.split(str(server.port), 1)[1]]
                for s in doc.segments
            ]

        assert letters(kept["d1"]) == ["t", "A", "t", "C"]  # B (404) left, order kept
        assert letters(kept["d3"]) == ["t", "M"]  # A: same image already in d1
        assert letters(kept["d4"]) == ["F", "t"]  # G: same bytes as F
        assert letters(kept["d6"]) == ["t"]  # no images: passes through
        a = kept["d1"].segments[1].image.fetched
        assert (a.reason, a.width, a.height, a.original_width, a.original_height) == (
            "ok", 224, 224, 640, 427)  # fmt: skip
        assert kept["d1"].meta["images"] == {"kept": 2, "dropped": {"http_error": 1}}

        dropped = {d.document.id: d for d in got["dropped"]}
        assert sorted(dropped) == ["d2", "d5"]
        assert {d.stage for d in dropped.values()} == {"images"}
        assert {d.reason for d in dropped.values()} == {"no_images_after_fetch"}
        assert dropped["d2"].detail == "timeout=1, x_robots_tag=1"

        s = sums(got["stats"])
        image_dropped = {k[2]: n for k, n in s.items() if k[0] == "image_dropped"}
        assert image_dropped == {
            "http_error": 1, "timeout": 1, "x_robots_tag": 1, "duplicate_sha256": 2,
            "duplicate_phash": 1, "robots_disallowed": 1, "decontaminated": 1,
            "undecodable": 1, "too_small": 1,
        }  # fmt: skip
        assert s[("images_kept", "images", "")] == 4
        fetches = {k[2]: n for k, n in s.items() if k[0] == "image_fetch"}
        assert sum(fetches.values()) == 13 and fetches["ok"] == 7

        rows = {r["url"].split(str(server.port), 1)[1]: r for r in read_status(tmp_path / "run1")}
        assert len(rows) == 13
        ra = rows[PATHS["A"]]
        assert (ra["reason"], ra["occurrences"], ra["kept_occurrences"]) == ("ok", 2, 1)
        assert ra["doc_ids"] == ["d1", "d3"] and ra["image"] and ra["resize_key"]
        assert (rows[PATHS["G"]]["fetch_reason"], rows[PATHS["G"]]["reason"]) == (
            "ok", "duplicate_sha256")  # fmt: skip
        assert rows[PATHS["J"]]["reason"] == "decontaminated"
        assert "vqa_000042.jpg" in rows[PATHS["J"]]["detail"]
        assert rows[PATHS["H"]]["reason"] == "duplicate_phash"
        assert (rows[PATHS["B"]]["reason"], rows[PATHS["B"]]["http_status"]) == ("http_error", 404)
        assert rows[PATHS["D"]]["attempts"] == 2 and rows[PATHS["D"]]["image"] is None
        assert rows[PATHS["I"]]["reason"] == "robots_disallowed"

        # The shard writer reads these documents back (texts None at image positions).
        samples = [interleaved_sample(d) for d in kept.values() if d.images]
        write_local(str(tmp_path / "shards"), "interleaved", samples, ShardConfig(groups=1))
        back = {s.key: s for s in iter_samples(str(tmp_path / "shards"))}
        assert back["d1"].texts[1] is None and back["d1"].texts[3] is None
        assert len(back["d1"].images) == 2 and back["d1"].images[0].meta["original_width"] == 640

        # Rerun from the status: ok fetches are reused, failures fetched again; the 404 is
        # fixed meanwhile, so d1 now keeps three images.
        server.routes["/404.jpg"] = Route(200, server.photos["astronaut.png"])
        before = {p: server.hits(p) for p in PATHS.values()}
        cfg2 = dataclasses.replace(cfg, status_from=str(tmp_path / "run1"))
        got2 = run(documents(server), cfg2, tmp_path / "run2")
        refetched = {k for k, p in PATHS.items() if server.hits(p) > before[p]}
        assert refetched == {"B", "D", "E", "K", "L"}  # I: refused by robots.txt, no request
        kept2 = {d.id: d for d in got2["kept"]}
        assert letters(kept2["d1"]) == ["t", "A", "t", "B", "C"]
        rows2 = {r["url"].split(str(server.port), 1)[1]: r for r in read_status(tmp_path / "run2")}
        assert rows2[PATHS["A"]]["reused"] and not rows2[PATHS["B"]]["reused"]
        assert rows2[PATHS["A"]]["image"] == ra["image"]
        s2 = sums(got2["stats"])
        assert s2[("image_fetch", "images", "reused")] == 7


def test_generated_crawl_end_to_end_with_local_server(tmp_path):
    """Generated crawl -> interleaved job with --fetch-images against the local server
    (through --image-mirror): every image outcome lands where the script says."""
    from kosmos_samples.crawl import SampleCrawlConfig, generate_crawl, read_manifest
    from kosmos_samples.image_server import image_id_of
    from tests.beam.conftest import run_interleaved

    crawl = tmp_path / "crawl"
    generate_crawl(crawl, SampleCrawlConfig(num_pages=60, num_files=1, seed=11))
    pages = read_manifest(crawl / "manifest.jsonl")
    ids = sorted({im["image_id"] for p in pages if p["kind"] == "good" for im in p["images"]})
    behaviours = {"http_error": Route.not_found(), "timeout": Route.stall(4.0),
                  "undecodable": Route.corrupt()}  # fmt: skip
    scripted = {}
    for i, image_id in enumerate(ids[:40]):
        reason = ("http_error", "timeout", "undecodable", "x_robots_tag", None)[i % 5]
        if reason:
            scripted[image_id] = reason
    robots = "User-agent: *\nDisallow: /media.photohost.test/\n"
    with ImageServer(photos_dir(), robots_txt=robots, unique_crawl_images=True) as server:
        for image_id, reason in scripted.items():
            route = behaviours.get(reason) or Route.noai(server.photos["rocket.jpg"])
            server.by_id[image_id] = route
        out = tmp_path / "run"
        funnel = run_interleaved(
            [str(crawl / "*.warc.gz")], out, "--fetch-images", "--allow-private-addresses",
            "--image-mirror", server.mirror_base, "--image-timeout", "1.5",
            "--image-retries", "0", "--image-threads", "8",
        )  # fmt: skip
    assert funnel["balanced"] is True
    rows = read_status(out)
    assert rows and len({r["url"] for r in rows}) == len(rows)
    for r in rows:
        image_id = image_id_of(r["url"])
        if "media.photohost.test" in r["url"]:
            want = {"robots_disallowed"}
        elif image_id in scripted:
            want = {scripted[image_id]}
        else:
            want = {"ok", "duplicate_sha256", "duplicate_phash"}
        assert r["reason"] in want, (r["url"], r["reason"], r["error"])
    by_reason: dict[str, int] = {}
    for r in rows:
        by_reason[r["fetch_reason"]] = by_reason.get(r["fetch_reason"], 0) + 1
    assert funnel["images"]["fetch_by_reason"] == by_reason
    want_reasons = {"ok", "robots_disallowed", "http_error", "timeout", "undecodable"}
    assert want_reasons | {"x_robots_tag"} <= set(by_reason)
    # occurrences: the images stage's drops + kept equal the images that entered it
    images_row = next(s for s in funnel["stages"] if s["stage"] == "images")
    dropped_images = {
        k: v for k, v in funnel["images"]["dropped_by_reason"].items()
        if k in {"http_error", "timeout", "undecodable", "x_robots_tag", "robots_disallowed",
                 "duplicate_sha256", "duplicate_phash"}
    }  # fmt: skip
    occurrences = sum(r["occurrences"] for r in rows)
    assert funnel["images"]["kept"] + sum(dropped_images.values()) == occurrences
    assert funnel["images"]["kept"] == sum(r["kept_occurrences"] for r in rows)
    assert images_row["reasons"].get("no_images_after_fetch", 0) == images_row["dropped"] > 0
    assert images_row["out"] == funnel["kept"] > 0
    assert funnel["beam_counters"]["kosmos_data.images/images_kept"] == funnel["images"]["kept"]
