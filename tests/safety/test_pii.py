"""PII placeholders: planted addresses and numbers replaced, look-alikes untouched."""

from __future__ import annotations

from kosmos_data.records import Document, ImageRef, Provenance, Segment
from kosmos_data.safety.pii import PiiConfig, redact
from kosmos_data.stages import PiiStep

PLANTED = (
    "Write to jane.doe+news@mail.example.co.uk or to o'brien@uni-bonn.de for details. "
    "Our server 81.2.69.160 went down; the backup is at 145.97.39.155. "
    "Call (415) 555-2671, 415-555-2671, 415.555.2671, 1-800-555-0199, +44 20 7946 0958 "
    "or +33 1 42 68 53 00."
)
LOOK_ALIKES = (
    "Release v2.10.3 (version 1.2.3.4, build 2.4.10.1, 10.0.19041.1) shipped on 2024-12-01 "
    "and on 12.01.2024 at 12:30:45. ISBN 978-3-16-148410-0 and 0-306-40615-2, price "
    "$1,299.99 or 1.299,99 EUR, pi 3.14159, coordinates 51.5074, -0.1278. LAN hosts "
    "192.168.1.20, 10.0.0.1 and 127.0.0.1; the doc example 203.0.113.5; order 123-456-7890; "
    "x1.2.3.45 and 1.22.33.44.55; user@localhost; 5 + 3 = 8; room +12."
)


def test_planted_pii_replaced_with_stable_placeholders():
    text, counts = redact(PLANTED)
    assert counts == {"email": 2, "ip": 2, "phone": 6}
    for planted in ("jane.doe", "o'brien", "81.2.69.160", "145.97.39.155", "555-2671",
                    "7946", "42 68 53"):  # fmt: skip
        assert planted not in text
    assert text.count("email@example.com") == 2
    assert text.count("192.0.2.1") == 2
    assert text.count("555-0100") == 6
    assert text.startswith("Write to email@example.com or to email@example.com for details.")
    # stable: the same input gives the same output, and a second pass finds nothing
    assert redact(PLANTED)[0] == text
    assert redact(text) == (text, {"email": 0, "ip": 0, "phone": 0})


def test_look_alikes_untouched():
    text, counts = redact(LOOK_ALIKES)
    assert text == LOOK_ALIKES
    assert counts == {"email": 0, "ip": 0, "phone": 0}


def test_configurable_kinds_and_off():
    text, counts = redact(PLANTED, PiiConfig(phones=False, ip_placeholder="0.0.0.0"))
    assert counts == {"email": 2, "ip": 2, "phone": 0} and "415-555-2671" in text
    assert "0.0.0.0" in text
    assert redact(PLANTED, PiiConfig(enabled=False)) == (
        PLANTED, {"email": 0, "ip": 0, "phone": 0})  # fmt: skip


def test_pii_step_counts_per_kind_and_keeps_the_document():
    prov = Provenance("x.warc.gz", "<urn:1>", 0, "https://site.test/a", "")
    doc = Document("d1", prov, [
        Segment(text="Mail bob@example.org today."),
        Segment(image=ImageRef("https://site.test/a.jpg", alt="photo by 81.2.69.160")),
        Segment(text="Phone (212) 555-0147, v1.2.3."),
    ], "fast")  # fmt: skip
    outcome = PiiStep(PiiConfig())(doc)
    assert outcome.verdict is None
    assert outcome.counters == {
        ("pii_replaced", "pii", "email"): 1,
        ("pii_replaced", "pii", "ip"): 1,
        ("pii_replaced", "pii", "phone"): 1,
    }
    assert doc.segments[0].text == "Mail email@example.com today."
    assert doc.segments[1].image.alt == "photo by 192.0.2.1"
    assert doc.segments[2].text == "Phone 555-0100, v1.2.3."


def test_text_job_replaces_planted_pii_and_counts_it(tmp_path):
    """Real English pages (../shared/data/html) with planted PII, through the text job."""
    import gzip
    import json
    from pathlib import Path

    from kosmos_data.outputs import read_parquet_dir
    from pipelines import text
    from tests.beam.conftest import load_funnel

    html_dir = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "html"
    pages = sorted((html_dir / "html_text").glob("*.txt"))
    assert len(pages) >= 3, f"missing real pages in {html_dir}"
    src = tmp_path / "in.jsonl.gz"
    rows = []
    for i, p in enumerate(pages[:3]):
        body = p.read_text(encoding="utf-8")
        planted = f"\n\nContact the editor at editor{i}@books-example.org or (212) 555-01{i}7."
        rows.append({"id": f"r{i}", "text": body + planted + " Released as v2.10.3 on 2024-12-01."})
    with gzip.open(src, "wt", encoding="utf-8") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    text.run(["--input", str(src), "--output", str(out), "--no-quality-filter"])
    docs = read_parquet_dir(str(out / "docs")).to_pylist()
    assert docs, "no document kept"
    for d in docs:
        joined = "\n".join(t for t in d["texts"] if t)
        assert "books-example.org" not in joined and "(212) 555" not in joined
        assert "email@example.com" in joined and "555-0100" in joined
        assert "v2.10.3 on 2024-12-01" in joined
    funnel = load_funnel(out)
    assert funnel["safety"]["pii_replaced"]["email"] >= len(docs)
    assert funnel["safety"]["pii_replaced"]["phone"] >= len(docs)


def _full_scans(monkeypatch) -> None:
    """Every pattern scans every text: the gates of ``redact`` switched off."""
    from kosmos_data.safety import pii

    for gate in ("_may_have_email", "_may_have_ip", "_may_have_intl_phone",
                 "_may_have_nanp_phone"):  # fmt: skip
        monkeypatch.setattr(pii, gate, lambda text: True)


def _fuzzed_texts(n: int, seed: int) -> list[str]:
    """Texts near the patterns' edges: planted PII and look-alikes cut, joined and mutated
    with the characters the patterns and gates look at (ASCII and other decimal digits,
    separators, brackets, ``@``/``+``, letters, whitespace)."""
    import random

    rng = random.Random(seed)
    pieces = (PLANTED + " " + LOOK_ALIKES).split(" ")
    alphabet = "0123456789" * 3 + "٣４७" + " .-()+@[]:_xX\n\té" + "abcz"
    out = []
    for _ in range(n):
        words = [rng.choice(pieces) for _ in range(rng.randint(1, 12))]
        chars = list(" ".join(words))
        for _ in range(rng.randint(0, 6)):
            i = rng.randrange(len(chars) + 1)
            op = rng.random()
            if op < 0.4:
                chars.insert(i, rng.choice(alphabet))
            elif op < 0.7 and i < len(chars):
                chars[i] = rng.choice(alphabet)
            elif i < len(chars):
                del chars[i]
        out.append("".join(chars))
    return out


def test_gates_change_no_replacement(monkeypatch):
    """``redact`` scans a text with a pattern only when its gate passes; the gates are
    necessary conditions, so on real pages (the extraction-dev gold texts) and on fuzzed
    texts full of near-misses the result equals that of every pattern scanning every text."""
    from kosmos_data.extract.devset import load_dev_set

    texts = [p.gold for p in load_dev_set() if p.gold]
    assert len(texts) >= 300, "../shared/data/extraction-dev is missing"
    texts += _fuzzed_texts(3000, seed=5)
    gated = [redact(t) for t in texts]
    replaced = sum(sum(c.values()) > 0 for _, c in gated)
    skipped = sum(sum(c.values()) == 0 for _, c in gated)
    assert replaced > 1000 and skipped > 1000, (replaced, skipped)  # both sides exercised
    _full_scans(monkeypatch)
    for text, got in zip(texts, gated, strict=True):
        assert got == redact(text), text
