"""Generated inputs for the other two sources, like ``samplecrawl`` is for the web corpus.

``generate_caption_table`` writes a LAION-style Parquet (``url``, ``caption``, ``width``,
``height``, ``similarity``) and ``generate_text_corpus`` a Pile-style ``.jsonl.gz``
(``{"text", "meta"}``). Both plant every case a stage must handle, each listed per row in a
``*.manifest.jsonl`` beside the file (``kind`` and the ``expect`` outcome), so tests can
check outcomes row by row: good rows, exact duplicates, rows missing fields, bad URLs, short
or long captions, low CLIP similarity, non-English text and boilerplate-like text.

Deterministic for a seed: the same seed writes byte-identical files.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kosmos_samples import crawl_text as T
from kosmos_samples.crawl import _caption, _english_paragraphs, _fill, _foreign_paragraphs

#: Caption-row kinds in plan order, with the outcome the captions job should reach.
CAPTION_KINDS = {
    "good": "kept",
    "duplicate": "dropped",  # same URL and caption as an earlier good row
    "missing_caption": "dead_letter",
    "bad_url": "dead_letter",
    "short_caption": "dropped",
    "low_similarity": "dropped",
    "non_english": "dropped",
}
TEXT_KINDS = {
    "good": "kept",
    "duplicate": "dropped",
    "empty": "dead_letter",
    "non_english": "dropped",
    "low_quality": "dropped",
}


@dataclass(frozen=True, slots=True)
class SampleSourcesConfig:
    num_captions: int = 60
    num_texts: int = 60
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("num_captions", "num_texts"):
            if getattr(self, name) < len(CAPTION_KINDS):
                raise ValueError(f"SampleSourcesConfig.{name} must be >= {len(CAPTION_KINDS)}")


def _kinds(n: int, kinds: dict[str, str], rng: random.Random) -> list[str]:
    """Every kind at least once, ~70% good overall, in a seeded order (good first)."""
    extra = [k for k in kinds if k != "good"]
    n_bad = max(len(extra), n * 3 // 10)
    plan = ["good"] * (n - n_bad) + [extra[i % len(extra)] for i in range(n_bad)]
    head, tail = plan[:1], plan[1:]
    rng.shuffle(tail)
    return head + tail


def generate_caption_table(
    path: str | Path, image_urls: list[str], config: SampleSourcesConfig
) -> Path:
    """A LAION-style Parquet of captions for ``image_urls`` (cycled), plus its manifest."""
    if not image_urls:
        raise ValueError("generate_caption_table: image_urls is empty")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"captions/{config.seed}")
    rows, manifest = [], []
    goods: list[dict] = []
    for i, kind in enumerate(_kinds(config.num_captions, CAPTION_KINDS, rng)):
        url = image_urls[i % len(image_urls)]
        caption = _caption(rng)
        row = {"url": url, "caption": caption, "width": 640, "height": 480, "similarity": 0.32}
        if kind == "duplicate" and goods:
            row = dict(goods[rng.randrange(len(goods))])
        elif kind == "missing_caption":
            row["caption"] = None
        elif kind == "bad_url":
            row["url"] = "ftp://files.example.test/" + url.rsplit("/", 1)[-1]
        elif kind == "short_caption":
            row["caption"] = "photo"
        elif kind == "low_similarity":
            row["similarity"] = 0.12
        elif kind == "non_english":
            row["caption"] = _foreign_paragraphs(rng, rng.choice(("de", "fr")), 1)[0]
        if kind == "good":
            goods.append(row)
        rows.append(row)
        manifest.append({"row": i, "kind": kind, "expect": CAPTION_KINDS[kind], "url": row["url"]})
    schema = pa.schema(
        [
            ("url", pa.string()),
            ("caption", pa.string()),
            ("width", pa.int32()),
            ("height", pa.int32()),
            ("similarity", pa.float32()),
        ]
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")
    _write_manifest(path, manifest)
    return path


def generate_text_corpus(path: str | Path, config: SampleSourcesConfig) -> Path:
    """A Pile-style ``.jsonl.gz`` text corpus, plus its manifest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"text/{config.seed}")
    lines, manifest = [], []
    goods: list[str] = []
    for i, kind in enumerate(_kinds(config.num_texts, TEXT_KINDS, rng)):
        text = "\n\n".join(_english_paragraphs(rng, rng.randint(3, 6), 150))
        if kind == "duplicate" and goods:
            text = goods[rng.randrange(len(goods))]
        elif kind == "empty":
            text = ""
        elif kind == "non_english":
            text = "\n\n".join(_foreign_paragraphs(rng, rng.choice(("de", "fr")), 4))
        elif kind == "low_quality":  # a navigation-menu dump: Gopher's short-line rules
            text = "\n".join(rng.choice(T.NAV_ITEMS) for _ in range(80))
        if kind == "good":
            goods.append(text)
        record = {"text": text, "meta": {"pile_set_name": "Generated", "row": i}}
        lines.append(json.dumps(record, ensure_ascii=False, sort_keys=True))
        manifest.append({"row": i, "kind": kind, "expect": TEXT_KINDS[kind]})
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0))
    _write_manifest(path, manifest)
    return path


def _write_manifest(path: Path, rows: list[dict]) -> None:
    out = path.with_name(path.name.split(".")[0] + ".manifest.jsonl")
    out.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def instruction_examples(n: int, seed: int = 0) -> list[dict]:
    """Language-only instruction-tuning examples (``instruction``, ``input``, ``output``).

    KOSMOS-1 (§3.3) mixes Unnatural Instructions and FLANv2 into the text stream; here we
    generate small ones of the same shape for the demo.
    """
    rng = random.Random(f"instructions/{seed}")
    out = []
    for _ in range(n):
        nouns = list(T.TOPIC_NOUNS[rng.choice(sorted(T.TOPIC_NOUNS))])
        sentence = _fill(rng, rng.choice(T.EN_SENTENCES), nouns)
        task = rng.choice(("upper", "words", "first"))
        if task == "upper":
            out.append(
                {"instruction": "Rewrite the sentence in capital letters.", "input": sentence,
                 "output": sentence.upper()}
            )  # fmt: skip
        elif task == "words":
            out.append(
                {"instruction": "How many words does the sentence have?", "input": sentence,
                 "output": str(len(sentence.split()))}
            )  # fmt: skip
        else:
            out.append(
                {"instruction": "Give the first word of the sentence.", "input": sentence,
                 "output": sentence.split()[0]}
            )  # fmt: skip
    return out
