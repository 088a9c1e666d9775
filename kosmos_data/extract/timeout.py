"""Time caps for extraction.

Two mechanisms, because the two extractors differ in who owns the loop:

* ``Deadline``: cooperative. The fast extractor owns its DOM walk, so it calls
  ``deadline.check()`` every N nodes; this works in any thread and costs one
  ``perf_counter`` call per check.
* ``call_with_timeout``: preemptive-ish, for code we do not own (trafilatura). In the main
  thread of the process it uses ``signal.setitimer(ITIMER_REAL)`` + SIGALRM, which interrupts
  pure-Python code between bytecodes (not inside a long C call such as one lxml parse; the
  signal is handled as soon as that call returns). Outside the main thread (Beam runs DoFns
  in worker threads; Python only delivers signals to the main thread) it runs the function
  in a daemon watchdog thread and stops waiting after the cap. **Limitation**: CPython
  cannot kill a thread, so a runaway call keeps burning CPU in the background until it
  finishes; the caller gets ``ExtractionTimeout`` on time, but the work is not reclaimed.
  ``PyThreadState_SetAsyncExc`` is used to ask the thread to stop at its next bytecode,
  which ends pure-Python loops promptly (not long C calls).
"""

from __future__ import annotations

import ctypes
import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from kosmos_data.extract.errors import ExtractionTimeout

T = TypeVar("T")


class Deadline:
    """A monotonic deadline checked cooperatively."""

    __slots__ = ("end", "start", "timeout_s")

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.start = time.perf_counter()
        self.end = self.start + timeout_s

    def check(self, where: str = "") -> None:
        if time.perf_counter() > self.end:
            elapsed = time.perf_counter() - self.start
            at = f", {where}" if where else ""
            raise ExtractionTimeout(
                f"extraction exceeded {self.timeout_s:g}s ({elapsed:.3f}s elapsed{at})"
            )

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


class _Alarm(BaseException):
    """Raised from the SIGALRM handler; BaseException so library ``except Exception`` blocks
    (trafilatura has many) do not swallow it."""


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def call_with_timeout(fn: Callable[[], T], timeout_s: float) -> T:
    """Run ``fn()`` and return its result, or raise ``ExtractionTimeout`` after ``timeout_s``."""
    if _in_main_thread() and hasattr(signal, "setitimer"):
        return _call_with_alarm(fn, timeout_s)
    return _call_with_watchdog(fn, timeout_s)


def _call_with_alarm(fn: Callable[[], T], timeout_s: float) -> T:
    def _handler(signum, frame):
        raise _Alarm()

    previous = signal.signal(signal.SIGALRM, _handler)
    prev_timer = signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return fn()
    except _Alarm:
        raise ExtractionTimeout(f"extraction exceeded {timeout_s:g}s (SIGALRM)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if prev_timer[0] > 0:  # re-arm an outer timer we displaced
            signal.setitimer(signal.ITIMER_REAL, *prev_timer)


class _Stop(BaseException):
    """Injected into a timed-out watchdog worker via PyThreadState_SetAsyncExc."""


def _call_with_watchdog(fn: Callable[[], T], timeout_s: float) -> T:
    box: dict[str, object] = {}

    def _run() -> None:
        try:
            box["result"] = fn()
        except _Stop:
            pass
        except BaseException as e:  # handed to the caller below
            box["error"] = e

    worker = threading.Thread(target=_run, name="kosmos-extract-watchdog", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        if worker.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(worker.ident), ctypes.py_object(_Stop)
            )
        raise ExtractionTimeout(f"extraction exceeded {timeout_s:g}s (watchdog thread)")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]
