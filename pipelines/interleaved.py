"""The interleaved-corpus job: WARC/ARC archives -> KOSMOS-1-style interleaved documents.

    options -> InterleavedConfig -> build(pipeline, config) -> run(argv)

Graph (every label stable, so Dataflow update/drain and metrics keep their names)::

    ReadWarcRecords -> Prefilter -> ExtractInterleavedDocs -> IdentifyLanguage
        -> FilterQuality -> ApplyKosmosSampling -> WriteDocs
    (every step) -> dropped -> WriteDropped ; dead letters -> WriteDeadLetters
    (every step) -> stats -> WriteFunnel

Run directory layout (``--output DIR``): ``docs/`` (OBELICS-style Parquet), ``dropped/``
(stage + reason), ``dead_letter/`` (reason + provenance + payload sample), ``funnel.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from kosmos_data import __version__
from kosmos_data.beam.inputs import expand_inputs
from kosmos_data.beam.transforms import (
    DEAD_TAG,
    DROPPED_TAG,
    STATS_TAG,
    ApplyStep,
    ExtractInterleavedDocs,
    ReadWarcRecords,
    WriteFunnel,
    WriteParquetShards,
    count_outputs,
)
from kosmos_data.config import as_jsonable, build_config, load_config_file, merge
from kosmos_data.extract import ExtractConfig
from kosmos_data.filters.langid import LangIdConfig
from kosmos_data.filters.quality import QualityConfig
from kosmos_data.funnel import format_funnel_table
from kosmos_data.outputs import (
    DEAD_LETTER_SCHEMA,
    DOCS_SCHEMA,
    DROPPED_SCHEMA,
    OutputConfig,
    dead_letter_to_row,
    document_to_row,
    dropped_to_row,
    keep_dropped_row,
    record_key,
)
from kosmos_data.prefilter import PrefilterConfig
from kosmos_data.sampling import SamplingConfig
from kosmos_data.stages import ExtractStep, LanguageStep, PrefilterStep, QualityStep, SamplingStep
from kosmos_data.warc import ReadConfig
from pipelines.common import parse_job_args

log = logging.getLogger(__name__)

SUBDIRS = ("docs", "dropped", "dead_letter")


@dataclass(frozen=True)
class InterleavedConfig:
    """Everything the interleaved job needs, one frozen config per stage."""

    archives: tuple[str, ...]
    output: str
    read: ReadConfig = field(default_factory=ReadConfig)
    prefilter: PrefilterConfig = field(default_factory=PrefilterConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    langid: LangIdConfig = field(default_factory=LangIdConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    outputs: OutputConfig = field(default_factory=OutputConfig)
    reshuffle_pages: bool = True

    def __post_init__(self) -> None:
        if not self.archives:
            raise ValueError("InterleavedConfig.archives: no input archives")
        if not self.output:
            raise ValueError("InterleavedConfig.output: an output directory is required")


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
        parser.add_argument("--docs-shards", type=int, default=None)
        parser.add_argument("--dropped-fraction", type=float, default=None)
        parser.add_argument("--no-reshuffle", action="store_true")
        parser.add_argument(
            "--overwrite", action="store_true", help="replace outputs of an earlier run"
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
        "outputs": (
            OutputConfig,
            {
                "docs_shards": opts.docs_shards,
                "dropped_fraction": opts.dropped_fraction,
                "overwrite": opts.overwrite or None,
            },
        ),
    }
    unknown = sorted(set(file_cfg) - set(sections))
    if unknown:
        raise ValueError(f"--config: unknown section(s) {unknown}; known: {sorted(sections)}")
    built = {
        name: build_config(cls, merge(file_cfg.get(name, {}), flags), name)
        for name, (cls, flags) in sections.items()
    }
    archives = expand_inputs(opts.inputs, opts.paths_prefix, opts.max_files, opts.files_seed)
    return InterleavedConfig(
        archives=tuple(archives),
        output=opts.output,
        reshuffle_pages=not opts.no_reshuffle,
        **built,
    )


def prepare_output(config: InterleavedConfig) -> None:
    """Create the run directory; refuse to mix with an earlier run unless --overwrite."""
    existing = []
    for sub in SUBDIRS:
        d = FileSystems.join(config.output, sub)
        if FileSystems.exists(d):
            found = FileSystems.match([FileSystems.join(d, "*")])[0].metadata_list
            existing.extend(m.path for m in found)
    if existing and not config.outputs.overwrite:
        raise FileExistsError(
            f"--output {config.output} already holds {len(existing)} output files from an "
            "earlier run; pass --overwrite to replace them or choose another directory"
        )
    if existing:
        FileSystems.delete(existing)
    for sub in SUBDIRS:
        d = FileSystems.join(config.output, sub)
        if not FileSystems.exists(d):
            FileSystems.mkdirs(d)


def build(pipeline: beam.Pipeline, config: InterleavedConfig) -> dict[str, beam.PCollection]:
    """Attach the interleaved job to ``pipeline``; returns the main PCollections."""
    out = config.output
    read = pipeline | "ReadWarcRecords" >> ReadWarcRecords(config.archives, config.read)
    pre = read.pages | "Prefilter" >> ApplyStep(PrefilterStep(config.prefilter))
    ext = pre.kept | "ExtractInterleavedDocs" >> ExtractInterleavedDocs(
        ExtractStep(config.extract), reshuffle=config.reshuffle_pages
    )
    lang = ext.docs | "IdentifyLanguage" >> ApplyStep(LanguageStep(config.langid))
    qual = lang.kept | "FilterQuality" >> ApplyStep(QualityStep(config.quality))
    samp = qual.kept | "ApplyKosmosSampling" >> ApplyStep(SamplingStep(config.sampling))
    docs = samp.kept

    dropped = (pre[DROPPED_TAG], lang[DROPPED_TAG], qual[DROPPED_TAG], samp[DROPPED_TAG]) | (
        "FlattenDropped" >> beam.Flatten()
    )
    dead = (read[DEAD_TAG], ext[DEAD_TAG]) | "FlattenDeadLetters" >> beam.Flatten()

    oc = config.outputs
    _ = docs | "WriteDocs" >> WriteParquetShards(
        FileSystems.join(out, "docs"), "docs", DOCS_SCHEMA, document_to_row,
        lambda d: d.id, oc.docs_shards,
    )  # fmt: skip
    fraction = oc.dropped_fraction
    _ = (
        dropped
        | "SampleDropped" >> beam.Filter(keep_dropped_row, fraction)
        | "WriteDropped"
        >> WriteParquetShards(
            FileSystems.join(out, "dropped"), "dropped", DROPPED_SCHEMA, dropped_to_row,
            lambda d: record_key(d.provenance) + "|" + d.stage, oc.dropped_shards,
        )
    )  # fmt: skip
    _ = dead | "WriteDeadLetters" >> WriteParquetShards(
        FileSystems.join(out, "dead_letter"), "dead_letter", DEAD_LETTER_SCHEMA,
        dead_letter_to_row, lambda d: record_key(d.provenance), oc.dead_letter_shards,
    )  # fmt: skip

    stats = [read[STATS_TAG], pre[STATS_TAG], ext[STATS_TAG], lang[STATS_TAG]]
    stats += [qual[STATS_TAG], samp[STATS_TAG], *count_outputs(docs, dropped, dead)]
    extra = {
        "pipeline": "interleaved",
        "output": out,
        "kosmos_data_version": __version__,
        "archives": list(config.archives),
        "config": as_jsonable(
            {k: getattr(config, k) for k in ("read", "prefilter", "extract", "langid")}
            | {k: getattr(config, k) for k in ("quality", "sampling", "outputs")}
        ),
    }
    _ = (
        tuple(stats)
        | "FlattenStats" >> beam.Flatten()
        | "WriteFunnel" >> WriteFunnel(FileSystems.join(out, "funnel.json"), extra)
    )
    return {"docs": docs, "dropped": dropped, "dead_letter": dead}


def _beam_counters(result) -> dict[str, int]:
    """Committed (or attempted, where a runner has no committed values) counter values."""
    try:
        counters = result.metrics().query()["counters"]
    except Exception:
        return {}
    out: dict[str, int] = {}
    for c in counters:
        value = c.committed if c.committed is not None else c.attempted
        key = f"{c.key.metric.namespace}/{c.key.metric.name}"
        out[key] = out.get(key, 0) + int(value or 0)
    return dict(sorted(out.items()))


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
    with beam.Pipeline(options=options) as p:
        build(p, config)
    result = p.result  # set by the context manager after wait_until_finish()
    funnel_path = FileSystems.join(config.output, "funnel.json")
    with FileSystems.open(funnel_path) as f:
        funnel = json.loads(f.read())
    funnel["beam_counters"] = _beam_counters(result)
    with FileSystems.create(funnel_path) as f:
        f.write(json.dumps(funnel, indent=2).encode("utf-8") + b"\n")
    return funnel


def run(argv: list[str] | None = None, save_main_session: bool = False) -> dict:
    """Parse flags, build and run the job; returns the funnel (also in ``funnel.json``)."""
    return execute(*prepare(argv, save_main_session))


def _help() -> str:
    parser = argparse.ArgumentParser(
        prog="kosmos-data run interleaved",
        description="WARC/ARC archives -> KOSMOS-1-style interleaved documents (Apache Beam). "
        "Beam's own flags (--runner, --direct_num_workers, --job_endpoint, ...) pass through.",
    )
    InterleavedOptions._add_argparse_args(parser)
    return parser.format_help()


def main(argv: list[str] | None = None) -> int:
    """CLI entry: prints the funnel table; bad flags or inputs give one clear error line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        print(_help())
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        options, config = prepare(argv)
    except (ValueError, FileExistsError, FileNotFoundError) as e:  # flags, config, inputs
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # argparse inside PipelineOptions (e.g. missing --input)
        return int(e.code or 2)
    funnel = execute(options, config)  # errors while running keep their traceback
    print(format_funnel_table(funnel))
    print(f"outputs: {funnel.get('output', '')}")
    return 0 if funnel["balanced"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
