"""The text-corpus job: JSONL/Parquet text (e.g. Pile-style ``{"text", "meta"}``) -> text shards.

    options -> TextConfig -> build(pipeline, config) -> run(argv)

Graph (stable labels)::

    ReadTableDocs -> Rebalance -> IdentifyLanguage -> FilterQuality -> (corpus stages:
        DropDuplicates, Decontaminate) -> WriteShards(text)
    dropped / dead letters / stats -> WriteRunOutputs, WriteFunnel

KOSMOS-1 (§3.1) uses curated text corpora (The Pile, CCNet, ...): the same language-ID and
Gopher/C4 document rules as the web corpus apply, so one set of thresholds documents the
whole training mixture.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from kosmos_data import __version__
from kosmos_data.beam.decontam import add_dedup_stages
from kosmos_data.beam.inputs import expand_inputs
from kosmos_data.beam.shards import WriteShards
from kosmos_data.beam.sources import ReadTableDocs
from kosmos_data.beam.transforms import DEAD_TAG, DROPPED_TAG, STATS_TAG, ApplyStep, count_outputs
from kosmos_data.config import as_jsonable, load_config_file
from kosmos_data.decontam import DecontamConfig, QualityRefilter
from kosmos_data.dedup import DedupConfig
from kosmos_data.dedup.flags import (
    add_decontam_flags,
    add_dedup_flags,
    decontam_flag_values,
    dedup_flag_values,
)
from kosmos_data.filters.langid import LangIdConfig
from kosmos_data.filters.quality import QualityConfig
from kosmos_data.funnel import CORPUS_STAGES
from kosmos_data.outputs import OutputConfig
from kosmos_data.safety.pii import PiiConfig
from kosmos_data.shards import ShardConfig, text_sample
from kosmos_data.sources import TextReadConfig, text_document
from kosmos_data.stages import LanguageStep, PiiStep, QualityStep
from pipelines.common import (
    WriteRunOutputs,
    add_input_args,
    add_output_args,
    build_sections,
    cli_main,
    output_sections,
    parse_job_args,
    prepare_run_dir,
    run_pipeline,
    write_funnel,
)

log = logging.getLogger(__name__)

SUBDIRS = ("docs", "dropped", "dead_letter", "shards")
TEXT_STAGES = ("read", "langid", "quality", "pii", *CORPUS_STAGES)


@dataclass(frozen=True)
class TextConfig:
    inputs: tuple[str, ...]
    output: str
    read: TextReadConfig = field(default_factory=TextReadConfig)
    langid: LangIdConfig = field(default_factory=LangIdConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    pii: PiiConfig = field(default_factory=PiiConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    shards: ShardConfig = field(default_factory=ShardConfig)
    outputs: OutputConfig = field(default_factory=OutputConfig)
    filter_quality: bool = True

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValueError("TextConfig.inputs: no input files")
        if not self.output:
            raise ValueError("TextConfig.output: an output directory is required")


class TextOptions:
    """Flags of ``kosmos-data run text``."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_input_args(parser, "JSONL(.gz)/Parquet/TSV text file")
        parser.add_argument("--text-field", default=None, help="default: text")
        parser.add_argument("--meta-field", default=None, help="default: meta")
        parser.add_argument("--languages", default=None, help="comma-separated, default en")
        parser.add_argument("--language-threshold", type=float, default=None)
        parser.add_argument(
            "--no-quality-filter", action="store_true",
            help="skip the Gopher/C4 document rules (for corpora curated elsewhere)",
        )  # fmt: skip
        add_dedup_flags(parser)
        add_decontam_flags(parser)
        add_output_args(parser)


def config_from_options(opts: argparse.Namespace) -> TextConfig:
    file_cfg = load_config_file(opts.config)
    langs = tuple(x.strip() for x in opts.languages.split(",")) if opts.languages else None
    sections = {
        "read": (TextReadConfig, {"text_field": opts.text_field, "meta_field": opts.meta_field}),
        "langid": (LangIdConfig, {"languages": langs, "threshold": opts.language_threshold}),
        "quality": (QualityConfig, {}),
        "pii": (PiiConfig, {}),
        "dedup": (DedupConfig, dedup_flag_values(opts)),
        "decontam": (DecontamConfig, decontam_flag_values(opts)),
        **output_sections(opts),
    }
    built = build_sections(file_cfg, sections)
    inputs = expand_inputs(opts.inputs, "", opts.max_files, opts.files_seed)
    return TextConfig(
        inputs=tuple(inputs),
        output=opts.output,
        filter_quality=not opts.no_quality_filter,
        **built,
    )


def build(pipeline: beam.Pipeline, config: TextConfig) -> dict[str, beam.PCollection]:
    out = config.output
    read_cfg = config.read
    read = pipeline | "ReadTableDocs" >> ReadTableDocs(
        config.inputs, lambda row: text_document(row, read_cfg), read_cfg.columns
    )
    docs = read.docs | "Rebalance" >> beam.Reshuffle()
    lang = docs | "IdentifyLanguage" >> ApplyStep(LanguageStep(config.langid))
    steps = [lang]
    kept = lang.kept
    if config.filter_quality:
        qual = kept | "FilterQuality" >> ApplyStep(QualityStep(config.quality))
        steps.append(qual)
        kept = qual.kept
    pii = kept | "RedactPii" >> ApplyStep(PiiStep(config.pii))
    steps.append(pii)
    kept = pii.kept
    dropped = tuple(s[DROPPED_TAG] for s in steps) | "FlattenDropped" >> beam.Flatten()
    refilter = QualityRefilter(config.quality) if config.filter_quality else None
    kept, dropped, dedup_stats, dedup_extra = add_dedup_stages(
        kept, dropped, config.dedup, config.decontam, out, refilter
    )
    dead = (read[DEAD_TAG],) | "FlattenDeadLetters" >> beam.Flatten()
    _ = (kept, dropped, dead) | "WriteRunOutputs" >> WriteRunOutputs(out, config.outputs)
    run_config = as_jsonable(
        {k: getattr(config, k) for k in ("read", "langid", "quality", "pii", "dedup", "decontam")}
        | {"shards": config.shards}
    )
    _ = (
        kept
        | "ToTextSample" >> beam.Map(text_sample)
        | "WriteShards"
        >> WriteShards(FileSystems.join(out, "shards"), "text", config.shards, run_config)
    )
    stats = [read[STATS_TAG], *(s[STATS_TAG] for s in steps), *dedup_stats]
    stats += count_outputs(kept, dropped, dead)
    extra = {
        "pipeline": "text",
        "stage_order": list(TEXT_STAGES),
        "output": out,
        "kosmos_data_version": __version__,
        "inputs": list(config.inputs),
        "config": run_config,
        **dedup_extra,
    }
    write_funnel(stats, out, extra)
    return {"docs": kept, "dropped": dropped, "dead_letter": dead}


def prepare(argv: list[str], save_main_session: bool = False):
    opts, options = parse_job_args(TextOptions, argv, "kosmos-data run text", save_main_session)
    config = config_from_options(opts)
    prepare_run_dir(config.output, SUBDIRS, config.outputs.overwrite)
    return options, config


def execute(options: PipelineOptions, config: TextConfig) -> dict:
    log.info("text: %d file(s) -> %s", len(config.inputs), config.output)
    return run_pipeline(options, config.output, lambda p: build(p, config))


def run(argv: list[str] | None = None, save_main_session: bool = False) -> dict:
    return execute(*prepare(list(argv or []), save_main_session))


def main(argv: list[str] | None = None) -> int:
    return cli_main(
        argv,
        "kosmos-data run text",
        "Text corpora (JSONL/Parquet) -> filtered, deduplicated, decontaminated text shards.",
        TextOptions,
        prepare,
        execute,
    )


if __name__ == "__main__":
    raise SystemExit(main())
