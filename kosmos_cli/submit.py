"""``kosmos-data submit dataflow|flink``: run a job on Beam's distributed runners.

    kosmos-data submit dataflow --dataflow-config deploy/dataflow/dataflow.example.json \\
        [--project P --region R ...] [--dry-run [--job-description job.json]] \\
        --input 'gs://bucket/CC-MAIN-2024-10/warc.paths.gz' --paths-prefix s3://commoncrawl/ \\
        --output gs://bucket/runs/r1 [job flags]
    kosmos-data submit flink --flink-master host:8081 --flink-version 1.19 \\
        --environment-type EXTERNAL --environment-config localhost:50000 --parallelism 16 \\
        --input ... --output ... [job flags]

The runner settings live in one frozen, validated config per runner (``DataflowConfig``,
``FlinkConfig``), read from a JSON file (``--dataflow-config``/``--flink-config``, fields as
below, documented in ``deploy/*/README.md``) with flags overriding it; they become Beam
pipeline options (``to_beam_args``). Everything after the submit flags is the job's own
flags (``kosmos-data run interleaved --help``). This module builds options only; Beam and
the pipelines are imported when the job is launched.

Flink: with ``--flink-master`` Beam's ``FlinkRunner`` starts the Flink job server for
``--flink-version`` (the version of the cluster: Beam 2.77 publishes 1.19, 1.20, 2.0, 2.1,
2.2); with ``--job-endpoint`` the job goes through ``PortableRunner`` to a job server that is
already running (the Flink job server container beside the cluster, or — in the tests —
Beam's Python local job service). ``DOCKER`` starts one SDK container per task manager slot;
``EXTERNAL`` uses SDK worker pools already running next to the task managers (the sidecars
in ``deploy/flink/flink-session.yaml``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kosmos_data.config import ConfigError, build_config, merge

#: Flink versions Beam 2.77's FlinkRunner publishes job servers for.
FLINK_VERSIONS = ("1.19", "1.20", "2.0", "2.1", "2.2")
ENVIRONMENT_TYPES = ("DOCKER", "EXTERNAL", "PROCESS", "LOOPBACK")
AUTOSCALING = ("THROUGHPUT_BASED", "NONE")


@dataclass(frozen=True)
class DataflowConfig:
    """DataflowRunner settings (Beam's GoogleCloudOptions/WorkerOptions/SetupOptions).

    ``sdk_container_image`` is the worker image from ``deploy/dataflow/Dockerfile``
    (kosmos-data and its models pre-installed; workers start in seconds and never pip
    install). ``setup_file`` is the alternative for images without kosmos-data: workers
    build and install the package at start-up. One of the two is required.
    """

    project: str = ""
    region: str = ""
    temp_location: str = ""
    staging_location: str = ""
    job_name: str = ""
    machine_type: str = "n2-standard-4"
    num_workers: int = 1
    max_num_workers: int = 100
    autoscaling_algorithm: str = "THROUGHPUT_BASED"
    disk_size_gb: int = 50
    sdk_container_image: str = ""
    setup_file: str = ""
    service_account_email: str = ""
    network: str = ""
    subnetwork: str = ""
    use_public_ips: bool = True
    experiments: tuple[str, ...] = ("use_runner_v2",)
    labels: tuple[str, ...] = ()
    dataflow_service_options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("project", "region", "temp_location"):
            if not getattr(self, name):
                raise ValueError(f"DataflowConfig.{name} is required")
        for name in ("temp_location", "staging_location"):
            value = getattr(self, name)
            if value and not value.startswith("gs://"):
                raise ValueError(f"DataflowConfig.{name} must be a gs:// path, got {value!r}")
        if not (self.sdk_container_image or self.setup_file):
            raise ValueError(
                "DataflowConfig.sdk_container_image (or setup_file) is required: workers need "
                "kosmos-data installed (see deploy/dataflow/Dockerfile)"
            )
        if self.num_workers < 1 or self.max_num_workers < self.num_workers:
            raise ValueError(
                "DataflowConfig.max_num_workers must be >= num_workers >= 1, got "
                f"{self.max_num_workers} and {self.num_workers}"
            )
        if self.autoscaling_algorithm not in AUTOSCALING:
            raise ValueError(
                f"DataflowConfig.autoscaling_algorithm must be one of {AUTOSCALING}, "
                f"got {self.autoscaling_algorithm!r}"
            )
        if self.disk_size_gb < 10:
            raise ValueError(f"DataflowConfig.disk_size_gb must be >= 10, got {self.disk_size_gb}")

    def to_beam_args(self) -> list[str]:
        """The DataflowRunner pipeline options, as flags."""
        staging = self.staging_location or self.temp_location.rstrip("/") + "/staging"
        args = [
            "--runner=DataflowRunner",
            f"--project={self.project}",
            f"--region={self.region}",
            f"--temp_location={self.temp_location}",
            f"--staging_location={staging}",
            f"--machine_type={self.machine_type}",
            f"--num_workers={self.num_workers}",
            f"--max_num_workers={self.max_num_workers}",
            f"--autoscaling_algorithm={self.autoscaling_algorithm}",
            f"--disk_size_gb={self.disk_size_gb}",
        ]
        optional = {
            "job_name": self.job_name,
            "sdk_container_image": self.sdk_container_image,
            "setup_file": self.setup_file,
            "service_account_email": self.service_account_email,
            "network": self.network,
            "subnetwork": self.subnetwork,
        }
        args += [f"--{k}={v}" for k, v in optional.items() if v]
        if not self.use_public_ips:
            args.append("--no_use_public_ips")
        args += [f"--experiments={e}" for e in self.experiments]
        args += [f"--labels={label}" for label in self.labels]
        args += [f"--dataflow_service_options={o}" for o in self.dataflow_service_options]
        return args


@dataclass(frozen=True)
class FlinkConfig:
    """FlinkRunner (or PortableRunner to a running Flink job server) settings."""

    flink_master: str = ""
    flink_version: str = "1.19"
    job_endpoint: str = ""
    environment_type: str = "DOCKER"
    environment_config: str = ""
    parallelism: int = -1
    max_parallelism: int = -1
    flink_submit_uber_jar: bool = False
    sdk_worker_parallelism: int = 1
    extra_args: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if bool(self.flink_master) == bool(self.job_endpoint):
            raise ValueError(
                "FlinkConfig: give exactly one of flink_master (FlinkRunner starts a job "
                "server) or job_endpoint (a running job server, PortableRunner)"
            )
        if self.flink_version not in FLINK_VERSIONS:
            raise ValueError(
                f"FlinkConfig.flink_version must match the cluster and be one of "
                f"{FLINK_VERSIONS}, got {self.flink_version!r}"
            )
        if self.environment_type not in ENVIRONMENT_TYPES:
            raise ValueError(
                f"FlinkConfig.environment_type must be one of {ENVIRONMENT_TYPES}, "
                f"got {self.environment_type!r}"
            )
        if self.environment_type in ("DOCKER", "EXTERNAL") and not self.environment_config:
            raise ValueError(
                "FlinkConfig.environment_config is required for DOCKER (the SDK image, "
                "deploy/dataflow/Dockerfile) and EXTERNAL (the worker pool, host:port)"
            )
        if self.parallelism == 0 or self.parallelism < -1:
            raise ValueError(f"FlinkConfig.parallelism must be -1 or >= 1, got {self.parallelism}")
        if self.sdk_worker_parallelism < 0:
            raise ValueError("FlinkConfig.sdk_worker_parallelism must be >= 0")

    def to_beam_args(self) -> list[str]:
        if self.job_endpoint:
            args = ["--runner=PortableRunner", f"--job_endpoint={self.job_endpoint}"]
        else:
            args = [
                "--runner=FlinkRunner",
                f"--flink_master={self.flink_master}",
                f"--flink_version={self.flink_version}",
            ]
            if self.flink_submit_uber_jar:
                args.append("--flink_submit_uber_jar")
            if self.parallelism != -1:
                args.append(f"--parallelism={self.parallelism}")
            if self.max_parallelism != -1:
                args.append(f"--max_parallelism={self.max_parallelism}")
        args.append(f"--environment_type={self.environment_type}")
        if self.environment_config:
            args.append(f"--environment_config={self.environment_config}")
        args.append(f"--sdk_worker_parallelism={self.sdk_worker_parallelism}")
        return args + list(self.extra_args)


RUNNERS = {"dataflow": DataflowConfig, "flink": FlinkConfig}


def _parser(runner: str) -> argparse.ArgumentParser:
    cls = RUNNERS[runner]
    p = argparse.ArgumentParser(
        prog=f"kosmos-data submit {runner}",
        description=f"Run a kosmos-data job on {runner.capitalize()}. Unknown flags are the "
        "job's own (kosmos-data run interleaved --help).",
    )
    p.add_argument(f"--{runner}-config", dest="config_file", help=f"JSON file of {cls.__name__}")
    p.add_argument("--job", default="interleaved", help="which job (default interleaved)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="build the job description offline (no GCP calls or job server, no bucket "
        "listed, the run directory not touched) and print it or write it to --job-description",
    )
    p.add_argument("--job-description", default="", help="where --dry-run writes the job")
    p.add_argument("--print-options", action="store_true", help="print the Beam options and exit")
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None)
        elif str(f.type).startswith("tuple"):
            p.add_argument(flag, dest=f.name, action="append", default=None)
        elif f.type in ("int", int):
            p.add_argument(flag, dest=f.name, type=int, default=None)
        else:
            p.add_argument(flag, dest=f.name, default=None)
    return p


def runner_config(runner: str, argv: list[str]) -> tuple[object, argparse.Namespace, list[str]]:
    """(validated runner config, submit flags, the job's own flags) from ``argv``."""
    parser = _parser(runner)
    ns, job_argv = parser.parse_known_args(argv)
    section: dict = {}
    if ns.config_file:
        try:
            section = json.loads(Path(ns.config_file).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"--{runner}-config {ns.config_file}: {e}") from e
        if not isinstance(section, dict):
            raise ConfigError(f"--{runner}-config {ns.config_file}: expected a JSON object")
        section = {k: v for k, v in section.items() if not k.startswith("_")}  # _comments
    flags = {f.name: getattr(ns, f.name) for f in dataclasses.fields(RUNNERS[runner])}
    cfg = build_config(RUNNERS[runner], merge(section, flags), runner)
    return cfg, ns, job_argv


def main(argv: list[str]) -> int:
    """``kosmos-data submit {dataflow,flink} [submit flags] [job flags]``."""
    from kosmos_cli.main import check_choice

    usage = f"usage: kosmos-data submit {{{','.join(RUNNERS)}}} [flags]  (-h for flags)"
    code = check_choice(
        argv, RUNNERS, usage, "runners", lambda cls: (cls.__doc__ or "").splitlines()[0]
    )
    if code is not None:
        return code
    runner, rest = argv[0], argv[1:]
    if "-h" in rest or "--help" in rest:
        _parser(runner).print_help()
        return 0
    try:
        cfg, ns, job_argv = runner_config(runner, rest)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    beam_args = cfg.to_beam_args()  # type: ignore[attr-defined]
    if ns.print_options:
        print("\n".join(beam_args))
        return 0
    from kosmos_cli.launch import launch

    return launch(
        ns.job,
        job_argv + beam_args,
        dry_run=ns.dry_run,
        job_description=ns.job_description,
        runner=runner,
    )
