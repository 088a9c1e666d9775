"""Launching a job on a distributed runner (Beam side of ``kosmos-data submit``).

A real submission is exactly ``kosmos-data run JOB`` with the runner's options appended, so
the job is validated, its run directory prepared (``--resume`` works the same) and its
funnel written the same way on every runner. ``--dry-run`` builds the job description
offline: for Dataflow with Beam's ``--dry_run=True --no_auth`` (nothing is sent to GCP), for
Flink the portable pipeline and options (no job server is started); the run directory is
not touched and no input bucket is listed (remote globs and path lists are matched by the
pipeline), which is how the job graph and worker image are checked in CI.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import sys

import apache_beam as beam

from kosmos_cli.main import JOBS

log = logging.getLogger(__name__)


def _build_interleaved(argv: list[str]) -> beam.Pipeline:
    """The interleaved job's pipeline for ``argv``, built, not run. Remote inputs stay
    patterns here (``expand_inputs(defer_remote=True)``); the pipeline matches them on the
    workers, so nothing lists a bucket from the launching machine. ``--resume`` is not looked
    up either: which archives an earlier attempt completed is in the run directory (its
    ``_done/`` markers), which a dry run does not read, so the graph shown reads every
    archive, and a warning says so."""
    from pipelines import interleaved
    from pipelines.options import parse_job

    parsed = parse_job(interleaved.parser(help_text=False), interleaved.SECTIONS, argv)
    config = interleaved.config_from_args(parsed)
    if config.resume:
        log.warning(
            "dry run: --resume is not looked up (the run directory %s is not read); the job "
            "shown reads every archive, the real run skips those completed earlier",
            config.output,
        )
        config = dataclasses.replace(config, resume=False)
    pipeline = beam.Pipeline(options=parsed.options)
    interleaved.build(pipeline, config)
    return pipeline


def dataflow_job_description(argv: list[str]) -> dict:
    """The Dataflow job (JSON) the interleaved job would submit, built without GCP access."""
    pipeline = _build_interleaved([*argv, "--dry_run=True", "--no_auth"])
    result = pipeline.run()
    return describe_job(result.job)


def portable_job_description(argv: list[str]) -> dict:
    """What ``submit flink`` would send a Flink job server, built offline: the runner's
    options and the portable pipeline (every transform, its SDK environment: the worker
    image for DOCKER, the worker pool for EXTERNAL). No job server is started or called."""
    from apache_beam.options.pipeline_options import PortableOptions, StandardOptions
    from apache_beam.transforms import environments
    from google.protobuf import json_format

    pipeline = _build_interleaved(argv)
    options = pipeline.options
    env = environments.Environment.from_options(options.view_as(PortableOptions))
    proto = pipeline.to_runner_api(default_environment=env)
    return {
        "runner": options.view_as(StandardOptions).runner,
        "options": options.get_all_options(drop_default=True),
        "pipeline": json_format.MessageToDict(proto),
    }


def describe_job(job) -> dict:
    """Dataflow's job request for ``job`` (an ``apiclient.Job``), completed offline.

    With ``--dry_run`` Beam stops before its API client fills in the job's environment
    (worker pools, container image, options, the staged pipeline); this does the same, with
    no packages staged, and adds the portable pipeline graph (``pipeline``), so the steps
    and the worker image can be checked without GCP.
    """
    import hashlib

    from apache_beam.options.pipeline_options import GoogleCloudOptions
    from apache_beam.runners.dataflow.internal import apiclient
    from google.protobuf import json_format

    overrides: dict = {}
    apiclient.DataflowApplicationClient._apply_sdk_environment_overrides(
        job.proto_pipeline, overrides, job.options
    )
    staging = job.options.view_as(GoogleCloudOptions).staging_location
    job.proto.environment = apiclient.Environment(
        packages=[],
        options=job.options,
        environment_version=apiclient._FNAPI_ENVIRONMENT_MAJOR_VERSION,
        proto_pipeline_staged_url=f"{staging.rstrip('/')}/pipeline.pb",
        proto_pipeline=job.proto_pipeline,
        pipeline_proto_hash=hashlib.sha256(job.proto_pipeline.SerializeToString()).hexdigest(),
    ).proto
    desc = json.loads(job.json())
    desc["pipeline"] = json_format.MessageToDict(job.proto_pipeline)
    return desc


DESCRIBE = {"dataflow": dataflow_job_description, "flink": portable_job_description}


def _one_line(e: BaseException) -> str:
    first = (str(e).strip().splitlines() or [""])[0]
    return first if isinstance(e, ValueError) else f"{type(e).__name__}: {first}"


def launch(
    job: str,
    argv: list[str],
    *,
    dry_run: bool = False,
    job_description: str = "",
    runner: str = "dataflow",
) -> int:
    """Run ``job`` with ``argv`` (job flags + runner options); 0 on success. With
    ``dry_run``, print (or write to ``job_description``) the job ``runner`` would be sent,
    built offline; any error is one line on stderr and exit 2."""
    if job not in JOBS:
        print(f"error: --job {job}: unknown job; known: {sorted(JOBS)}", file=sys.stderr)
        return 2
    if dry_run:
        if job != "interleaved":
            print("error: --dry-run is implemented for the interleaved job", file=sys.stderr)
            return 2
        try:
            text = json.dumps(DESCRIBE[runner](argv), indent=2, sort_keys=True, default=str)
            if job_description:
                with open(job_description, "w", encoding="utf-8") as f:
                    f.write(text + "\n")
        except SystemExit as e:  # argparse has printed its one line
            return int(e.code or 2)
        except Exception as e:  # a dry run reports, it never shows a traceback
            print(f"error: {_one_line(e)}", file=sys.stderr)
            return 2
        print(f"job description: {job_description}" if job_description else text)
        return 0
    return importlib.import_module(JOBS[job]).main(argv)
