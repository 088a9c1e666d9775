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
    StandardOptions,
)

from kosmos_data.beam.runner import make_pipeline
from kosmos_data.beam.transforms import (
    DEAD_TAG,
    DROPPED_TAG,
    STATS_TAG,
    ApplyStep,
    WriteFunnel,
    WriteParquetShards,
    publish_bytes,
)
from kosmos_data.config import as_jsonable
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
from kosmos_data.rundir import RunDir
from kosmos_data.stages import funnel_stages

log = logging.getLogger(__name__)


def add_input_args(
    parser: argparse.ArgumentParser, what: str, *, sample: bool = True, multiple: bool = True
) -> None:
    """``--input`` (several values, or repeated), ``--output`` and the input-file sample
    flags every job that reads files has."""
    parser.add_argument(
        "--input", dest="inputs", required=True, metavar="SPEC",
        nargs="+" if multiple else None, action="extend" if multiple else "store",
        help=f"{what} or glob (local, gs://, s3://)"
        + ("; several values, or repeat the flag" if multiple else ""),
    )  # fmt: skip
    parser.add_argument("--output", required=True, help="run directory")
    if sample:
        parser.add_argument("--max-files", type=int, default=None, help="sample N input files")
        parser.add_argument("--files-seed", type=int, default=0, help="seed of the file sample")


def prepare_run_dir(
    output: str,
    subdirs: Sequence[str],
    overwrite: bool,
    resume: bool | None = None,
    before_delete: Callable[[], None] | None = None,
    keep: Callable[[str], bool] | None = None,
) -> None:
    """Create the run directory; refuse to mix with an earlier run unless ``overwrite``.

    Jobs that can resume pass ``resume`` (``--resume`` also accepts earlier outputs: they are
    rewritten whole, except the files ``keep`` names: outputs of archives an earlier attempt
    completed) and a ``before_delete`` check that must pass before anything is removed.
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
    if resume and keep is not None:
        existing = [p for p in existing if not keep(p)]
    # The earlier run's funnel, about to be wrong (also when this run fails).
    stale = [RunDir(output).funnel, RunDir(output).funnel_partial]
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
        run, oc = RunDir(self.output), self.config
        _ = docs | "WriteDocs" >> WriteParquetShards(
            run.docs, "docs", DOCS_SCHEMA, document_to_row,
            lambda d: d.id, oc.docs_shards,
        )  # fmt: skip
        _ = (
            dropped
            | "SampleDropped"
            >> beam.Filter(keep_dropped_row, oc.dropped_fraction)
            | "WriteDropped"
            >> WriteParquetShards(
                run.dropped, "dropped", DROPPED_SCHEMA, dropped_to_row,
                lambda d: record_key(d.provenance) + "|" + d.stage, oc.dropped_shards,
            )
        )  # fmt: skip
        return dead | "WriteDeadLetters" >> WriteParquetShards(
            run.dead_letter, "dead_letter", DEAD_LETTER_SCHEMA,
            dead_letter_to_row, lambda d: record_key(d.provenance), oc.dead_letter_shards,
        )  # fmt: skip


def stage_order(*stages: object) -> list[str]:
    """``funnel.json: stage_order`` of a job, from its ordered stages: steps (their funnel
    stages, ``kosmos_data.stages.funnel_stages``) and the names of stages that are not steps
    (``read``, ``kosmos_data.beam.decontam.CORPUS_STAGES``). Every job derives
    it here, so a step added to a job's chain is in its funnel table."""
    return list(funnel_stages(stages))


def recorded_config(config: object, sections: Sequence[object]) -> dict:
    """``funnel.json: config`` (and the shards' manifest): the job's config sections, in the
    job's order of sections."""
    return as_jsonable({s.name: getattr(config, s.name) for s in sections})


#: Stable Beam labels of the per-record steps a job applies one by one (``apply_steps``).
STEP_LABELS = {
    "caption_filter": "FilterCaptions",
    "langid": "IdentifyLanguage",
    "quality": "FilterQuality",
    "pii": "RedactPii",
}


def apply_steps(docs: beam.PCollection, steps: Sequence[object]):
    """Route ``docs`` through ``steps`` in order, each by ``ApplyStep`` under its stable
    label; returns ``(kept, dropped, dead, stats)``: the last step's kept records and every
    step's dropped, dead-letter and stats outputs (lists, to flatten with the job's own)."""
    dropped, dead, stats = [], [], []
    for step in steps:
        r = docs | STEP_LABELS[step.name] >> ApplyStep(step)
        docs = r.kept
        dropped.append(r[DROPPED_TAG])
        dead.append(r[DEAD_TAG])
        stats.append(r[STATS_TAG])
    return docs, dropped, dead, stats


def write_funnel(stats: Sequence[beam.PCollection], output: str, extra: dict):
    return (
        tuple(stats)
        | "FlattenStats" >> beam.Flatten()
        | "WriteFunnel" >> WriteFunnel(RunDir(output).funnel_partial, extra)
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


def local_workers(options: PipelineOptions) -> int:
    """Worker processes of a local multi-processing run (``--direct_num_workers N
    --direct_running_mode multi_processing``; 0 means one per core), else 1."""
    import os

    runner = options.view_as(StandardOptions).runner
    if runner not in (None, "DirectRunner", "direct", "FnApiRunner"):
        return 1
    direct = options.view_as(DirectOptions)
    if (direct.direct_running_mode or "in_memory") == "in_memory":
        return 1
    n = direct.direct_num_workers
    return max(1, os.cpu_count() or 1) if n == 0 else max(1, n or 1)


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
    """Build and run one job, then write ``funnel.json`` once: the pipeline's sums
    (``FUNNEL_PARTIAL``, removed after) plus the runner's Beam counters and this attempt's
    runner and wall clock (``run``, for ``kosmos-data report`` throughput). A run that fails
    leaves no ``funnel.json`` at all (``prepare_run_dir`` removed the earlier one)."""
    started = time.time()
    with make_pipeline(options) as p:
        build(p)
    result = p.result  # set by the context manager after wait_until_finish()
    partial = RunDir(output).funnel_partial
    with FileSystems.open(partial) as f:
        funnel = json.loads(f.read())
    funnel["beam_counters"] = beam_counters(result)
    funnel["run"] = run_info(options, started, time.time(), funnel["beam_counters"])
    body = json.dumps(funnel, indent=2).encode("utf-8") + b"\n"
    publish_bytes(RunDir(output).funnel, body)
    FileSystems.delete([partial])
    return funnel


def cli_main(
    argv: Sequence[str] | None,
    parser: Callable[[], argparse.ArgumentParser],
    prepare: Callable[[list[str]], tuple[PipelineOptions, object]],
    execute: Callable[[PipelineOptions, object], dict],
) -> int:
    """CLI edge of a job: ``--help``; one error line (exit 2) for bad or unknown flags,
    config or inputs; the funnel table after the run; exit 1 when the funnel does not
    balance."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        print(parser().format_help())
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        options, config = prepare(argv)
    except (ValueError, FileExistsError, FileNotFoundError) as e:  # flags, config, inputs
        print(f"error: {e}", file=sys.stderr)
        return 2
    funnel = execute(options, config)  # errors while running keep their traceback
    print(format_funnel_table(funnel))
    print(f"outputs: {funnel.get('output', '')}")
    return 0 if funnel["balanced"] else 1
