"""Local multi-process runs whose SDK workers are forked from the launching process.

Beam's FnApiRunner in ``multi_processing`` mode starts every SDK worker as ``python -m
apache_beam.runners.worker.sdk_worker_main``: a fresh interpreter that imports Beam and then,
to unpickle its first DoFn, kosmos-data's whole stack, before it processes a record; and on
the way out it finalises all of it again, while the runner closes its workers one after the
other. Measured on this project's 2-core machine (2026-12-04, the interleaved job on the 990
real pages of ``bench/scale.py``, two workers): each worker spent ~2.5 CPU-s before its first
bundle, its first log line came ~4 s after launch, and the last 1.3 s of the 11 s run were
the two workers finalising in turn, against 9.1 s for the whole run in one process.

``LocalRunner`` forks the workers instead, from the launching process once it has built
the pipeline: each child already holds every imported module. The fork happens before the
runner opens any gRPC server or channel (gRPC's core does not survive a fork once it is
initialised), so each child is parked on a pipe until the runner wants a worker; it then
gets the same environment variables Beam's ``SubprocessSdkWorker`` passes (control and
logging endpoints, pipeline options, worker id), runs Beam's own
``sdk_worker_main.main`` and leaves with ``os._exit`` once its streams are flushed. On the
wire nothing changes: the workers are Beam's SDK harness on gRPC as before, so outputs are
byte-identical to a spawned worker's (``tests/beam/test_interleaved_pipeline.py``).

Forking is used on Linux only (macOS system frameworks are not fork-safe), only for Beam's
default worker command, and only while the process can fork safely (``fork_blocker``: no
gRPC core running, one Python thread; a run from the command line can, a process that has
just run gRPC or started threads cannot). Otherwise, and for more workers than were forked,
workers start with Beam's command line.

Either way a worker that dies (killed for memory, ``os._exit`` in user code) fails the run
at once with one error naming the process and its exit status (``worker_death``): the
handler aborts the worker's pending instructions, as Beam's Docker handler does. Beam's own
subprocess workers leave the runner waiting for an answer that never comes (measured: a
two-worker run whose DoFn exits the worker was still waiting after 90 s).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
import uuid

import grpc
from apache_beam.portability import python_urns
from apache_beam.portability.api import beam_fn_api_pb2_grpc, endpoints_pb2
from apache_beam.runners.portability.fn_api_runner import fn_runner, worker_handlers
from apache_beam.runners.portability.local_job_service import LOGENTRY_TO_LOG_LEVEL_MAP
from apache_beam.utils import thread_pool_executor
from google.protobuf import json_format, text_format

log = logging.getLogger(__name__)

#: Environment URN of the workers ``ForkedSdkWorkerHandler`` starts; its payload is the JSON
#: ``{"pool": id or null, "command": Beam's command line}`` (the command serves without a
#: pool, or once the pool's children are taken).
FORKED_SDK_URN = "kosmos-data:env:forked_python_sdk:v1"

#: Beam's own worker command in ``multi_processing`` mode (``FnApiRunner.run_pipeline``).
BEAM_WORKER_COMMAND = f"{sys.executable} -m apache_beam.runners.worker.sdk_worker_main"

_POOLS: dict[str, ForkedWorkerPool] = {}


#: Name prefixes (``/proc/self/task/*/comm``) of the threads gRPC's core starts on first use
#: (its timer manager ``grpc_global_tim*``, ``event_engine`` pollers, ``lifeguard``); they
#: stay for the life of the process.
_GRPC_THREADS = ("grpc", "event_engine", "lifeguard")


def fork_blocker() -> str | None:
    """Why this process cannot fork SDK workers now, or None when it can.

    A forked child holds only the forking thread: locks other threads held stay locked, and
    thread pools believe in workers that are not there (Beam's shared executor hands work to
    its idle threads). So the process must have one Python thread, and gRPC's core must not
    have started (it does not survive a fork). Other native threads are fine: OpenBLAS and
    jemalloc (pyarrow) mend themselves in the child with their own fork handlers."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return f"workers are not forked on {sys.platform}"
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError as e:
        return f"cannot list this process's threads: {e}"
    names = []
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                names.append(f.read().strip())
        except FileNotFoundError:  # the thread ended since the listing
            continue
        except OSError as e:
            return f"cannot read thread {task}'s name: {e}"
    if any(name.startswith(_GRPC_THREADS) for name in names):
        return "gRPC is already running in this process"
    threads = threading.active_count()
    if threads > 1:
        return f"{threads} Python threads are running"
    return None


class ForkedWorkerPool:
    """``size`` children forked now, each parked on a pipe until ``launch`` hands it a
    worker's environment (or ``close`` closes the pipe, and it exits)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"ForkedWorkerPool.size must be >= 1, got {size}")
        self.id = uuid.uuid4().hex
        self.size = size
        self._idle: list[tuple[int, int]] = []  # (pid, write end of its pipe)
        self._lock = threading.Lock()
        for _ in range(size):
            self._fork_one()
        _POOLS[self.id] = self

    def _fork_one(self) -> None:
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(write_fd)
            for _, sibling in self._idle:  # else a sibling's EOF never comes
                os.close(sibling)
            _child_main(read_fd)
        os.close(read_fd)
        self._idle.append((pid, write_fd))

    def launch(self, env: dict[str, str]) -> int | None:
        """Start a parked child as an SDK worker with ``env``; its pid, or None when every
        child is taken."""
        with self._lock:
            if not self._idle:
                return None
            pid, write_fd = self._idle.pop(0)
        data = json.dumps(env).encode("utf-8")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view) :]
        finally:
            os.close(write_fd)
        return pid

    def close(self) -> None:
        """Release the children no worker used (each exits at EOF) and reap them."""
        _POOLS.pop(self.id, None)
        with self._lock:
            idle, self._idle = self._idle, []
        for pid, write_fd in idle:
            os.close(write_fd)
            _wait(pid)


def _wait(pid: int) -> int:
    """The exit status of child ``pid`` (a signal's number negated), once it has exited."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return 0  # reaped elsewhere
        except InterruptedError:
            continue
        return os.waitstatus_to_exitcode(status)


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _child_main(read_fd: int) -> None:
    """A parked child: wait for a worker's environment, run Beam's SDK harness, ``_exit``."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        data = _read_all(read_fd)
        os.close(read_fd)
        if not data:  # released unused
            code = 0
            return
        os.environ.update(json.loads(data))
        # A spawned worker starts with no logging handler of its own: its records reach
        # the launcher through the Fn API log handler that ``create_harness`` adds. The
        # launcher's handlers would print every record a second time.
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        from apache_beam.runners.worker import sdk_worker_main

        sdk_worker_main.main([])
        code = 0
    except BaseException:  # reported here, then the child exits
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def worker_death(pid: int, code: int) -> RuntimeError:
    """The error a run fails with when its worker ``pid`` died with exit status ``code``."""
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return RuntimeError(
        f"SDK worker process {pid} {how} while the pipeline ran "
        "(out of memory? its traceback, if any, is above)"
    )


#: Start-up notices every SDK worker logs as warnings, about nothing the user can change
#: (the launcher has already parsed and checked every flag); shown at DEBUG.
_WORKER_START_NOTICES = ("Discarding unparseable args", "No semi_persistent_directory found")

_MODULE_FILES: dict[str, str] = {}


def _module_of(path: str) -> str:
    """The module name of a worker's source file, from the modules loaded here (a forked
    worker runs this process's modules, a spawned one the same files); ``worker`` when no
    loaded module has that file."""
    name = _MODULE_FILES.get(path)
    if name is None:
        for mod_name, mod in list(sys.modules.items()):
            f = getattr(mod, "__file__", None)
            if f:
                _MODULE_FILES.setdefault(f, mod_name)
        name = _MODULE_FILES.setdefault(path, "worker")
    return name


def emit_worker_entry(entry) -> None:
    """Log one Fn API ``LogEntry`` of a worker here, as the launcher would have logged it:
    under the logger of the module that wrote it, at its level, its traceback appended.

    Beam's own servicer logs every entry as one ``Worker: <protobuf text>`` line under
    ``local_job_service``, so a two-worker run printed its progress lines inside ~40 lines
    of protobuf (per 4x run here), 36 of them the harness opening and closing channels. Those
    (``apache_beam.runners.worker`` at INFO) and the start-up notices of
    ``_WORKER_START_NOTICES`` go to DEBUG; everything else keeps its level."""
    level = LOGENTRY_TO_LOG_LEVEL_MAP.get(entry.severity, logging.INFO)
    path, _, line = entry.log_location.rpartition(":")  # "path:line"
    name = _module_of(path)
    message = entry.message
    if (level <= logging.INFO and name.startswith("apache_beam.runners.worker.")) or (
        level <= logging.WARNING and message.startswith(_WORKER_START_NOTICES)
    ):
        level = logging.DEBUG
    logger = logging.getLogger(name)
    if not logger.isEnabledFor(level):
        return
    if entry.trace:
        message = f"{message}\n{entry.trace.rstrip()}"
    record = logger.makeRecord(
        name, level, path, int(line) if line.isdigit() else 0, message, None, None
    )
    if entry.timestamp.seconds:
        record.created = entry.timestamp.seconds + entry.timestamp.nanos / 1e9
    record.threadName = entry.thread or record.threadName
    logger.handle(record)


class WorkerLogServicer(beam_fn_api_pb2_grpc.BeamFnLoggingServicer):
    """The logging endpoint of the workers this module starts (``emit_worker_entry``)."""

    def Logging(self, log_bundles, context=None):
        for bundle in log_bundles:
            for entry in bundle.log_entries:
                emit_worker_entry(entry)
        return iter([])


@worker_handlers.WorkerHandler.register_environment(FORKED_SDK_URN, bytes)
class ForkedSdkWorkerHandler(worker_handlers.GrpcWorkerHandler):
    """The runner's handle on one worker: Beam's ``SubprocessSdkWorkerHandler`` and its
    ``local_job_service.SubprocessSdkWorker`` in one, with the ``Popen`` replaced by a parked
    child of the run's ``ForkedWorkerPool`` (Beam's command line still serves without a
    pool, or once its children are taken).

    A worker that dies fails the run: the handler aborts its pending instructions (as Beam's
    Docker handler does when its container stops) with ``worker_death``'s error; Beam's own
    subprocess workers leave the runner waiting for an answer that never comes."""

    def __init__(self, payload: bytes, state, provision_info, grpc_server) -> None:
        super().__init__(state, provision_info, grpc_server)
        spec = json.loads(payload)
        self._pool = _POOLS.get(spec["pool"])
        self._command = spec["command"]

    def start_worker(self) -> None:
        self.worker_thread = threading.Thread(name="run_worker", target=self._run)
        self.worker_thread.start()

    def stop_worker(self) -> None:
        self.worker_thread.join()

    def _run(self) -> None:
        options = [("grpc.http2.max_pings_without_data", 0), ("grpc.http2.max_ping_strikes", 0)]
        logging_server = grpc.server(
            thread_pool_executor.shared_unbounded_instance(), options=options
        )
        logging_port = logging_server.add_insecure_port("[::]:0")
        logging_server.start()
        beam_fn_api_pb2_grpc.add_BeamFnLoggingServicer_to_server(
            WorkerLogServicer(), logging_server
        )
        env = {
            "CONTROL_API_SERVICE_DESCRIPTOR": text_format.MessageToString(
                endpoints_pb2.ApiServiceDescriptor(url=self.control_address)
            ),
            "LOGGING_API_SERVICE_DESCRIPTOR": text_format.MessageToString(
                endpoints_pb2.ApiServiceDescriptor(url=f"localhost:{logging_port}")
            ),
            "PIPELINE_OPTIONS": json_format.MessageToJson(
                self.provision_info.provision_info.pipeline_options
            ),
        }
        if self.worker_id:
            env["WORKER_ID"] = self.worker_id
        try:
            pid = self._pool.launch(env) if self._pool is not None else None
            if pid is None:
                self._run_command(env)
                return
            code = _wait(pid)
            if code:
                self._died(pid, code)
        finally:
            logging_server.stop(0)

    def _run_command(self, env: dict[str, str]) -> None:
        with worker_handlers.SUBPROCESS_LOCK:
            p = subprocess.Popen(self._command, shell=True, env=dict(os.environ, **env))
        try:
            p.wait()
            if p.returncode:
                self._died(p.pid, p.returncode)
        finally:
            if p.poll() is None:
                p.kill()

    def _died(self, pid: int, code: int) -> None:
        error = worker_death(pid, code)
        self.control_conn.abort(error)
        raise error


class LocalRunner(fn_runner.FnApiRunner):
    """Beam's FnApiRunner, with ``multi_processing`` workers forked (module docstring).

    Workers of Beam's default command are always started by ``ForkedSdkWorkerHandler``:
    forked when ``fork_blocker`` allows, else spawned with Beam's command line; either way a
    worker that dies fails the run with ``worker_death``'s error instead of leaving it
    waiting."""

    def run_via_runner_api(self, pipeline_proto, options):
        envs = pipeline_proto.components.environments
        ours = [
            key
            for key, env in envs.items()
            if env.urn == python_urns.SUBPROCESS_SDK
            and env.payload.decode("utf-8", "replace") == BEAM_WORKER_COMMAND
        ]
        if not ours:
            return super().run_via_runner_api(pipeline_proto, options)
        blocker = fork_blocker()
        pool = None
        if blocker is None:
            pool = ForkedWorkerPool(max(1, self._num_workers))
            log.info("forked %d SDK worker(s) from this process", pool.size)
        else:
            log.info("SDK workers start as new interpreters: %s", blocker)
        spec = {"pool": pool.id if pool is not None else None, "command": BEAM_WORKER_COMMAND}
        for key in ours:
            envs[key].urn = FORKED_SDK_URN
            envs[key].payload = json.dumps(spec).encode("utf-8")
        try:
            return super().run_via_runner_api(pipeline_proto, options)
        finally:
            if pool is not None:
                pool.close()
