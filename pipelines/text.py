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
from apache_beam.options.pipeline_options import PipelineOptions

from kosmos_data import __version__, rundir
from kosmos_data.beam.decontam import CORPUS_STAGES, add_dedup_stages
from kosmos_data.beam.inputs import expand_inputs
from kosmos_data.beam.shards import WriteShards
from kosmos_data.beam.sources import ReadTableDocs
from kosmos_data.beam.transforms import DEAD_TAG, STATS_TAG, count_outputs
from kosmos_data.decontam import DecontamConfig, QualityRefilter
from kosmos_data.dedup import DedupConfig
from kosmos_data.filters.langid import LangIdConfig
from kosmos_data.filters.quality import QualityConfig
from kosmos_data.outputs import OutputConfig
from kosmos_data.rundir import RunDir
from kosmos_data.safety.pii import PiiConfig
from kosmos_data.shards import ShardConfig, text_sample
from kosmos_data.sources import TextReadConfig, text_document
from kosmos_data.stages import LanguageStep, PiiStep, QualityStep
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

SUBDIRS = (rundir.DOCS, rundir.DROPPED, rundir.DEAD_LETTER, rundir.SHARDS)


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


#: The job's stage sections, in the order of the data's way (see ``pipelines.options``).
SECTIONS = (
    Section(
        "read",
        TextReadConfig,
        aliases={"text_field": "--text-field", "meta_field": "--meta-field"},
        title="read (text corpora)",
    ),
    sections.LANGID,
    sections.QUALITY,
    sections.PII,
    sections.DEDUP,
    sections.DECONTAM,
    sections.SHARDS,
    sections.OUTPUTS,
)
PROG = "kosmos-data run text"


def _job_args(parser: argparse.ArgumentParser) -> None:
    add_input_args(parser, "JSONL(.gz)/Parquet/TSV text file")
    parser.add_argument(
        "--no-quality-filter", action="store_true",
        help="skip the Gopher/C4 document rules (for corpora curated elsewhere)",
    )  # fmt: skip


def parser(help_text: bool = True) -> argparse.ArgumentParser:
    return job_parser(
        PROG,
        "Text corpora (JSONL/Parquet) -> filtered, deduplicated, decontaminated text shards.",
        SECTIONS,
        _job_args,
        help_text=help_text,
    )


def config_from_args(parsed: ParsedJob) -> TextConfig:
    a = parsed.args
    inputs = expand_inputs(a.inputs, "", a.max_files, a.files_seed)
    return TextConfig(
        inputs=tuple(inputs),
        output=a.output,
        filter_quality=not a.no_quality_filter,
        **parsed.sections,
    )


def steps(config: TextConfig) -> tuple[object, ...]:
    """The per-document steps, in order, each routed by ``ApplyStep``: language, the
    Gopher/C4 rules (unless ``--no-quality-filter``), PII (then the corpus stages)."""
    quality = (QualityStep(config.quality),) if config.filter_quality else ()
    return (LanguageStep(config.langid), *quality, PiiStep(config.pii))


def stages(config: TextConfig) -> list[str]:
    """The job's funnel stage order, from its ordered stages."""
    return stage_order("read", *steps(config), *CORPUS_STAGES)


def build(pipeline: beam.Pipeline, config: TextConfig) -> dict[str, beam.PCollection]:
    out = config.output
    read_cfg = config.read
    read = pipeline | "ReadTableDocs" >> ReadTableDocs(
        config.inputs, lambda row: text_document(row, read_cfg), read_cfg.columns
    )
    docs = read.docs | "Rebalance" >> beam.Reshuffle()
    kept, step_dropped, step_dead, step_stats = apply_steps(docs, steps(config))
    dropped = tuple(step_dropped) | "FlattenDropped" >> beam.Flatten()
    refilter = QualityRefilter(config.quality) if config.filter_quality else None
    kept, dropped, dedup_stats, dedup_extra = add_dedup_stages(
        kept, dropped, config.dedup, config.decontam, out, refilter
    )
    dead = (read[DEAD_TAG], *step_dead) | "FlattenDeadLetters" >> beam.Flatten()
    _ = (kept, dropped, dead) | "WriteRunOutputs" >> WriteRunOutputs(out, config.outputs)
    run_config = recorded_config(config, SECTIONS)
    _ = (
        kept
        | "ToTextSample" >> beam.Map(text_sample)
        | "WriteShards" >> WriteShards(RunDir(out).shards, "text", config.shards, run_config)
    )
    stats = [read[STATS_TAG], *step_stats, *dedup_stats]
    stats += count_outputs(kept, dropped, dead)
    extra = {
        "pipeline": "text",
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


def execute(options: PipelineOptions, config: TextConfig) -> dict:
    log.info("text: %d file(s) -> %s", len(config.inputs), config.output)
    return run_pipeline(options, config.output, lambda p: build(p, config))


def run(argv: list[str] | None = None, save_main_session: bool = False) -> dict:
    return execute(*prepare(list(argv or []), save_main_session))


def main(argv: list[str] | None = None) -> int:
    return cli_main(argv, parser, prepare, execute)


if __name__ == "__main__":
    raise SystemExit(main())
