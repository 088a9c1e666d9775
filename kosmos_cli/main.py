"""``kosmos-data``: the command line.

    kosmos-data run interleaved --input 'crawl/*.warc.gz' --output runs/r1 [Beam flags]
    kosmos-data demo [--output demo-output] [--pages 400]
    kosmos-data sample-crawl --output DIR [--pages N] [--page-kb K]
    kosmos-data funnel RUN_DIR
    kosmos-data inspect FILE... [--url URL] [--extractor fast|fidelity]

Beam is imported only when a pipeline runs (lazily, in ``pipelines``), so the core stays
Beam-free and ``kosmos-data funnel`` starts instantly.
"""

from __future__ import annotations

import argparse
import ast
import atexit
import importlib
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

# ``kosmos-data run JOB``: job name -> module in ``pipelines`` with ``main(argv) -> int``.
JOBS: dict[str, str] = {
    "interleaved": "pipelines.interleaved",
    "captions": "pipelines.captions",
    "text": "pipelines.text",
}

# Commands that own their flags: name -> ("module:function", help). The function takes argv
# (everything after the command name) and returns an exit code; imported only when used.
COMMANDS: dict[str, tuple[str, str]] = {
    "submit": ("kosmos_cli.submit:main", "run a job on Dataflow or Flink"),
    "report": ("kosmos_cli.report:main", "render a run's funnel as a self-contained HTML page"),
    "plan": ("kosmos_cli.plan:main", "estimate core-hours, wall time and cost of a run"),
    "inspect": (
        "kosmos_data.inspect:main",
        "every stage's decision for the pages of HTML files or WARC/ARC archives (JSON lines)",
    ),
    "images": ("kosmos_cli.images:main", "image outcomes, eval-image hashes, test server"),
    "dedup": ("pipelines.dedup:dedup_main", "deduplicate an existing docs/ Parquet directory"),
    "decontaminate": (
        "pipelines.decontaminate:main",
        "decontaminate a docs/ Parquet directory against downstream-task text",
    ),
}


class _QuietBeamImports(logging.Filter):
    """Beam logs optional-extra notices (BigQuery, apitools) on import: noise for users."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not ("apitools" in msg or "bigquery" in msg.lower())


#: Beam loggers whose INFO lines say nothing to a user: ``native_type_compatibility`` logs
#: "Converting string literal type hint to Any" for every postponed annotation it meets
#: (300 lines for one interleaved run).
_QUIET_LOGGERS = (
    "apache_beam.typehints.native_type_compatibility",
    # "starting control/data/state/logging server on port N", once per multi-process run
    "apache_beam.runners.portability.fn_api_runner.worker_handlers",
    # "Creating state cache with size 104857600", once per in-process run
    "apache_beam.runners.worker.statecache",
)


def _setup_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_QuietBeamImports())
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def _job_summary(module: str) -> str:
    """The first line of a job module's docstring, read without importing it (a job imports
    Beam: ~1 s for a help line)."""
    spec = importlib.util.find_spec(module)
    source = Path(spec.origin).read_text(encoding="utf-8") if spec and spec.origin else ""
    return (ast.get_docstring(ast.parse(source)) or "").split("\n", 1)[0]


def check_choice(
    argv: list[str], choices: dict, usage: str, heading: str, summary: Callable[[object], str]
) -> int | None:
    """For a command whose first argument picks one of ``choices`` (``run JOB``, ``submit
    RUNNER``): ``-h``/``--help`` there lists them with ``summary(value)`` (exit 0); a missing
    or unknown choice prints ``usage`` to stderr (exit 2); None when ``argv[0]`` is valid."""
    if argv and argv[0] in ("-h", "--help"):
        print(f"{usage}\n\n{heading}:")
        width = max(map(len, choices)) + 2
        for name, value in choices.items():
            print(f"  {name:<{width}} {summary(value)}")
        return 0
    if not argv or argv[0] not in choices:
        print(usage, file=sys.stderr)
        return 2
    return None


def _cmd_run(argv: list[str]) -> int:
    usage = f"usage: kosmos-data run {{{','.join(JOBS)}}} [flags]  (-h for a job's flags)"
    code = check_choice(argv, JOBS, usage, "jobs", _job_summary)
    if code is not None:
        return code
    job, rest = argv[0], argv[1:]
    return importlib.import_module(JOBS[job]).main(rest)


def _cmd_external(name: str, argv: list[str]) -> int:
    target, _ = COMMANDS[name]
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)(argv)


def _cmd_funnel(args: argparse.Namespace) -> int:
    from kosmos_data.funnel import format_funnel

    path = Path(args.run_dir) / "funnel.json"
    if not path.exists():
        print(f"error: {path} not found (is {args.run_dir} a run directory?)", file=sys.stderr)
        return 2
    print(format_funnel(json.loads(path.read_text()), args.format))
    return 0


def _cmd_sample_crawl(args: argparse.Namespace) -> int:
    from kosmos_samples.crawl import SampleCrawlConfig, generate_crawl

    cfg = SampleCrawlConfig(
        num_pages=args.pages, num_files=args.files, seed=args.seed, page_kb=args.page_kb
    )
    for p in generate_crawl(args.output, cfg):
        print(p)
    return 0


def _preview(run_dir: Path, n: int = 1) -> str:
    from kosmos_data.outputs import read_parquet_dir

    table = read_parquet_dir(str(run_dir / "docs"))
    if table.num_rows == 0:
        return "(no documents kept)"
    row = table.slice(0, n).to_pylist()[0]
    parts = []
    for text, image in zip(row["texts"], row["images"], strict=True):
        if image is not None:
            parts.append(f"  [image] {image}")
        else:
            snippet = " ".join(text.split())
            parts.append(f"  [text]  {snippet[:100]}{'…' if len(snippet) > 100 else ''}")
    return f"{row['url']}\n" + "\n".join(parts)


def _cmd_demo(args: argparse.Namespace) -> int:
    from kosmos_cli.demo import run_demo

    code = run_demo(args.output, args.pages, args.seed, args.train_steps)
    if code == 0:
        run_dir = Path(args.output) / "interleaved"
        print(f"\nfirst kept web document ({run_dir / 'docs'}):")
        print(_preview(run_dir))
    return code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        _setup_logging(logging.INFO)
        return _cmd_run(argv[1:])
    if argv[:1] and argv[0] in COMMANDS:
        _setup_logging(logging.INFO)
        return _cmd_external(argv[0], argv[1:])

    parser = argparse.ArgumentParser(prog="kosmos-data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help=f"run a pipeline ({', '.join(JOBS)}): kosmos-data run JOB --help")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=f"{help_text} (kosmos-data {name} --help)")

    d = sub.add_parser(
        "demo",
        help="generate the three sources, build their shards with a local image server, "
        "and train a tiny model on them",
    )
    d.add_argument("--output", default="demo-output")
    d.add_argument("--pages", type=int, default=400)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--train-steps", type=int, default=40, help="0 skips training")

    s = sub.add_parser("sample-crawl", help="write the generated sample crawl")
    s.add_argument("--output", required=True)
    s.add_argument("--pages", type=int, default=400)
    s.add_argument("--files", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--page-kb", type=int, default=0, help="pad pages to ~K KB (bench)")

    from kosmos_data.funnel import FUNNEL_FORMATS

    f = sub.add_parser("funnel", help="print a run's funnel table (text, Markdown or LaTeX)")
    f.add_argument("run_dir")
    f.add_argument(
        "--format",
        choices=FUNNEL_FORMATS,
        default="text",
        help="text (aligned columns), markdown (a table for issues and READMEs) or latex "
        "(a booktabs table for a paper)",
    )

    args = parser.parse_args(argv)
    _setup_logging(logging.WARNING)
    return {"demo": _cmd_demo, "sample-crawl": _cmd_sample_crawl, "funnel": _cmd_funnel}[args.cmd](
        args
    )


def console_main() -> None:
    """The ``kosmos-data`` script: ``main()``, then an exit without interpreter finalisation.

    Tearing down the interpreter after a job (deallocating the module state of Beam, pandas,
    pyarrow, gRPC and the models) cost ~0.55 CPU-s of a ~3.3 CPU-s 1-record run, paid by
    every invocation. Every output is written and closed before ``main`` returns; what a
    normal exit would still do that matters is done here: the ``atexit`` handlers run,
    logging is shut down and both standard streams are flushed, then ``os._exit`` ends the
    process with ``main``'s code. An exception (a traceback, ``SystemExit`` from argparse)
    leaves through the normal exit."""
    code = main()
    try:
        atexit._run_exitfuncs()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(int(code or 0))


if __name__ == "__main__":
    console_main()
