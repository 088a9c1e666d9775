"""What every kosmos-data job shares: run-directory set-up, the Parquet outputs, the funnel,
and the CLI edge (flags -> frozen config -> run; one clear error line on bad input).

A run directory holds ``docs/`` (OBELICS-style Parquet of kept documents), ``dropped/``
(stage + reason), ``dead_letter/`` (bad input), ``funnel.json`` and, where the job writes
them, ``shards/`` (WebDataset tar + ``manifest.json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    SetupOptions,
    StandardOptions,
)

from kosmos_data.beam.runner import make_pipeline
from kosmos_data.beam.transforms import WriteFunnel, WriteParquetShards
from kosmos_data.config import build_config, merge
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
from kosmos_data.shards import ShardConfig

log = logging.getLogger(__name__)


def add_input_args(parser: argparse.ArgumentParser, what: str) -> None:
    """``--input`` (repeatable), ``--output``, ``--config`` and the input-file sample flags of
    a table job."""
    parser.add_argument(
        "--input", dest="inputs", action="append", required=True,
        help=f"{what} or glob (local, gs://, s3://); repeatable",
    )  # fmt: skip
    parser.add_argument("--output", required=True, help="run directory")
    parser.add_argument("--config", default=None, help="JSON file of stage config sections")
    parser.add_argument("--max-files", type=int, default=None, help="sample N input files")
    parser.add_argument("--files-seed", type=int, default=0, help="seed of the file sample")


def add_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--docs-shards", type=int, default=None)
    parser.add_argument("--dropped-fraction", type=float, default=None)
    parser.add_argument("--shard-maxcount", type=int, default=None, help="samples per tar")
    parser.add_argument("--shard-maxsize", type=int, default=None, help="bytes per tar")
    parser.add_argument("--shard-groups", type=int, default=None, help="parallel shard writers")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier run")


def output_sections(opts) -> dict:
    return {
        "shards": (
            ShardConfig,
            {
                "maxcount": opts.shard_maxcount,
                "maxsize": opts.shard_maxsize,
                "groups": opts.shard_groups,
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


def build_sections(file_cfg: dict, sections: dict) -> dict:
    unknown = sorted(set(file_cfg) - set(sections))
    if unknown:
        raise ValueError(f"--config: unknown section(s) {unknown}; known: {sorted(sections)}")
    return {
        name: build_config(cls, merge(file_cfg.get(name, {}), flags), name)
        for name, (cls, flags) in sections.items()
    }


def prepare_run_dir(
    output: str,
    subdirs: Sequence[str],
    overwrite: bool,
    resume: bool | None = None,
    before_delete: Callable[[], None] | None = None,
) -> None:
    """Create the run directory; refuse to mix with an earlier run unless ``overwrite``.

    Jobs that can resume pass ``resume`` (``--resume`` also accepts earlier outputs: they are
    rewritten whole) and a ``before_delete`` check that must pass before anything is removed.
    """
    existing = []
    for sub in subdirs:
        d = FileSystems.join(output, sub)
        if FileSystems.exists(d):
            found = FileSystems.match([FileSystems.join(d, "*")])[0].metadata_list
            existing.extend(m.path for m in found)
    if existing and not overwrite and not resume:
        hint = " (or --resume to continue it)" if resume is not None else ""
        raise FileExistsError(
            f"--output {output} already holds {len(existing)} output files from an "
            f"earlier run; pass --overwrite to replace them{hint} or choose another directory"
        )
    if before_delete is not None:
        before_delete()
    stale = [FileSystems.join(output, "funnel.json")]  # the earlier run's, about to be wrong
    existing += [p for p in stale if FileSystems.exists(p)]
    if existing:
        FileSystems.delete(existing)
    for sub in subdirs:
        d = FileSystems.join(output, sub)
        if not FileSystems.exists(d):
            FileSystems.mkdirs(d)


class WriteRunOutputs(beam.PTransform):
    """Kept documents, dropped records and dead letters -> the run directory's Parquet."""

    def __init__(self, output: str, config: OutputConfig) -> None:
        super().__init__()
        self.output = output
        self.config = config

    def expand(self, pcolls):
        docs, dropped, dead = pcolls
        out, oc = self.output, self.config
        _ = docs | "WriteDocs" >> WriteParquetShards(
            FileSystems.join(out, "docs"), "docs", DOCS_SCHEMA, document_to_row,
            lambda d: d.id, oc.docs_shards,
        )  # fmt: skip
        _ = (
            dropped
            | "SampleDropped" >> beam.Filter(keep_dropped_row, oc.dropped_fraction)
            | "WriteDropped"
            >> WriteParquetShards(
                FileSystems.join(out, "dropped"), "dropped", DROPPED_SCHEMA, dropped_to_row,
                lambda d: record_key(d.provenance) + "|" + d.stage, oc.dropped_shards,
            )
        )  # fmt: skip
        return dead | "WriteDeadLetters" >> WriteParquetShards(
            FileSystems.join(out, "dead_letter"), "dead_letter", DEAD_LETTER_SCHEMA,
            dead_letter_to_row, lambda d: record_key(d.provenance), oc.dead_letter_shards,
        )  # fmt: skip


def write_funnel(stats: Sequence[beam.PCollection], output: str, extra: dict):
    return (
        tuple(stats)
        | "FlattenStats" >> beam.Flatten()
        | "WriteFunnel" >> WriteFunnel(FileSystems.join(output, "funnel.json"), extra)
    )


def beam_counters(result) -> dict[str, int]:
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


def run_info(options, started: float, finished: float, counters: dict[str, int]) -> dict:
    """``funnel.json: run``: this attempt's runner, wall clock and archives read/resumed.

    Throughput in ``kosmos-data report`` is records read in this attempt over its wall
    clock, so a resumed attempt is not credited with the archives it skipped.
    """
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    direct = options.view_as(DirectOptions)
    return {
        "runner": runner if isinstance(runner, str) else type(runner).__name__,
        "direct_num_workers": direct.direct_num_workers,
        "started_unix": round(started, 3),
        "wall_seconds": round(finished - started, 3),
        "archives_read": counters.get("kosmos_data.read/files", 0),
        "archives_resumed": counters.get("kosmos_data.checkpoint/files_resumed", 0),
        "records_read": counters.get("kosmos_data.read/records", 0),
    }


def run_pipeline(options: PipelineOptions, output: str, build: Callable[[beam.Pipeline], object]):
    """Build and run one job; add the runner's Beam counters and this attempt's runner and
    wall clock (``run``, for ``kosmos-data report`` throughput) to ``funnel.json``."""
    started = time.time()
    with make_pipeline(options) as p:
        build(p)
    result = p.result  # set by the context manager after wait_until_finish()
    path = FileSystems.join(output, "funnel.json")
    with FileSystems.open(path) as f:
        funnel = json.loads(f.read())
    funnel["beam_counters"] = beam_counters(result)
    funnel["run"] = run_info(options, started, time.time(), funnel["beam_counters"])
    with FileSystems.create(path) as f:
        f.write(json.dumps(funnel, indent=2).encode("utf-8") + b"\n")
    return funnel


def parse_job_args(
    options_cls, argv: Sequence[str] | None, prog: str, save_main_session: bool = False
) -> tuple[argparse.Namespace, PipelineOptions]:
    """Split argv into the job's own flags and Beam's (``--runner``, ``--project``, ...).

    Job flags are parsed by a parser of their own rather than a ``PipelineOptions``
    subclass: Beam merges every subclass ever imported into one parser, so two jobs that
    both define ``--input`` (or any required flag) would break each other in one process.
    Raises ``SystemExit(2)`` with argparse's message on bad job flags.
    """
    parser = argparse.ArgumentParser(prog=prog, allow_abbrev=False)
    options_cls._add_argparse_args(parser)
    job_args, beam_args = parser.parse_known_args(list(argv or []))
    options = PipelineOptions(beam_args)
    options.view_as(SetupOptions).save_main_session = save_main_session
    return job_args, options


def cli_main(
    argv: Sequence[str] | None,
    prog: str,
    description: str,
    options_cls: type,
    prepare: Callable[[list[str]], tuple[PipelineOptions, object]],
    execute: Callable[[PipelineOptions, object], dict],
) -> int:
    """CLI edge of a job: ``--help``; one error line (exit 2) for bad flags, config or inputs;
    the funnel table after the run; exit 1 when the funnel does not balance."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        parser = argparse.ArgumentParser(
            prog=prog,
            description=description + " Beam's own flags (--runner, --direct_num_workers, "
            "--job_endpoint, ...) pass through.",
        )
        options_cls._add_argparse_args(parser)
        print(parser.format_help())
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        options, config = prepare(argv)
    except (ValueError, FileExistsError, FileNotFoundError) as e:  # flags, config, inputs
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # argparse (e.g. missing --input) has printed its message
        return int(e.code or 2)
    funnel = execute(options, config)  # errors while running keep their traceback
    print(format_funnel_table(funnel))
    print(f"outputs: {funnel.get('output', '')}")
    return 0 if funnel["balanced"] else 1
