"""The image-caption job: LAION-style url+caption tables -> caption shards.

    options -> CaptionsConfig -> build(pipeline, config) -> run(argv)

Graph (stable labels)::

    ReadTableDocs -> Rebalance -> FilterCaptions -> IdentifyLanguage -> (corpus stages:
        DropDuplicates, Decontaminate) -> FetchImages -> WriteShards(captions)
    dropped / dead letters / stats -> WriteRunOutputs, WriteFunnel

KOSMOS-1 (§3.1) trains on image-caption pairs from LAION-2B, LAION-400M, COYO-700M and
Conceptual Captions. A pair is a ``Document([image, caption])`` here, so it goes through the
same dedup (URL, caption text, image URL), decontamination (captions against caption tasks
such as COCO/Flickr30k; images against evaluation images by pHash) and image fetching
(img2dataset, SSRF guard, robots.txt, ``X-Robots-Tag``) as the web corpus.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from kosmos_data import __version__, rundir
from kosmos_data.beam.decontam import CORPUS_STAGES, add_dedup_stages
from kosmos_data.beam.images import FetchImages, check_status_from
from kosmos_data.beam.inputs import expand_inputs
from kosmos_data.beam.shards import WriteShards
from kosmos_data.beam.sources import ReadTableDocs
from kosmos_data.beam.transforms import DEAD_TAG, DROPPED_TAG, STATS_TAG, count_outputs
from kosmos_data.decontam import DecontamConfig
from kosmos_data.dedup import DedupConfig
from kosmos_data.filters.langid import LangIdConfig
from kosmos_data.images.config import ImageConfig
from kosmos_data.images.corpus import RebuildStep
from kosmos_data.outputs import OutputConfig
from kosmos_data.rundir import RunDir
from kosmos_data.safety.pii import PiiConfig
from kosmos_data.shards import ShardConfig, caption_sample
from kosmos_data.sources import (
    CaptionFilterConfig,
    CaptionFilterStep,
    CaptionReadConfig,
    caption_document,
)
from kosmos_data.stages import LanguageStep, PiiStep
from pipelines import sections
from pipelines.common import (
    WriteRunOutputs,
    add_input_args,
    apply_steps,
    cli_main,
    prepare_run_dir,
    recorded_config,
    run_pipeline,
    stage_order,
    write_funnel,
)
from pipelines.options import ParsedJob, Section, job_parser, parse_job

log = logging.getLogger(__name__)

SUBDIRS = (rundir.DOCS, rundir.DROPPED, rundir.DEAD_LETTER, rundir.SHARDS, rundir.IMAGE_STATUS)
#: fastText is less sure on a 10-word caption than on a page; LAION-5B's English split used
#: CLD3 with no threshold, so we keep the label with a lower floor than for pages (0.65).
CAPTION_LANGUAGE_THRESHOLD = 0.5


@dataclass(frozen=True)
class CaptionsConfig:
    inputs: tuple[str, ...]
    output: str
    read: CaptionReadConfig = field(default_factory=CaptionReadConfig)
    captions: CaptionFilterConfig = field(default_factory=CaptionFilterConfig)
    langid: LangIdConfig = field(
        default_factory=lambda: LangIdConfig(threshold=CAPTION_LANGUAGE_THRESHOLD)
    )
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    pii: PiiConfig = field(default_factory=PiiConfig)
    images: ImageConfig = field(default_factory=lambda: ImageConfig(fetch=True))
    shards: ShardConfig = field(default_factory=ShardConfig)
    outputs: OutputConfig = field(default_factory=OutputConfig)

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValueError("CaptionsConfig.inputs: no input tables")
        if not self.output:
            raise ValueError("CaptionsConfig.output: an output directory is required")
        check_status_from(self.images, self.output)


#: The job's stage sections, in the order of the data's way (see ``pipelines.options``).
SECTIONS = (
    Section(
        "read",
        CaptionReadConfig,
        aliases={
            "url_column": "--url-column",
            "caption_column": "--caption-column",
            "columns": "--columns",
        },
        comma_fields=("columns",),
        title="read (caption tables)",
    ),
    Section(
        "captions",
        CaptionFilterConfig,
        aliases={
            "min_words": "--min-caption-words",
            "max_words": "--max-caption-words",
            "min_similarity": "--min-similarity",
        },
        title="caption filters",
    ),
    dataclasses.replace(sections.LANGID, defaults={"threshold": CAPTION_LANGUAGE_THRESHOLD}),
    sections.PII,
    sections.DEDUP,
    sections.DECONTAM,
    # Caption shards are images: fetching is on (--no-fetch-images writes docs/ only).
    dataclasses.replace(sections.IMAGES, defaults={"fetch": True}),
    sections.SHARDS,
    sections.OUTPUTS,
)
PROG = "kosmos-data run captions"


def parser(help_text: bool = True) -> argparse.ArgumentParser:
    return job_parser(
        PROG,
        "Image-caption tables (LAION-style) -> filtered, deduplicated, decontaminated "
        "caption shards with fetched images.",
        SECTIONS,
        lambda p: add_input_args(p, "Parquet/TSV/CSV/JSONL caption table"),
        help_text=help_text,
    )


def config_from_args(parsed: ParsedJob) -> CaptionsConfig:
    a = parsed.args
    inputs = expand_inputs(a.inputs, "", a.max_files, a.files_seed)
    return CaptionsConfig(inputs=tuple(inputs), output=a.output, **parsed.sections)


def steps(config: CaptionsConfig) -> tuple[object, ...]:
    """The per-pair steps, in order, each routed by ``ApplyStep``: caption filters, language,
    PII (then the corpus stages and the image fetch)."""
    return (CaptionFilterStep(config.captions), LanguageStep(config.langid), PiiStep(config.pii))


def stages(config: CaptionsConfig) -> list[str]:
    """The job's funnel stage order, from its ordered stages."""
    return stage_order("read", *steps(config), *CORPUS_STAGES, RebuildStep)


def build(
    pipeline: beam.Pipeline, config: CaptionsConfig, resolver=None, allowed_endpoints=frozenset()
) -> dict[str, beam.PCollection]:
    """Attach the captions job. ``resolver``/``allowed_endpoints`` are the SSRF guard's
    test hooks, passed to ``FetchImages``."""
    out = config.output
    read_cfg = config.read
    read = pipeline | "ReadTableDocs" >> ReadTableDocs(
        config.inputs, lambda row: caption_document(row, read_cfg), read_cfg.columns
    )
    docs = read.docs | "Rebalance" >> beam.Reshuffle()
    kept, step_dropped, step_dead, step_stats = apply_steps(docs, steps(config))
    dropped = tuple(step_dropped) | "FlattenDropped" >> beam.Flatten()
    kept, dropped, dedup_stats, dedup_extra = add_dedup_stages(
        kept, dropped, config.dedup, config.decontam, out
    )
    image_stats = []
    if config.images.fetch:  # --no-fetch-images: docs/ only (shards need the images)
        images = kept | "FetchImages" >> FetchImages(
            config.images, out, resolver=resolver, allowed_endpoints=allowed_endpoints
        )
        kept = images["kept"]
        dropped = (dropped, images[DROPPED_TAG]) | "FlattenImageDropped" >> beam.Flatten()
        image_stats = [images[STATS_TAG]]
    dead = (read[DEAD_TAG], *step_dead) | "FlattenDeadLetters" >> beam.Flatten()
    _ = (kept, dropped, dead) | "WriteRunOutputs" >> WriteRunOutputs(out, config.outputs)
    run_config = recorded_config(config, SECTIONS)
    if config.images.fetch:
        _ = (
            kept
            | "ToCaptionSample" >> beam.Map(caption_sample)
            | "WriteShards"
            >> WriteShards(RunDir(out).shards, "captions", config.shards, run_config)
        )
    stats = [read[STATS_TAG], *step_stats, *dedup_stats]
    stats += [*image_stats, *count_outputs(kept, dropped, dead)]
    extra = {
        "pipeline": "captions",
        "stage_order": stages(config),
        "output": out,
        "kosmos_data_version": __version__,
        "inputs": list(config.inputs),
        "config": run_config,
        **dedup_extra,
    }
    write_funnel(stats, out, extra)
    return {"docs": kept, "dropped": dropped, "dead_letter": dead}


def prepare(argv: list[str], save_main_session: bool = False):
    parsed = parse_job(parser(help_text=False), SECTIONS, argv, save_main_session)
    options, config = parsed.options, config_from_args(parsed)
    prepare_run_dir(config.output, SUBDIRS, config.outputs.overwrite)
    return options, config


def execute(
    options: PipelineOptions, config: CaptionsConfig, resolver=None, allowed_endpoints=()
) -> dict:
    log.info("captions: %d table(s) -> %s", len(config.inputs), config.output)
    return run_pipeline(
        options, config.output, lambda p: build(p, config, resolver, frozenset(allowed_endpoints))
    )


def run(argv: list[str] | None = None, save_main_session: bool = False) -> dict:
    return execute(*prepare(list(argv or []), save_main_session))


def main(argv: list[str] | None = None) -> int:
    return cli_main(argv, parser, prepare, execute)


if __name__ == "__main__":
    raise SystemExit(main())
