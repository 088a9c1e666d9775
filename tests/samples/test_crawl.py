"""The generated sample crawl is deterministic, readable by both WARC libraries, and says truthfully
what each page is (the manifest is what every other test trusts)."""

from __future__ import annotations

import collections
import gzip
import hashlib
import re
from pathlib import Path

import pytest

from kosmos_samples.crawl import (
    DEFAULT_MIX,
    KINDS,
    OUTCOMES,
    SampleCrawlConfig,
    expected_manifest,
    expected_record_counts,
    generate_crawl,
    read_manifest,
)

SMALL = SampleCrawlConfig(num_pages=120, num_files=2, seed=3)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], SampleCrawlConfig]:
    cfg = SampleCrawlConfig()
    return generate_crawl(tmp_path_factory.mktemp("crawl"), cfg), cfg


def _digest(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_byte_identical_across_runs(tmp_path: Path) -> None:
    a = generate_crawl(tmp_path / "a", SMALL)
    b = generate_crawl(tmp_path / "b", SMALL)
    assert [p.name for p in a] == ["sample-00000.warc.gz", "sample-00001.warc.gz"]
    assert _digest(a) == _digest(b)
    assert (tmp_path / "a/manifest.jsonl").read_bytes() == (
        tmp_path / "b/manifest.jsonl"
    ).read_bytes()
    c = generate_crawl(tmp_path / "c", SampleCrawlConfig(num_pages=120, seed=4))
    assert _digest(a) != _digest(c)


def test_warcio_reads_everything(crawl: tuple[list[Path], SampleCrawlConfig]) -> None:
    from warcio.archiveiterator import ArchiveIterator

    paths, cfg = crawl
    counts = expected_record_counts(cfg)
    manifest = {m.record_id: m for m in expected_manifest(cfg)}
    for p in paths:
        n = 0
        types = collections.Counter()
        with open(p, "rb") as f:
            for rec in ArchiveIterator(f):
                n += 1
                types[rec.rec_type] += 1
                if rec.rec_type == "response":
                    spec = manifest[rec.rec_headers.get_header("WARC-Record-ID")]
                    assert rec.rec_headers.get_header("WARC-Target-URI") == spec.url
                    if spec.http_status is not None:
                        assert int(rec.http_headers.get_statuscode()) == spec.http_status
        assert n == counts[p.name]
        assert types["warcinfo"] == 1
        assert types["request"] == types["response"] == types["metadata"]


def test_fastwarc_reads_everything_and_digests_verify(
    crawl: tuple[list[Path], SampleCrawlConfig],
) -> None:
    from fastwarc.warc import ArchiveIterator

    paths, cfg = crawl
    counts = expected_record_counts(cfg)
    for p in paths:
        n = 0
        with open(p, "rb") as f:
            for rec in ArchiveIterator(f, parse_http=True):
                n += 1
                if rec.headers.get("WARC-Payload-Digest"):
                    assert rec.verify_payload_digest()
        assert n == counts[p.name]
        with open(p, "rb") as f:  # the block digest covers the HTTP headers: don't parse them
            for rec in ArchiveIterator(f, parse_http=False):
                if rec.headers.get("WARC-Block-Digest"):
                    assert rec.verify_block_digest()


def test_every_record_is_its_own_gzip_member(crawl: tuple[list[Path], SampleCrawlConfig]) -> None:
    paths, cfg = crawl
    data = paths[0].read_bytes()
    # mtime=0 and one member per record: the member header repeats once per record.
    assert (
        data.count(b"\x1f\x8b\x08\x00\x00\x00\x00\x00")
        >= expected_record_counts(cfg)[paths[0].name]
    )
    assert gzip.decompress(data).startswith(b"WARC/1.1\r\nWARC-Type: warcinfo\r\n")


def test_kind_proportions_follow_the_mix() -> None:
    m = expected_manifest(SampleCrawlConfig())
    counts = collections.Counter(p.kind for p in m)
    for kind, w in DEFAULT_MIX:
        assert abs(counts[kind] - w * 400) <= 1, (kind, counts[kind])
    assert set(counts) == set(KINDS)
    good = [p for p in m if p.kind == "good"]
    single = sum(len(p.images) == 1 for p in good)
    many = sum(len(p.images) > 5 for p in good)
    assert 0.25 <= single / len(good) <= 0.35
    assert many >= 10
    assert all(p.expect in OUTCOMES and set(p.accept) <= set(OUTCOMES) for p in m)
    assert all(p.expect in p.accept for p in m)
    assert [p.index for p in m] == list(range(400))
    assert len({p.url for p in m}) == 400


def test_mix_is_configurable() -> None:
    m = expected_manifest(SampleCrawlConfig(num_pages=20, mix=(("good", 1.0),)))
    assert {p.kind for p in m} == {"good"}


def test_config_validation_names_the_field() -> None:
    for kwargs, name in [
        ({"num_pages": 0}, "num_pages"),
        ({"num_files": 0}, "num_files"),
        ({"page_kb": -1}, "page_kb"),
        ({"seed": -1}, "seed"),
        ({"base_url": "ftp://x/"}, "base_url"),
        ({"mix": (("bogus", 1.0),)}, "mix"),
        ({"mix": (("duplicate", 1.0),)}, "mix"),
    ]:
        with pytest.raises(ValueError, match=name):
            SampleCrawlConfig(**kwargs)


def _payloads(path: Path) -> dict[str, bytes]:
    from warcio.archiveiterator import ArchiveIterator

    out = {}
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type == "response":
                out[rec.rec_headers.get_header("WARC-Record-ID")] = rec.content_stream().read()
    return out


def test_pages_contain_what_the_manifest_says(crawl: tuple[list[Path], SampleCrawlConfig]) -> None:
    paths, cfg = crawl
    payloads: dict[str, bytes] = {}
    for p in paths:
        payloads.update(_payloads(p))
    manifest = expected_manifest(cfg)
    for spec in manifest:
        body = payloads[spec.record_id]
        if spec.kind == "no_image":
            assert b"<img" not in body.lower()
        if spec.kind in ("good", "non_english", "near_duplicate", "duplicate"):
            text = body.decode("utf-8")
            assert b"<img" in body
            for img in spec.images:
                assert img.image_id in text
                assert img.width >= 200 and img.height >= 200
                assert all(img.image_id in u for u in img.candidates)
            assert 'id="cookie-consent"' in text and 'class="comments"' in text
            assert "pixel.tracker.test/p.gif?id=" in text
            assert "/icons/share-twitter.png" in text
        if spec.kind == "good":
            assert 1 <= len(spec.images) <= 8 and 4 <= len(spec.paragraphs) <= 15
            assert spec.word_count >= 150
        if spec.kind == "legacy_charset":
            text = body.decode(spec.charset)
            assert all(p[:20] in text for p in spec.paragraphs)
            if spec.charset_source == "meta":
                assert f"charset={spec.charset}" in text
                with pytest.raises(UnicodeDecodeError):
                    body.decode("utf-8")
        if spec.kind == "duplicate":
            src = manifest[spec.duplicate_of]
            assert body == payloads[src.record_id] and spec.url != src.url
            assert spec.paragraphs == src.paragraphs
        if spec.kind == "near_duplicate":
            src = manifest[spec.duplicate_of]
            a, b = " ".join(spec.paragraphs).split(), " ".join(src.paragraphs).split()
            assert len(a) == len(b) and 0 < sum(x != y for x, y in zip(a, b, strict=True)) <= 6


def test_corrupt_tail_is_truncated(tmp_path: Path) -> None:
    """Both readers hand out the cut record silently; only its length and digest give it away."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    cfg = SampleCrawlConfig(num_pages=30, include_corrupt_tail=True)
    paths = generate_crawl(tmp_path, cfg)
    with open(paths[-1], "rb") as f:
        recs = [
            (r.record_type, r.verify_block_digest()) for r in ArchiveIterator(f, parse_http=False)
        ]
    assert recs[-1] == (WarcRecordType.response, False)
    assert all(ok for _, ok in recs[1:-1])
    with pytest.raises(EOFError):
        gzip.decompress(paths[-1].read_bytes())
    last = read_manifest(tmp_path / "manifest.jsonl")[-1]
    assert last["corrupt_tail"] and last["expect"] == "dead_letter"


@pytest.mark.parametrize("page_kb", [100, 200])
def test_page_kb_pads_html_pages(tmp_path: Path, page_kb: int) -> None:
    cfg = SampleCrawlConfig(num_pages=60, page_kb=page_kb, seed=1)
    paths = generate_crawl(tmp_path, cfg)
    payloads: dict[str, bytes] = {}
    for p in paths:
        payloads.update(_payloads(p))
    padded = [m for m in expected_manifest(cfg) if m.kind in ("good", "no_image", "non_english")]
    assert padded
    for m in padded:
        size = len(payloads[m.record_id])
        assert 0.9 * page_kb * 1024 <= size <= 1.1 * page_kb * 1024, (m.kind, size)
        if m.kind == "no_image":
            assert b"<img" not in payloads[m.record_id].lower()
    # Same main content as the unpadded crawl.
    small = expected_manifest(SampleCrawlConfig(num_pages=60, seed=1))
    assert [m.paragraphs for m in small] == [m.paragraphs for m in expected_manifest(cfg)]


# --- text quality -------------------------------------------------------------------------------

_STOP = {"the", "be", "to", "of", "and", "that", "have", "with"}


def _gopher_ok(text: str) -> bool:
    """The Gopher quality rules that a generator can get wrong (Rae et al. 2021, appendix A)."""
    words = text.split()
    if not 50 <= len(words) <= 100_000:
        return False
    if not 3 <= sum(map(len, words)) / len(words) <= 10:
        return False
    if len(_STOP & {w.lower().strip(".,?!") for w in words}) < 2:
        return False
    if (text.count("#") + text.count("...")) / len(words) > 0.1:
        return False
    chars = sum(map(len, words))
    for n, limit in ((2, 0.20), (3, 0.18), (4, 0.16)):
        grams = collections.Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
        gram, count = grams.most_common(1)[0]
        if count > 1 and sum(map(len, gram)) * count / chars > limit:
            return False
    for n, limit in ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)):
        grams = collections.Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
        dup = [False] * len(words)
        for i in range(len(words) - n + 1):
            if grams[tuple(words[i : i + n])] > 1:
                dup[i : i + n] = [True] * n
        if sum(len(w) for w, d in zip(words, dup, strict=True) if d) / chars > limit:
            return False
    return True


def test_gopher_rules_pass_on_good_and_fail_on_spam() -> None:
    m = expected_manifest(SampleCrawlConfig())
    for spec in m:
        text = "\n".join(spec.paragraphs)
        if spec.kind in ("good", "no_image"):
            assert _gopher_ok(text), spec.index
            assert all(re.search(r"[.!?]$", p) for p in spec.paragraphs)
        if spec.kind == "low_quality" and spec.quality_rule in (
            "gopher_repetition",
            "gopher_min_words",
            "gopher_symbol_ratio",
        ):
            assert not _gopher_ok(text), (spec.index, spec.subkind)


def _lid_model():
    # The model ships in kosmos_data/assets and fasttext-numpy2 (the module) is a declared
    # dependency: a missing one is a broken install, which must fail here, not skip.
    import fasttext

    from kosmos_data.filters.langid import default_model_path

    return fasttext.load_model(default_model_path())


def test_fasttext_identifies_the_languages() -> None:
    model = _lid_model()
    worst = {}
    for spec in expected_manifest(SMALL):
        if spec.lang not in ("en", "de", "fr") or not spec.paragraphs:
            continue
        if spec.kind == "low_quality":
            continue
        text = " ".join(spec.paragraphs).replace("\n", " ")
        (label,), (score,) = model.predict(text)
        assert label == f"__label__{spec.lang}", (spec.index, spec.kind, label)
        worst[spec.lang] = min(worst.get(spec.lang, 1.0), score)
    assert worst["en"] > 0.8 and worst["de"] > 0.8 and worst["fr"] > 0.8, worst
