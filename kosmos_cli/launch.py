"""Launching a job on a distributed runner (Beam side of ``kosmos-data submit``).

A real submission is exactly ``kosmos-data run JOB`` with the runner's options appended, so
the job is validated, its run directory prepared (``--resume`` works the same) and its
funnel written the same way on every runner. ``--dry-run`` (Dataflow) builds the job
description offline with Beam's ``--dry_run=True --no_auth``: nothing is sent to GCP and the
run directory is not touched, which is how the job graph and worker image are checked in CI.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys

import apache_beam as beam

from kosmos_cli.main import JOBS

log = logging.getLogger(__name__)


def dataflow_job_description(argv: list[str]) -> dict:
    """The Dataflow job (JSON) the interleaved job would submit, built without GCP access."""
    from pipelines import interleaved
    from pipelines.options import parse_job

    parsed = parse_job(
        interleaved.parser(), interleaved.SECTIONS, [*argv, "--dry_run=True", "--no_auth"]
    )
    config = interleaved.config_from_args(parsed)
    pipeline = beam.Pipeline(options=parsed.options)
    interleaved.build(pipeline, config)
    result = pipeline.run()
    return describe_job(result.job)


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


def launch(job: str, argv: list[str], *, dry_run: bool = False, job_description: str = "") -> int:
    """Run ``job`` with ``argv`` (job flags + runner options); 0 on success."""
    if job not in JOBS:
        print(f"error: --job {job}: unknown job; known: {sorted(JOBS)}", file=sys.stderr)
        return 2
    if dry_run:
        if job != "interleaved":
            print("error: --dry-run is implemented for the interleaved job", file=sys.stderr)
            return 2
        try:
            desc = dataflow_job_description(argv)
        except (ValueError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        text = json.dumps(desc, indent=2, sort_keys=True)
        if job_description:
            with open(job_description, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            print(f"job description: {job_description}")
        else:
            print(text)
        return 0
    return importlib.import_module(JOBS[job]).main(argv)
