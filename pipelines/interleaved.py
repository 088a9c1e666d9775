"""The interleaved-corpus job: WARC/ARC archives -> KOSMOS-1-style interleaved documents.

    options -> InterleavedConfig -> build(pipeline, config) -> run(argv)

Graph (every label stable, so Dataflow update/drain and metrics keep their names)::

    ReadAndProcessArchives (read -> Prefilter -> OptOut -> Extract -> ApplyKosmosSampling
        -> IdentifyLanguage -> FilterQuality -> RedactPii, per archive; their dropped/ rows
        written there, their drops counted) -> CheckpointPerFile -> ... -> WriteDocs
    (dedup, decontamination, images) -> dropped -> WriteDropped
    (every step) -> dead letters -> WriteDeadLetters ; stats -> WriteFunnel

Run directory layout (``--output DIR``): ``docs/`` (OBELICS-style Parquet), ``dropped/``
(stage + reason), ``dead_letter/`` (reason + provenance + payload sample), ``funnel.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from kosmos_data import __version__, rundir
from kosmos_data.beam.checkpoint import (
    ArchiveCheckpoints,
    CheckpointPerFile,
    ReadProgress,
    done_keys,
    prepare_checkpoints,
)
from kosmos_data.beam.decontam import CORPUS_STAGES, add_dedup_stages
from kosmos_data.beam.images import add_image_stage, check_status_from
from kosmos_data.beam.inputs import expand_inputs
from kosmos_data.beam.report_stats import CorpusBreakdowns
from kosmos_data.beam.shards import WriteShards
from kosmos_data.beam.transforms import (
    ProcessArchiveFn,
    ReadAndProcessArchives,
    count_outputs,
    splits_for,
)
from kosmos_data.checkpoint import file_key, per_file_dropped_key, split_done
from kosmos_data.config import as_jsonable
from kosmos_data.decontam import DecontamConfig, QualityRefilter
from kosmos_data.dedup import DedupConfig
from kosmos_data.extract import ExtractConfig
from kosmos_data.filters.langid import LangIdConfig
from kosmos_data.filters.quality import QualityConfig
from kosmos_data.images.config import ImageConfig
from kosmos_data.images.corpus import RebuildStep
from kosmos_data.inputs import InputConfig, matched_by_pipeline
from kosmos_data.outputs import OutputConfig
from kosmos_data.prefilter import PrefilterConfig
from kosmos_data.rundir import RunDir
from kosmos_data.safety.optout import OptOutConfig
from kosmos_data.safety.pii import PiiConfig
from kosmos_data.sampling import SamplingConfig
from kosmos_data.shards import ShardConfig, interleaved_sample
from kosmos_data.stages import interleaved_steps
from kosmos_data.warc import ReadConfig, read_config_for
from pipelines import sections
from pipelines.common import (
    WriteRunOutputs,
    add_input_args,
    cli_main,
    local_workers,
    prepare_run_dir,
    recorded_config,
    run_pipeline,
    stage_order,
    write_funnel,
)
from pipelines.options import ParsedJob, job_parser, parse_job

log = logging.getLogger(__name__)

SUBDIRS = (rundir.DOCS, rundir.DROPPED, rundir.DEAD_LETTER, rundir.IMAGE_STATUS, rundir.SHARDS)


@dataclass(frozen=True)
class InterleavedConfig:
    """Everything the interleaved job needs, one frozen config per stage."""

    archives: tuple[str, ...]
    output: str
    read: ReadConfig = field(default_factory=ReadConfig)
    prefilter: PrefilterConfig = field(default_factory=PrefilterConfig)
    optout: OptOutConfig = field(default_factory=OptOutConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    langid: LangIdConfig = field(default_factory=LangIdConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    pii: PiiConfig = field(default_factory=PiiConfig)
    outputs: OutputConfig = field(default_factory=OutputConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    images: ImageConfig = field(default_factory=ImageConfig)
    shards: ShardConfig = field(default_factory=ShardConfig)
    resume: bool = False  # continue a run: skip archives with completion markers
    #: Workers that share one archive (see ``ProcessArchiveFn``); 0 = chosen from the local
    #: runner's worker processes (``--direct_num_workers``) and the archives' sizes
    #: (``splits_for``), else 1. Outputs do not depend on it.
    archive_splits: int = 0
    # remote globs / path lists in ``archives`` are matched by the pipeline (ListArchives)
    inputs: InputConfig = field(default_factory=InputConfig)

    def __post_init__(self) -> None:
        if not self.archives:
            raise ValueError("InterleavedConfig.archives: no input archives")
        if not self.output:
            raise ValueError("InterleavedConfig.output: an output directory is required")
        check_status_from(self.images, self.output)
        if self.archive_splits < 0:
            raise ValueError(
                f"InterleavedConfig.archive_splits must be >= 0, got {self.archive_splits}"
            )
        if self.resume and self.outputs.overwrite:
            raise ValueError(
                "InterleavedConfig.resume: --resume and --overwrite exclude each other"
            )


#: The job's stage sections, in the order of the data's way: the order of ``--help``, of
#: ``--config`` sections and of the recorded run config.
SECTIONS = (
    sections.READ,
    sections.PREFILTER,
    sections.OPTOUT,
    sections.EXTRACT,
    sections.LANGID,
    sections.QUALITY,
    sections.SAMPLING,
    sections.PII,
    sections.DEDUP,
    sections.DECONTAM,
    sections.IMAGES,
    sections.SHARDS,
    sections.OUTPUTS,
)
PROG = "kosmos-data run interleaved"


def _job_args(parser: argparse.ArgumentParser) -> None:
    add_input_args(parser, "archive path, CC warc.paths(.gz) list")
    parser.add_argument("--paths-prefix", default="", help="prefix for warc.paths entries")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run in --output: archives with completion markers "
        "(_done/) are not read again; their checkpoints (_per_file/) are reused",
    )
    parser.add_argument(
        "--archive-splits",
        type=int,
        default=0,
        help="workers sharing one archive (0: chosen from the local runner's worker count "
        "and the archives' sizes)",
    )


def parser(help_text: bool = True) -> argparse.ArgumentParser:
    return job_parser(
        PROG,
        "WARC/ARC archives -> KOSMOS-1-style interleaved documents (Apache Beam).",
        SECTIONS,
        _job_args,
        help_text=help_text,
    )


def config_from_args(parsed: ParsedJob) -> InterleavedConfig:
    """Flags and config sections (parsed once, at the edge) -> the frozen job config."""
    a = parsed.args
    inputs = InputConfig(a.paths_prefix, a.max_files, a.files_seed)
    archives = expand_inputs(
        a.inputs, inputs.paths_prefix, inputs.max_files, inputs.files_seed, defer_remote=True
    )
    built = dict(parsed.sections)
    # The reader's cut sits above the pre-filter's size limit, so --max-payload-bytes raises
    # both and a page over the limit is dropped with its reason, never kept truncated.
    built["read"] = read_config_for(built["read"], built["prefilter"].max_payload_bytes)
    return InterleavedConfig(
        archives=tuple(archives),
        output=a.output,
        resume=a.resume,
        archive_splits=a.archive_splits,
        inputs=inputs,
        **built,
    )


def prepare_output(config: InterleavedConfig) -> None:
    """Create the run directory; refuse to mix with an earlier run unless --overwrite
    (or --resume). Per-file checkpoints are validated before anything is deleted: final
    outputs are rewritten whole, except what archives completed earlier wrote (their
    checkpoints and their ``dropped/perfile-*`` rows), which only --resume keeps."""
    done: list[set[str]] = []

    def completed(path: str) -> bool:  # a per-archive output of an archive done earlier
        if not done:
            done.append(done_keys(config.output))
        key = per_file_dropped_key(path)
        return key is not None and key in done[0]

    prepare_run_dir(
        config.output, SUBDIRS, config.outputs.overwrite, resume=config.resume,
        before_delete=lambda: prepare_checkpoints(
            config.output, per_file_description(config),
            resume=config.resume, overwrite=config.outputs.overwrite,
        ),
        keep=completed,
    )  # fmt: skip


def steps(config: InterleavedConfig) -> tuple[object, ...]:
    """The per-record chain, in order, run where each archive is read (``ProcessArchiveFn``;
    declared once in ``kosmos_data.stages.interleaved_steps``, which ``inspect`` shares).
    Each step is named after its config section: the chain also gives the funnel's stage
    order (``stages``) and the sections the per-archive checkpoints depend on."""
    return interleaved_steps(config)


def stages(config: InterleavedConfig) -> list[str]:
    """The job's funnel stage order, from its ordered stages."""
    return stage_order("read", *steps(config), *CORPUS_STAGES, RebuildStep)


def per_file_sections(config: InterleavedConfig) -> tuple[str, ...]:
    """The sections whose config determines the per-archive checkpoints (``--resume``):
    the reader's and every step's of the per-record chain."""
    return ("read", *(step.name for step in steps(config)))


def per_file_description(config: InterleavedConfig) -> dict:
    """What determines the per-file checkpoints: a resumed run must match it exactly."""
    desc = {
        "pipeline": "interleaved",
        "archives": list(config.archives),
        "config": as_jsonable({k: getattr(config, k) for k in per_file_sections(config)}),
        # names the per-archive dropped/ files of completed archives
        "archive_chunk_records": config.outputs.archive_chunk_records,
    }
    if any(matched_by_pipeline(p) for p in config.archives):  # the sample is taken in the job
        desc["inputs"] = as_jsonable(config.inputs)
    return desc


def build(pipeline: beam.Pipeline, config: InterleavedConfig) -> dict[str, beam.PCollection]:
    """Attach the interleaved job to ``pipeline``; returns the main PCollections."""
    out = config.output
    started_at = time.time()
    # Resumable runs: archives completed by an earlier attempt are not read again (see
    # CheckpointPerFile below and kosmos_data/checkpoint.py).
    done = done_keys(out) if config.resume else set()
    todo, resumed = split_done(config.archives, done)
    resumed_keys = [file_key(p) for p in resumed]
    if any(matched_by_pipeline(p) for p in todo):  # archives known only when matched
        resumed_keys = sorted(done)  # the checkpoint fingerprint guarantees the same inputs
    if resumed_keys:
        log.info("resume: %d archive(s) done earlier, %d to process", len(resumed), len(todo))
    checkpoints = ArchiveCheckpoints(out, len(todo), started_at)
    fn = ProcessArchiveFn(
        config.read,
        steps(config),
        dropped_dir=RunDir(out).dropped,
        checkpoints=checkpoints,
        dropped_fraction=config.outputs.dropped_fraction,
        chunk_records=config.outputs.archive_chunk_records,
        progress=ReadProgress(len(todo), started_at),
    )
    per_file = pipeline | "ReadAndProcessArchives" >> ReadAndProcessArchives(
        todo, fn, splits=config.archive_splits or 1, inputs=config.inputs, skip_keys=done
    )
    # Checkpoints are written per archive where it is read (parts, then the marker); from
    # here on docs/dead/stats cover every archive of the run, including those completed by
    # an earlier attempt. The per-archive stages' drops are counts among the stats (their
    # dropped/ rows are written per archive): the dropped records below are those of the
    # corpus-wide stages.
    ckpt = per_file | "CheckpointPerFile" >> CheckpointPerFile(checkpoints, resumed_keys)
    docs = ckpt["docs"]
    dead = ckpt["dead_letter"]
    # Deduplication, then decontamination (kosmos_data/beam/dedup.py, beam/decontam.py).
    docs, dropped, dedup_stats, dedup_extra = add_dedup_stages(
        docs, None, config.dedup, config.decontam, out, QualityRefilter(config.quality)
    )
    # Images: fetch, filter, dedup, decontaminate, join back (off unless --fetch-images).
    docs, dropped, image_stats = add_image_stage(docs, dropped, config.images, out)

    _ = (docs, dropped, dead) | "WriteRunOutputs" >> WriteRunOutputs(out, config.outputs)
    run_config = recorded_config(config, SECTIONS)
    if config.images.fetch:  # shards carry image bytes: only a run that fetched them
        _ = (
            docs
            | "ToInterleavedSample" >> beam.Map(interleaved_sample)
            | "WriteShards"
            >> WriteShards(RunDir(out).shards, "interleaved", config.shards, run_config)
        )

    stats = [ckpt["stats"], *dedup_stats, *image_stats, *count_outputs(docs, dropped, dead)]
    stats += [docs | "CorpusBreakdowns" >> CorpusBreakdowns()]
    extra = {
        "pipeline": "interleaved",
        "stage_order": stages(config),  # from the job's own chain of steps
        "output": out,
        "kosmos_data_version": __version__,
        "archives": list(config.archives),
        "config": run_config,
        "shards": "shards/" if config.images.fetch else None,
        **dedup_extra,
    }
    write_funnel(stats, out, extra)
    return {"docs": docs, "dropped": dropped, "dead_letter": dead}


def prepare(
    argv: list[str] | None = None, save_main_session: bool = False
) -> tuple[PipelineOptions, InterleavedConfig]:
    """Parse flags into options and frozen configs, and prepare the run directory.

    Everything a user can get wrong (flags, config file, inputs, a used output directory)
    fails here, before any pipeline is built.
    """
    parsed = parse_job(parser(help_text=False), SECTIONS, argv or [], save_main_session)
    options = parsed.options
    config = config_from_args(parsed)
    if config.archive_splits == 0:
        splits = splits_for(_local_sizes(config.archives), local_workers(options))
        config = dataclasses.replace(config, archive_splits=splits)
    prepare_output(config)
    return options, config


def _local_sizes(archives: tuple[str, ...]) -> list[int] | None:
    """Sizes of the archives, when all are local files (remote ones are matched by the
    pipeline: their sizes are not looked up at launch)."""
    if any(matched_by_pipeline(p) for p in archives):
        return None
    try:
        return [os.path.getsize(p) for p in archives]
    except OSError:
        return None


def execute(options: PipelineOptions, config: InterleavedConfig) -> dict:
    """Build and run the job; returns the funnel (also in ``funnel.json``)."""
    log.info("interleaved: %d archive(s) -> %s", len(config.archives), config.output)
    return run_pipeline(options, config.output, lambda p: build(p, config))


def run(argv: list[str] | None = None, save_main_session: bool = False) -> dict:
    """Parse flags, build and run the job; returns the funnel (also in ``funnel.json``)."""
    return execute(*prepare(argv, save_main_session))


def main(argv: list[str] | None = None) -> int:
    """CLI entry: prints the funnel table; bad flags or inputs give one clear error line."""
    return cli_main(argv, parser, prepare, execute)


if __name__ == "__main__":
    raise SystemExit(main())
