"""Local multi-process runs fork their SDK workers from the launcher when it is safe to
(``kosmos_data/beam/forked_workers.py``), and start them as new interpreters otherwise."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from kosmos_data.beam.forked_workers import ForkedWorkerPool

from .conftest import ROOT


def _python(code: str, timeout: float | None = None) -> str:
    """Run ``code`` in a fresh interpreter (a launcher in a known state); its stdout.
    ``timeout`` turns a hang into a failure (``subprocess.TimeoutExpired``)."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_workers_are_forked_from_the_launcher_and_hold_its_state(tmp_path):
    """A value the launcher set at run time on an imported module is visible in the
    workers (a new interpreter would import the module afresh), and each worker's parent is
    the launcher itself (Beam's spawned workers run under ``/bin/sh -c``)."""
    code = """
        import json, os
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
        from kosmos_data.beam.runner import make_pipeline

        OUT = OUT_DIR
        json.kosmos_probe = "set by the launcher"
        argv = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
        p = make_pipeline(PipelineOptions(argv))
        (
            p
            | beam.Create(list(range(8)))
            | beam.Reshuffle()
            | beam.Map(lambda _: (getattr(json, "kosmos_probe", None), os.getppid(), os.getpid()))
            | beam.Map(lambda t: open(os.path.join(OUT, str(t[2])), "w").write(json.dumps(t)))
        )
        p.run().wait_until_finish()
        print(os.getpid())
        """
    launcher = int(_python(code.replace("OUT_DIR", repr(str(tmp_path)))).split()[-1])
    probes = [json.loads(f.read_text()) for f in sorted(tmp_path.iterdir())]
    assert probes, "no worker ran"
    for value, parent, pid in probes:
        assert value == "set by the launcher"
        assert parent == launcher and pid != launcher


def test_fork_blocker_names_running_threads_and_grpc():
    out = _python(
        """
        import threading
        import grpc
        from kosmos_data.beam.forked_workers import fork_blocker

        print(fork_blocker())
        stop = threading.Event()
        t = threading.Thread(target=stop.wait)
        t.start()
        print(fork_blocker())
        stop.set(); t.join()
        channel = grpc.insecure_channel("localhost:1")
        try:  # nothing listens there; once the channel has tried, gRPC's core is running
            grpc.channel_ready_future(channel).result(timeout=0.1)
        except grpc.FutureTimeoutError:
            pass
        print(fork_blocker())
        channel.close()
        """
    )
    clean, threaded, after_grpc = out.strip().splitlines()
    assert clean == "None"
    assert threaded == "2 Python threads are running"
    assert after_grpc == "gRPC is already running in this process"


def test_children_no_worker_used_are_released_and_reaped():
    pool = ForkedWorkerPool(2)
    pids = [pid for pid, _ in pool._idle]
    assert len(set(pids)) == 2 and os.getpid() not in pids
    for pid in pids:
        os.kill(pid, 0)  # parked, alive
    pool.close()
    for pid in pids:  # exited at EOF and reaped by close: no such process any more
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    assert pool.launch({}) is None  # nothing left to launch


def test_pool_size_must_be_positive():
    with pytest.raises(ValueError, match=r"ForkedWorkerPool\.size"):
        ForkedWorkerPool(0)


_DYING_WORKER = """
    import os, sys, threading
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from kosmos_data.beam.runner import make_pipeline

    if SPAWN:  # a second Python thread: no forking
        threading.Thread(target=threading.Event().wait, daemon=True).start()
    argv = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    p = make_pipeline(PipelineOptions(argv))
    p | beam.Create(list(range(8))) | beam.Reshuffle() | beam.Map(
        lambda x: os._exit(3) if x == 5 else x)
    try:
        p.run().wait_until_finish()
        print("finished")
    except RuntimeError as e:
        print("raised:", e)
    sys.stdout.flush()
    os._exit(0)
    """


@pytest.mark.parametrize("spawn", [False, True], ids=["forked", "spawned"])
def test_a_worker_that_dies_fails_the_run_with_one_clear_error(spawn):
    """Beam's subprocess workers leave the runner waiting forever when one dies; ours abort
    its pending instructions, so the run raises, naming the process and its exit code."""
    # Without the abort the run never ends: the timeout (far above the ~2-4 s it takes)
    # makes that a failure, not a hung suite.
    out = _python(_DYING_WORKER.replace("SPAWN", str(spawn)), timeout=300)
    last = out.strip().splitlines()[-1]
    assert last.startswith("raised: SDK worker process "), out[-2000:]
    assert last.endswith("exited with code 3 while the pipeline ran (out of memory? its "
                         "traceback, if any, is above)")  # fmt: skip


def _entry(path: str, severity: str, message: str, trace: str = ""):
    from apache_beam.portability.api import beam_fn_api_pb2

    entry = beam_fn_api_pb2.LogEntry(
        severity=getattr(beam_fn_api_pb2.LogEntry.Severity, severity),
        message=message,
        log_location=f"{path}:42",
        thread="MainThread",
        trace=trace,
    )
    entry.timestamp.seconds = 1_800_000_000
    return entry


def test_worker_log_entries_are_logged_as_the_launcher_would(caplog):
    """A worker's records come out under the logger of the module that wrote them, at
    their level (Beam's servicer wraps each in a ``Worker: <protobuf>`` line); the
    harness's own channel chatter and start-up notices go to DEBUG."""
    import apache_beam.runners.worker.sdk_worker as sdk_worker

    import kosmos_data.beam.checkpoint as checkpoint
    from kosmos_data.beam.forked_workers import emit_worker_entry

    with caplog.at_level(logging.INFO):
        emit_worker_entry(_entry(checkpoint.__file__, "INFO", "read: 1/2 archives"))
        emit_worker_entry(_entry(sdk_worker.__file__, "INFO", "Control channel established."))
        emit_worker_entry(_entry(sdk_worker.__file__, "WARN", "Discarding unparseable args: []"))
        emit_worker_entry(_entry(sdk_worker.__file__, "ERROR", "Error processing", "Trace\n  x"))
        emit_worker_entry(_entry("/nowhere/else.py", "WARN", "odd"))
    got = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert got == [
        ("kosmos_data.beam.checkpoint", "INFO", "read: 1/2 archives"),
        ("apache_beam.runners.worker.sdk_worker", "ERROR", "Error processing\nTrace\n  x"),
        ("worker", "WARNING", "odd"),
    ]
    assert caplog.records[0].created == 1_800_000_000
    assert caplog.records[0].pathname == checkpoint.__file__ and caplog.records[0].lineno == 42


def test_progress_counts_are_shared_with_forked_workers():
    """The run-wide progress of ``read`` and ``checkpointed`` lives in memory shared with
    forked children: an archive counted in a child shows in the next line the launcher (or
    another child) logs. Without it each worker counted only its own archives. A new run
    (another start time) counts from zero."""
    from kosmos_data.beam.checkpoint import _Progress

    def files(line: str) -> int:
        return int(line.split(": ", 1)[1].split("/", 1)[0])

    first = files(_Progress.update("checkpointed", 10, 0.0, 5))
    pid = os.fork()
    if pid == 0:  # the child counts one archive and leaves
        try:
            _Progress.update("checkpointed", 10, 0.0, 7)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert files(_Progress.update("checkpointed", 10, 0.0, 1)) == first + 2
    # another run (its own start time) counts from zero
    assert files(_Progress.update("checkpointed", 10, 1.0, 1)) == 1
    assert _Progress.update("read", 3, 2.0, 4).startswith("read: 1/3 archives, 4 records")
