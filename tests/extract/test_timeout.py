"""The per-page time cap fires, in the main thread and in worker threads (as under Beam)."""

from __future__ import annotations

import threading
import time

import pytest

from kosmos_data.extract import ExtractConfig, ExtractionTimeout, make_extractor
from kosmos_data.extract import fast as fast_mod
from kosmos_data.extract.timeout import Deadline, call_with_timeout

from .conftest import make_page

BIG = "<body>" + "".join(f"<div><p>para {i} <b>x</b> y</p></div>" for i in range(20000))


def _in_thread(fn):
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:
            box["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    return box


def test_fast_timeout_fires_on_big_page():
    ex = make_extractor(ExtractConfig(timeout_s=0.0001))
    with pytest.raises(ExtractionTimeout):
        ex.extract(make_page(BIG))


def test_fast_timeout_is_checked_inside_the_dom_walk(monkeypatch):
    class WalkDeadline(Deadline):
        def check(self, where: str = "") -> None:
            if where.startswith("at node"):
                raise ExtractionTimeout(f"forced {where}")

    monkeypatch.setattr(fast_mod, "Deadline", WalkDeadline)
    ex = make_extractor(ExtractConfig(check_every_nodes=256))
    with pytest.raises(ExtractionTimeout, match="at node 256"):
        ex.extract(make_page(BIG))


def test_fast_timeout_fires_in_worker_thread():
    ex = make_extractor(ExtractConfig(timeout_s=0.0001))
    box = _in_thread(lambda: ex.extract(make_page(BIG)))
    assert isinstance(box.get("error"), ExtractionTimeout)


#: Set when ``_slow_extract`` ran to its end: a timeout that fired must have cut it short
#: (asserted instead of a wall-clock bound, which fails under load).
_FINISHED: list[bool] = []


def _slow_extract(*args, **kwargs):
    deadline = time.perf_counter() + 3.0
    while time.perf_counter() < deadline:  # pure-Python busy loop, like a runaway XPath pass
        sum(range(1000))
    _FINISHED.append(True)
    return None


def test_fidelity_timeout_main_thread_sigalrm(monkeypatch):
    import trafilatura

    monkeypatch.setattr(trafilatura, "extract", _slow_extract)
    ex = make_extractor(ExtractConfig(mode="fidelity", timeout_s=0.2))
    _FINISHED.clear()
    with pytest.raises(ExtractionTimeout, match="SIGALRM"):
        ex.extract(make_page("<body><p>hello</p></body>"))
    assert not _FINISHED, "the slow extraction ran to its end: the timeout did not interrupt it"


def test_fidelity_timeout_worker_thread_watchdog(monkeypatch):
    import trafilatura

    monkeypatch.setattr(trafilatura, "extract", _slow_extract)
    ex = make_extractor(ExtractConfig(mode="fidelity", timeout_s=0.2))
    _FINISHED.clear()
    box = _in_thread(lambda: ex.extract(make_page("<body><p>hello</p></body>")))
    assert isinstance(box.get("error"), ExtractionTimeout)
    assert "watchdog" in str(box["error"])
    assert not _FINISHED, "the slow extraction ran to its end: the timeout did not interrupt it"


def test_call_with_timeout_passes_results_and_errors():
    assert call_with_timeout(lambda: 42, 1.0) == 42
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 1.0)
    box = _in_thread(lambda: call_with_timeout(lambda: 7, 1.0))
    assert box == {"value": 7}
