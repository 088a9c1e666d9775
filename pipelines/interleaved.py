"""The interleaved-corpus job: WARC/ARC archives -> KOSMOS-1-style interleaved documents.

    options -> InterleavedConfig -> build(pipeline, config) -> run(argv)

Graph (every label stable, so Dataflow update/drain and metrics keep their names)::

    ReadWarcRecords -> Prefilter -> HonourOptOuts -> ExtractInterleavedDocs -> IdentifyLanguage
        -> FilterQuality -> ApplyKosmosSampling -> RedactPii -> WriteDocs
    (every step) -> dropped -> WriteDropped ; dead letters -> WriteDeadLetters
    (every step) -> stats -> WriteFunnel

Run directory layout (``--output DIR``): ``docs/`` (OBELICS-style Parquet), ``dropped/``
(stage + reason), ``dead_letter/`` (reason + provenance + payload sample), ``funnel.json``.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from kosmos_data import __version__
from kosmos_data.beam.checkpoint import (
    CheckpointPerFile,
    LogReadProgress,
    done_keys,
    prepare_checkpoints,
)
from kosmos_data.beam.decontam import add_dedup_stages
from kosmos_data.beam.images import add_image_stage, check_status_from
from kosmos_data.beam.inputs import expand_inputs
from kosmos_data.beam.report_stats import CorpusBreakdowns
from kosmos_data.beam.shards import WriteShards
from kosmos_data.beam.transforms import (
    DEAD_TAG,
    DROPPED_TAG,
    FILE_STATS_TAG,
    ApplyStep,
    ExtractInterleavedDocs,
    ReadWarcRecords,
    count_outputs,
)
from kosmos_data.checkpoint import file_key, split_done
from kosmos_data.config import as_jsonable, load_config_file
from kosmos_data.decontam import DecontamConfig, QualityRefilter
from kosmos_data.dedup import DedupConfig
from kosmos_data.dedup.flags import (
    add_decontam_flags,
    add_dedup_flags,
    decontam_flag_values,
    dedup_flag_values,
)
from kosmos_data.extract import ExtractConfig
from kosmos_data.filters.langid import LangIdConfig
from kosmos_data.filters.quality import QualityConfig
from kosmos_data.images.config import ImageConfig
from kosmos_data.images.flags import add_image_flags, image_flag_values
from kosmos_data.outputs import (
    OutputConfig,
)
from kosmos_data.prefilter import PrefilterConfig
from kosmos_data.safety.optout import OptOutConfig
from kosmos_data.safety.pii import PiiConfig
from kosmos_data.sampling import SamplingConfig
from kosmos_data.shards import ShardConfig, interleaved_sample
from kosmos_data.stages import (
    ExtractStep,
    LanguageStep,
    OptOutStep,
    PiiStep,
    PrefilterStep,
    QualityStep,
    SamplingStep,
)
from kosmos_data.warc import ReadConfig
from pipelines.common import (
    WriteRunOutputs,
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

SUBDIRS = ("docs", "dropped", "dead_letter", "image_status", "shards")


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
    reshuffle_pages: bool = True
    resume: bool = False  # continue a run: skip archives with completion markers

    def __post_init__(self) -> None:
        if not self.archives:
            raise ValueError("InterleavedConfig.archives: no input archives")
        if not self.output:
            raise ValueError("InterleavedConfig.output: an output directory is required")
        check_status_from(self.images, self.output)
        if self.resume and self.outputs.overwrite:
            raise ValueError(
                "InterleavedConfig.resume: --resume and --overwrite exclude each other"
            )


class InterleavedOptions:
    """Flags of ``kosmos-data run interleaved``; Beam's own flags pass through to
    ``PipelineOptions`` (see ``pipelines.common.parse_job_args``)."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--input",
            dest="inputs",
            action="append",
            required=True,
            help="archive path, glob (local, gs://, s3://) or CC warc.paths(.gz) list; repeatable",
        )
        parser.add_argument("--output", required=True, help="run directory")
        parser.add_argument("--config", default=None, help="JSON file of stage config sections")
        parser.add_argument("--paths-prefix", default="", help="prefix for warc.paths entries")
        parser.add_argument("--max-files", type=int, default=None, help="sample N archives")
        parser.add_argument("--files-seed", type=int, default=0, help="seed of the file sample")
        parser.add_argument("--extractor", choices=("fast", "fidelity"), default=None)
        parser.add_argument("--extract-timeout", type=float, default=None, help="seconds/page")
        parser.add_argument("--max-payload-bytes", type=int, default=None)
        parser.add_argument("--url-blocklist", default=None, help="file of blocked domains")
        parser.add_argument("--languages", default=None, help="comma-separated, default en")
        parser.add_argument("--language-threshold", type=float, default=None)
        parser.add_argument("--max-images", type=int, default=None, help="KOSMOS-1: 5")
        parser.add_argument("--single-image-keep-prob", type=float, default=None)
        parser.add_argument("--seed", type=int, default=None, help="sampling seed")
        parser.add_argument("--no-reshuffle", action="store_true")
        parser.add_argument(
            "--honour-optouts",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="drop pages whose archived response opts out of AI use (X-Robots-Tag noai/"
            "noimageai, robots <meta>, TDMRep); default: on",
        )
        parser.add_argument(
            "--redact-pii",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="replace e-mail/IP addresses and phone numbers in kept text (default: on)",
        )
        add_dedup_flags(parser)
        add_decontam_flags(parser)
        add_image_flags(parser)
        add_output_args(parser)
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue an interrupted run in --output: archives with completion markers "
            "(_done/) are not read again; their checkpoints (_per_file/) are reused",
        )


def config_from_options(opts: InterleavedOptions) -> InterleavedConfig:
    """Parse options once, at the edge, into frozen stage configs."""
    file_cfg = load_config_file(opts.config)
    langs = tuple(x.strip() for x in opts.languages.split(",")) if opts.languages else None
    sections = {
        "read": (ReadConfig, {}),
        "prefilter": (
            PrefilterConfig,
            {"max_payload_bytes": opts.max_payload_bytes, "url_blocklist_file": opts.url_blocklist},
        ),
        "optout": (OptOutConfig, {"enabled": opts.honour_optouts}),
        "extract": (ExtractConfig, {"mode": opts.extractor, "timeout_s": opts.extract_timeout}),
        "langid": (
            LangIdConfig,
            {"languages": langs, "threshold": opts.language_threshold},
        ),
        "quality": (QualityConfig, {}),
        "sampling": (
            SamplingConfig,
            {
                "max_images": opts.max_images,
                "single_image_keep_prob": opts.single_image_keep_prob,
                "seed": opts.seed,
            },
        ),
        "pii": (PiiConfig, {"enabled": opts.redact_pii}),
        "dedup": (DedupConfig, dedup_flag_values(opts)),
        "decontam": (DecontamConfig, decontam_flag_values(opts)),
        "images": (ImageConfig, image_flag_values(opts)),
        **output_sections(opts),
    }
    built = build_sections(file_cfg, sections)
    archives = expand_inputs(opts.inputs, opts.paths_prefix, opts.max_files, opts.files_seed)
    return InterleavedConfig(
        archives=tuple(archives),
        output=opts.output,
        reshuffle_pages=not opts.no_reshuffle,
        resume=opts.resume,
        **built,
    )


def prepare_output(config: InterleavedConfig) -> None:
    """Create the run directory; refuse to mix with an earlier run unless --overwrite
    (or --resume). Per-file checkpoints are validated before anything is deleted: final
    outputs are always rewritten whole; checkpoints of archives completed earlier are kept
    only with --resume."""
    prepare_run_dir(
        config.output, SUBDIRS, config.outputs.overwrite, resume=config.resume,
        before_delete=lambda: prepare_checkpoints(
            config.output, per_file_description(config),
            resume=config.resume, overwrite=config.outputs.overwrite,
        ),
    )  # fmt: skip


def per_file_description(config: InterleavedConfig) -> dict:
    """What determines the per-file checkpoints: a resumed run must match it exactly."""
    stages = ("read", "prefilter", "optout", "extract", "langid", "quality", "sampling", "pii")
    return {
        "pipeline": "interleaved",
        "archives": list(config.archives),
        "config": as_jsonable({k: getattr(config, k) for k in stages}),
    }


def build(pipeline: beam.Pipeline, config: InterleavedConfig) -> dict[str, beam.PCollection]:
    """Attach the interleaved job to ``pipeline``; returns the main PCollections."""
    out = config.output
    started_at = time.time()
    # Resumable runs: archives completed by an earlier attempt are not read again (see
    # CheckpointPerFile below and kosmos_data/checkpoint.py).
    todo, resumed = split_done(config.archives, done_keys(out) if config.resume else ())
    if resumed:
        log.info("resume: %d archive(s) done earlier, %d to process", len(resumed), len(todo))
    read = pipeline | "ReadWarcRecords" >> ReadWarcRecords(todo, config.read)
    _ = read[FILE_STATS_TAG] | "ReadProgress" >> LogReadProgress(len(todo), started_at)
    pre = read.pages | "Prefilter" >> ApplyStep(PrefilterStep(config.prefilter))
    opt = pre.kept | "HonourOptOuts" >> ApplyStep(OptOutStep(config.optout))
    ext = opt.kept | "ExtractInterleavedDocs" >> ExtractInterleavedDocs(
        ExtractStep(config.extract), reshuffle=config.reshuffle_pages
    )
    lang = ext.docs | "IdentifyLanguage" >> ApplyStep(LanguageStep(config.langid))
    qual = lang.kept | "FilterQuality" >> ApplyStep(QualityStep(config.quality))
    samp = qual.kept | "ApplyKosmosSampling" >> ApplyStep(SamplingStep(config.sampling))
    pii = samp.kept | "RedactPii" >> ApplyStep(PiiStep(config.pii))
    per_file_steps = (read, pre, opt, ext, lang, qual, samp, pii)
    # Checkpoint per archive; from here on docs/dropped/dead/per-file stats cover every
    # archive of the run, including those completed by an earlier attempt.
    ckpt = {
        "docs": pii.kept,
        "dropped": tuple(s[DROPPED_TAG] for s in (pre, opt, lang, qual, samp))
        | "FlattenDropped" >> beam.Flatten(),
        "dead_letter": (read[DEAD_TAG], ext[DEAD_TAG]) | "FlattenDeadLetters" >> beam.Flatten(),
        "file_stats": tuple(s[FILE_STATS_TAG] for s in per_file_steps)
        | "FlattenFileStats" >> beam.Flatten(),
    } | "CheckpointPerFile" >> CheckpointPerFile(
        out, len(todo), [file_key(p) for p in resumed], started_at
    )
    docs = ckpt["docs"]
    dropped = ckpt["dropped"]
    dead = ckpt["dead_letter"]
    # Deduplication, then decontamination (kosmos_data/beam/dedup.py, beam/decontam.py).
    docs, dropped, dedup_stats, dedup_extra = add_dedup_stages(
        docs, dropped, config.dedup, config.decontam, out, QualityRefilter(config.quality)
    )
    # Images: fetch, filter, dedup, decontaminate, join back (off unless --fetch-images).
    docs, dropped, image_stats = add_image_stage(docs, dropped, config.images, out)

    _ = (docs, dropped, dead) | "WriteRunOutputs" >> WriteRunOutputs(out, config.outputs)
    run_config = as_jsonable(
        {k: getattr(config, k) for k in ("read", "prefilter", "optout", "extract", "langid")}
        | {k: getattr(config, k) for k in ("quality", "sampling", "pii", "outputs", "images")}
        | {"dedup": config.dedup, "decontam": config.decontam, "shards": config.shards}
    )
    if config.images.fetch:  # shards carry image bytes: only a run that fetched them
        _ = (
            docs
            | "ToInterleavedSample" >> beam.Map(interleaved_sample)
            | "WriteShards"
            >> WriteShards(
                FileSystems.join(out, "shards"), "interleaved", config.shards, run_config
            )
        )

    stats = [ckpt["stats"], *dedup_stats, *image_stats, *count_outputs(docs, dropped, dead)]
    stats += [docs | "CorpusBreakdowns" >> CorpusBreakdowns()]
    extra = {
        "pipeline": "interleaved",
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
    opts, options = parse_job_args(
        InterleavedOptions, argv, "kosmos-data run interleaved", save_main_session
    )
    config = config_from_options(opts)
    prepare_output(config)
    return options, config


def execute(options: PipelineOptions, config: InterleavedConfig) -> dict:
    """Build and run the job; returns the funnel (also in ``funnel.json``)."""
    log.info("interleaved: %d archive(s) -> %s", len(config.archives), config.output)
    return run_pipeline(options, config.output, lambda p: build(p, config))


def run(argv: list[str] | None = None, save_main_session: bool = False) -> dict:
    """Parse flags, build and run the job; returns the funnel (also in ``funnel.json``)."""
    return execute(*prepare(argv, save_main_session))


def main(argv: list[str] | None = None) -> int:
    """CLI entry: prints the funnel table; bad flags or inputs give one clear error line."""
    return cli_main(
        argv,
        "kosmos-data run interleaved",
        "WARC/ARC archives -> KOSMOS-1-style interleaved documents (Apache Beam).",
        InterleavedOptions,
        prepare,
        execute,
    )


if __name__ == "__main__":
    raise SystemExit(main())
