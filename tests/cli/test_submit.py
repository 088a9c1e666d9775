"""``kosmos-data submit``: runner option building and the offline Dataflow job description."""

from __future__ import annotations

import base64
import gzip
import importlib.util
import json
import logging
from pathlib import Path

import pytest

from kosmos_cli import submit
from kosmos_cli.submit import DataflowConfig, FlinkConfig, runner_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "dataflow" / "dataflow.example.json"


def test_example_config_builds_complete_dataflow_options():
    cfg, ns, job_argv = runner_config(
        "dataflow", ["--dataflow-config", str(EXAMPLE), "--max-num-workers", "500", "--input", "x"]
    )
    args = cfg.to_beam_args()
    assert job_argv == ["--input", "x"] and ns.config_file == str(EXAMPLE)
    for want in (
        "--runner=DataflowRunner",
        "--project=my-gcp-project",
        "--region=us-central1",
        "--temp_location=gs://my-kosmos-bucket/tmp",
        "--staging_location=gs://my-kosmos-bucket/staging",
        "--machine_type=n2-standard-4",
        "--max_num_workers=500",  # the flag overrides the file
        "--autoscaling_algorithm=THROUGHPUT_BASED",
        "--sdk_container_image=us-central1-docker.pkg.dev/my-gcp-project/kosmos/kosmos-data:0.1.0",
        "--service_account_email=kosmos-worker@my-gcp-project.iam.gserviceaccount.com",
        "--experiments=use_runner_v2",
    ):
        assert want in args


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"region": "r", "temp_location": "gs://b/t", "sdk_container_image": "i"}, "project"),
        ({"project": "p", "region": "r", "temp_location": "/tmp/x", "setup_file": "s"}, "gs://"),
        ({"project": "p", "region": "r", "temp_location": "gs://b/t"}, "sdk_container_image"),
        (
            {
                "project": "p",
                "region": "r",
                "temp_location": "gs://b/t",
                "setup_file": "s",
                "num_workers": 5,
                "max_num_workers": 2,
            },
            "max_num_workers",
        ),
    ],
)
def test_dataflow_config_names_the_bad_field(fields, message):
    with pytest.raises(ValueError, match=message):
        DataflowConfig(**fields)


def test_flink_options_for_flink_runner_and_for_a_job_server():
    cfg = FlinkConfig(
        flink_master="flink:8081",
        flink_version="1.19",
        environment_type="DOCKER",
        environment_config="reg/kosmos-data:0.1.0",
        parallelism=16,
    )
    assert cfg.to_beam_args() == [
        "--runner=FlinkRunner",
        "--flink_master=flink:8081",
        "--flink_version=1.19",
        "--parallelism=16",
        "--environment_type=DOCKER",
        "--environment_config=reg/kosmos-data:0.1.0",
        "--sdk_worker_parallelism=1",
    ]
    cfg = FlinkConfig(
        job_endpoint="localhost:8099",
        environment_type="EXTERNAL",
        environment_config="localhost:50000",
    )
    assert cfg.to_beam_args()[:2] == ["--runner=PortableRunner", "--job_endpoint=localhost:8099"]
    with pytest.raises(ValueError, match="flink_version"):
        FlinkConfig(flink_master="f:8081", flink_version="1.15", environment_type="LOOPBACK")
    with pytest.raises(ValueError, match="exactly one"):
        FlinkConfig(environment_type="LOOPBACK")
    with pytest.raises(ValueError, match="environment_config"):
        FlinkConfig(flink_master="f:8081", environment_type="EXTERNAL")


def test_submit_print_options_and_bad_config(capsys, tmp_path):
    assert (
        submit.main(
            [
                "flink",
                "--flink-master",
                "f:8081",
                "--environment-type",
                "LOOPBACK",
                "--print-options",
            ]
        )
        == 0
    )
    assert "--runner=FlinkRunner" in capsys.readouterr().out.split()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"project": "p", "regoin": "r"}))
    assert submit.main(["dataflow", "--dataflow-config", str(bad), "--print-options"]) == 2
    assert "regoin" in capsys.readouterr().err


def _dataflow_dry_run(tmp_path, *flags: str) -> dict:
    """``submit dataflow --dry-run`` with the example config and ``flags``: the job (JSON)."""
    job_file = tmp_path / "job.json"
    argv = ["dataflow", "--dataflow-config", str(EXAMPLE), "--dry-run",
            "--job-description", str(job_file), *flags]  # fmt: skip
    assert submit.main(argv) == 0
    return json.loads(job_file.read_text())


def test_dataflow_dry_run_job_description(tmp_path):
    """The full Dataflow job for a Common Crawl path list, built offline (--dry_run)."""
    paths = tmp_path / "warc.paths.gz"
    rel = [f"crawl-data/CC-MAIN-2024-10/segments/17/warc/CC-MAIN-{i:05d}.warc.gz" for i in range(5)]
    paths.write_bytes(gzip.compress(("\n".join(rel) + "\n").encode()))
    job = _dataflow_dry_run(
        tmp_path, "--input", str(paths), "--paths-prefix", "s3://commoncrawl/",
        "--max-files", "3", "--output", "gs://my-kosmos-bucket/runs/r1",
    )  # fmt: skip
    env = job["environment"]
    pool = env["workerPools"][0]
    assert pool["machineType"] == "n2-standard-4"
    assert pool["autoscalingSettings"]["maxNumWorkers"] == 250
    assert pool["autoscalingSettings"]["algorithm"] == "AUTOSCALING_ALGORITHM_BASIC"
    image = "us-central1-docker.pkg.dev/my-gcp-project/kosmos/kosmos-data:0.1.0"
    assert image in json.dumps(pool)
    assert env["serviceAccountEmail"] == "kosmos-worker@my-gcp-project.iam.gserviceaccount.com"
    assert "my-kosmos-bucket/tmp/kosmos-interleaved" in env["tempStoragePrefix"]
    opts = env["sdkPipelineOptions"]["options"]
    assert opts["project"] == "my-gcp-project" and opts["region"] == "us-central1"
    # The portable graph holds the stable step labels, and its environment is the image.
    components = job["pipeline"]["components"]
    labels = {t["uniqueName"] for t in components["transforms"].values()}
    for step in (
        "ReadAndProcessArchives", "ReadAndProcessArchives/SpreadArchives",
        "ReadAndProcessArchives/ProcessArchive", "CheckpointPerFile/GroupByFile",
        "CheckpointPerFile/WriteMarker",
        "WriteRunOutputs/WriteDocs", "WriteRunOutputs/WriteDropped",
        "WriteRunOutputs/WriteDeadLetters", "WriteFunnel", "CorpusBreakdowns",
    ):  # fmt: skip
        assert step in labels, step
    # Checkpoints are read back only in a run that resumes some (not this one).
    assert "CheckpointPerFile/ReadCheckpoint" not in labels
    docker = [e for e in components["environments"].values() if e["urn"] == "beam:env:docker:v1"]
    assert docker and all(image.encode() in base64.b64decode(e["payload"]) for e in docker)


def test_flex_template_parameters_map_to_job_flags():
    meta = json.loads((ROOT / "deploy/dataflow/flex-template/metadata.json").read_text())
    spec = importlib.util.spec_from_file_location(
        "flex_main", ROOT / "deploy/dataflow/flex-template/main.py"
    )
    flex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(flex)
    names = {p["name"] for p in meta["parameters"]}
    assert names == set(flex.JOB_FLAGS) | set(flex.BOOLEAN_FLAGS)
    assert flex.translate(
        [
            "--input=gs://b/w.paths.gz",
            "--paths_prefix=s3://commoncrawl/",
            "--resume=true",
            "--overwrite=false",
            "--runner=DataflowRunner",
        ]
    ) == [
        "--input",
        "gs://b/w.paths.gz",
        "--paths-prefix",
        "s3://commoncrawl/",
        "--resume",
        "--runner=DataflowRunner",
    ]
    # Every mapped flag is a real flag of the job.
    from pipelines.interleaved import parser

    text = parser().format_help()
    for flag in [*flex.JOB_FLAGS.values(), *flex.BOOLEAN_FLAGS.values()]:
        assert flag in text, flag


REMOTE_INPUTS = [
    "gs://my-kosmos-bucket/crawl/*.warc.gz",
    "s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/*/warc/*.warc.gz",
    "gs://my-kosmos-bucket/CC-MAIN-2024-10/warc.paths.gz",
    "gs://my-kosmos-bucket/crawl/CC-MAIN-20240301000000-20240301010000-00000.warc.gz",
]


@pytest.fixture
def no_remote_io(monkeypatch):
    """Fail the test if the launcher lists or opens anything remote (it is offline here:
    a bucket listing would hang on credentials and end in a BeamIOError)."""
    from apache_beam.io.filesystems import FileSystems

    seen: list[str] = []

    def guard(real):
        def call(paths, *args, **kwargs):
            for p in [paths] if isinstance(paths, str) else paths:
                if "://" in p and not p.startswith("file://"):
                    seen.append(p)
                    raise AssertionError(f"the launcher touched {p}")
            return real(paths, *args, **kwargs)

        return staticmethod(call)

    for name in ("match", "open", "exists"):
        monkeypatch.setattr(FileSystems, name, guard(getattr(FileSystems, name)))
    return seen


def _labels(pipeline_json: dict) -> set[str]:
    return {t["uniqueName"] for t in pipeline_json["components"]["transforms"].values()}


def test_dataflow_dry_run_offline_with_remote_globs_and_path_lists(tmp_path, no_remote_io):
    """gs:// and s3:// globs and a gs:// path list: the full job, nothing listed; the globs
    and the list are in the job graph, matched by the pipeline (MatchAll + reshuffle)."""
    flags = ["--paths-prefix", "s3://commoncrawl/", "--max-files", "100",
             "--output", "gs://my-kosmos-bucket/runs/r1"]  # fmt: skip
    for spec in REMOTE_INPUTS:
        flags += ["--input", spec]
    job = _dataflow_dry_run(tmp_path, *flags)
    assert no_remote_io == []
    assert job["environment"]["workerPools"][0]["machineType"] == "n2-standard-4"
    labels = _labels(job["pipeline"])
    for step in (
        "ReadAndProcessArchives/ListArchives/MatchGlobs",
        "ReadAndProcessArchives/ListArchives/ReadPathLists",
        "ReadAndProcessArchives/ListArchives/SampleFiles",
        "ReadAndProcessArchives/ListArchives/SpreadMatched",
        "ReadAndProcessArchives/SpreadArchives",
        "ReadAndProcessArchives/ProcessArchive",
        "WriteRunOutputs/WriteDocs",
    ):
        assert step in labels, step


def test_dry_run_with_resume_reads_no_run_directory(tmp_path, no_remote_io, caplog):
    """--resume needs the run directory's completion markers; a dry run does not read them
    (offline, a gs:// run directory would be listed) and says so."""
    with caplog.at_level(logging.WARNING, logger="kosmos_cli.launch"):
        job = _dataflow_dry_run(tmp_path, "--output", "gs://my-kosmos-bucket/runs/r1",
                                "--resume", "--input", REMOTE_INPUTS[0])  # fmt: skip
    assert no_remote_io == []
    assert "--resume is not looked up" in caplog.text
    assert job["pipeline"]


def test_dry_run_with_a_remote_image_status_from_touches_no_bucket(tmp_path, no_remote_io):
    job = _dataflow_dry_run(
        tmp_path, "--output", "gs://my-kosmos-bucket/runs/r2", "--input", REMOTE_INPUTS[0],
        "--fetch-images", "--image-status-from", "gs://my-kosmos-bucket/runs/r1",
    )  # fmt: skip
    assert no_remote_io == []
    labels = _labels(job["pipeline"])
    assert any(label.endswith("ReadPreviousStatus/Read") for label in labels), sorted(labels)


def test_flink_dry_run_prints_the_portable_job_offline(capsys, no_remote_io):
    argv = [
        "flink",
        "--flink-master",
        "flink:8081",
        "--environment-type",
        "EXTERNAL",
        "--environment-config",
        "localhost:50000",
        "--parallelism",
        "16",
        "--dry-run",
        "--output",
        "s3://bucket/runs/r1",
    ]
    for spec in REMOTE_INPUTS:
        argv += ["--input", spec]
    assert submit.main(argv) == 0
    assert no_remote_io == []
    job = json.loads(capsys.readouterr().out)
    assert job["runner"] == "FlinkRunner"
    assert job["options"]["flink_master"] == "flink:8081" and job["options"]["parallelism"] == 16
    envs = job["pipeline"]["components"]["environments"].values()
    assert [e["urn"] for e in envs] == ["beam:env:external:v1"]
    assert "ReadAndProcessArchives/ListArchives/MatchGlobs" in _labels(job["pipeline"])


def test_dry_run_errors_are_one_line(tmp_path, capsys):
    base = [
        "dataflow",
        "--dataflow-config",
        str(EXAMPLE),
        "--dry-run",
        "--output",
        "gs://my-kosmos-bucket/runs/r1",
    ]
    missing = tmp_path / "nothing-here-*.warc.gz"
    assert submit.main([*base, "--input", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert "nothing-here" in err and len(err.splitlines()) == 1, err
    flink = [
        "flink",
        "--flink-master",
        "f:8081",
        "--environment-type",
        "LOOPBACK",
        "--dry-run",
        "--output",
        str(tmp_path / "out"),
        "--input",
        str(tmp_path / "no.paths.gz"),
    ]
    assert submit.main(flink) == 2
    err = capsys.readouterr().err.strip()
    assert "no.paths.gz" in err and len(err.splitlines()) == 1, err
