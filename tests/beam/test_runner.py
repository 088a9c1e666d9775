"""Local runs go straight to the FnApiRunner: Beam's switching DirectRunner would first try
PrismRunner, which downloads a binary from GitHub at run time."""

from __future__ import annotations

import functools
import gc
import logging
import weakref

import apache_beam as beam
from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    StandardOptions,
    TypeOptions,
)
from apache_beam.runners.common import MethodWrapper
from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import core, userstate

from kosmos_data.beam import runner
from kosmos_data.beam.runner import (
    ViewCachingOptions,
    local_runner,
    make_pipeline,
    memoise_dofn_specs,
)
from tests.beam.conftest import run_interleaved


def test_local_names_get_the_fn_api_runner_others_are_left_to_beam():
    for argv in ([], ["--runner=DirectRunner"], ["--runner", "SwitchingDirectRunner"]):
        assert isinstance(local_runner(PipelineOptions(argv)), FnApiRunner), argv
    for name in ("PortableRunner", "DataflowRunner", "FlinkRunner", "PrismRunner"):
        assert local_runner(PipelineOptions([f"--runner={name}"])) is None, name


def test_a_local_run_never_tries_prism(crawl_dir, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        funnel = run_interleaved([str(crawl_dir / "*.warc.gz")], tmp_path / "run")
    assert funnel["balanced"]
    mentions = [r.getMessage() for r in caplog.records if "prism" in r.getMessage().lower()]
    assert not mentions, mentions


def test_cached_views_share_the_values_of_the_options_they_came_from():
    """``make_pipeline`` builds on ``ViewCachingOptions``: one view per options class, the
    same values as fresh views, writes visible everywhere, and the copy the pipeline keeps
    still caches and reads its own values."""
    options = PipelineOptions(["--direct_num_workers=2", "--runner=DirectRunner"])
    cached = options.view_as(ViewCachingOptions)
    direct = cached.view_as(DirectOptions)
    assert direct is cached.view_as(DirectOptions)
    assert direct.direct_num_workers == options.view_as(DirectOptions).direct_num_workers == 2
    cached.view_as(TypeOptions).pipeline_type_check = False
    assert options.view_as(TypeOptions).pipeline_type_check is False
    assert cached.get_all_options() == options.get_all_options()

    pipeline = make_pipeline(options)
    kept = pipeline.options
    assert isinstance(kept, ViewCachingOptions)
    assert kept.view_as(StandardOptions) is kept.view_as(StandardOptions)
    assert kept.view_as(DirectOptions).direct_num_workers == 2
    kept.view_as(DirectOptions).direct_num_workers = 3  # the copy's own values
    assert kept.get_all_options()["direct_num_workers"] == 3
    assert options.view_as(DirectOptions).direct_num_workers == 2


_COUNT = userstate.ReadModifyWriteStateSpec("count", beam.coders.VarIntCoder())
_TIMER = userstate.TimerSpec("flush", userstate.TimeDomain.WATERMARK)
_SEEN = userstate.ReadModifyWriteStateSpec("seen", beam.coders.VarIntCoder())
# Beam reads state and timers from parameter defaults: module-level params, not calls (B008).
_COUNT_PARAM, _TIMER_PARAM = beam.DoFn.StateParam(_COUNT), beam.DoFn.TimerParam(_TIMER)
_SEEN_PARAM = beam.DoFn.StateParam(_SEEN)


class _Stateful(beam.DoFn):
    def process(self, kv, count=_COUNT_PARAM, t=_TIMER_PARAM):
        yield kv

    @userstate.on_timer(_TIMER)
    def flush(self):
        return []


class _Plain(beam.DoFn):
    def process(self, x):
        yield x


def test_memoised_dofn_specs_answer_as_beam_does_once_per_instance(monkeypatch):
    """``make_pipeline`` routes Beam's ``get_dofn_specs`` through a per-instance memo: the
    same state and timer specs as Beam computes, Beam asked once per DoFn instance however
    often the runner asks, separate instances asked separately, and a dead instance's entry
    gone (ids are reused)."""
    calls = []
    beams = runner._UNMEMOISED

    def counting(dofn):
        calls.append(id(dofn))
        return beams(dofn)

    monkeypatch.setattr(runner, "_UNMEMOISED", counting)
    monkeypatch.setattr(runner, "_SPECS", {})
    memoise_dofn_specs()
    assert userstate.get_dofn_specs is runner._memoised_dofn_specs
    stateful, plain = _Stateful(), _Plain()
    for fn in (stateful, plain):
        want = beams(fn)
        calls.clear()
        for _ in range(4):
            assert userstate.get_dofn_specs(fn) == want
        assert userstate.is_stateful_dofn(fn) is (fn is stateful)
        userstate.validate_stateful_dofn(fn)
        assert calls == [id(fn)], calls
    assert {s.name for s in userstate.get_dofn_specs(stateful)[0]} == {"count"}
    assert {s.name for s in userstate.get_dofn_specs(stateful)[1]} == {"ts-flush"}
    # callers get their own sets: changing one changes no later answer
    userstate.get_dofn_specs(stateful)[0].clear()
    assert len(userstate.get_dofn_specs(stateful)[0]) == 1
    calls.clear()
    assert userstate.get_dofn_specs(_Plain()) == (set(), set())
    assert len(calls) == 1, "a new instance is inspected on its own"
    key = id(plain)
    del plain, fn
    gc.collect()
    assert key not in runner._SPECS


def _plain(x, y=3, *rest, z=4):
    return x


def test_memoised_signatures_answer_as_beam_does_once_per_function(monkeypatch):
    """``core.get_function_args_defaults`` answers from a memo keyed by the Python function
    (bound and unbound apart): Beam's answer, computed once per function however many DoFn
    instances it is bound to; builtins and partials asked afresh; each caller its own
    lists; an entry leaves with its function."""
    calls = []
    beams = runner._UNMEMOISED_ARGSPEC

    def counting(f):
        calls.append(f)
        return beams(f)

    monkeypatch.setattr(runner, "_UNMEMOISED_ARGSPEC", counting)
    monkeypatch.setitem(runner._ARGSPECS, False, weakref.WeakKeyDictionary())
    monkeypatch.setitem(runner._ARGSPECS, True, weakref.WeakKeyDictionary())
    memoise_dofn_specs()
    assert core.get_function_args_defaults is runner._memoised_args_defaults
    a, b = _Stateful(), _Stateful()
    partial = functools.partial(_plain, 1)
    cases = [a.process, b.process, _Stateful.process, _Plain().process, _plain, partial, len]
    for f in cases:
        assert core.get_function_args_defaults(f) == beams(f), f
    assert core.get_function_args_defaults(a.process) == (["kv", "count", "t"], [
        _COUNT_PARAM, _TIMER_PARAM])  # fmt: skip
    assert core.get_function_args_defaults(_Stateful.process)[0] == ["self", "kv", "count", "t"]
    calls.clear()
    for f in cases * 2:
        core.get_function_args_defaults(f)
    assert calls == [partial, len, partial, len], "only non-functions are asked again"
    # Beam's own callers see the state and timer parameters as before
    wrapper = MethodWrapper(b, "process")
    assert (wrapper.args, wrapper.defaults) == (["kv", "count", "t"], [_COUNT_PARAM, _TIMER_PARAM])
    assert userstate.get_dofn_specs(b) == ({_COUNT}, {_TIMER})
    core.get_function_args_defaults(a.process)[1].clear()
    assert len(core.get_function_args_defaults(a.process)[1]) == 2

    def temporary(q=1):
        return q

    core.get_function_args_defaults(temporary)
    held = len(runner._ARGSPECS[False])
    del temporary
    calls.clear()  # held it too
    gc.collect()
    assert len(runner._ARGSPECS[False]) == held - 1


def test_a_stateful_dofn_still_runs_on_the_memoised_specs():
    """A pipeline with user state, built by ``make_pipeline``: the runner still sees the
    DoFn as stateful (keyed state per key)."""

    class CountPerKey(beam.DoFn):
        def process(self, kv, seen=_SEEN_PARAM):
            n = (seen.read() or 0) + 1
            seen.write(n)
            yield kv[0], n

    with make_pipeline(PipelineOptions([])) as p:
        out = (
            p
            | beam.Create([("a", 1), ("b", 1), ("a", 2), ("a", 3)])
            | beam.ParDo(CountPerKey())
            | beam.combiners.Top.PerKey(1)
        )
        assert_that(out, equal_to([("a", [3]), ("b", [1])]))
