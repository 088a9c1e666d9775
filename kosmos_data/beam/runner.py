"""The local runner: Beam's FnApiRunner, chosen directly.

Beam 2.77's ``DirectRunner`` is a switching runner: for a pipeline its visitor accepts, it
first tries ``PrismRunner``, which *downloads a Go binary from GitHub at run time*, and only
after that fails (no network here, or anywhere egress is closed) falls back to the FnApiRunner
it would have used anyway. kosmos-data's jobs are batch pipelines the FnApiRunner runs, so a
local run (``--runner`` absent or ``DirectRunner``) goes straight to it, built the way the
switching runner builds it (pipeline options in the provision info, so ``direct_num_workers``
and ``direct_running_mode`` behave as documented), as ``forked_workers.LocalRunner``, whose
``multi_processing`` workers are forked from the launcher instead of importing everything
anew. Any other runner name is left to Beam.

Every pipeline is built on ``ViewCachingOptions``: Beam asks the options for a typed view
(``options.view_as(TypeOptions)``) on every ``apply`` and every type check, and each view
builds and runs a fresh ``argparse`` parser; the interleaved job's 250 transforms made 844
of them, 0.6-1.1 of the 1.1-1.5 CPU-s the graph took to build (0.42-0.44 with the cache).

``make_pipeline`` also memoises Beam's ``userstate.get_dofn_specs`` per DoFn instance
(``memoise_dofn_specs``): every ``DoFnSignature`` (one per ``ParDo`` built, one per DoFn of
every stage the runner executes) asks for a DoFn's state and timer specs two to six times,
and each answer wraps every method the DoFn has (~30, most inherited) and runs
``inspect.signature`` on it. A 1-record interleaved run made 940 such calls on 232
instances, 0.6-0.7 of its ~4 CPU-s.
"""

from __future__ import annotations

import types
import weakref

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms import core, userstate

#: Runner names that mean "run here" and would go through the Prism attempt.
_SWITCHING = (None, "DirectRunner", "SwitchingDirectRunner")


class ViewCachingOptions(PipelineOptions):
    """``PipelineOptions`` whose ``view_as`` returns one view per class, built once.

    A view is only a typed window on the shared ``_all_options`` dict (Beam's ``view_as``:
    every view of an options object reads and writes the same values), so handing back the
    same view is indistinguishable from building a new one, minus the parser. It declares
    no flags of its own, so Beam's merged parser is unchanged. ``Pipeline`` deep-copies its
    options; the copy keeps the class, its cached views sharing the copy's ``_all_options``
    (one ``deepcopy`` memo), so the cache follows the options the pipeline really uses.
    """

    def view_as(self, cls):
        views = self.__dict__.setdefault("_cached_views", {})
        view = views.get(cls)
        if view is None:
            view = views[cls] = super().view_as(cls)
        return view


#: ``id(dofn) -> (weak reference to it, its state specs, its timer specs)``.
_SPECS: dict[int, tuple[weakref.ref, frozenset, frozenset]] = {}
_UNMEMOISED = userstate.get_dofn_specs


def _memoised_dofn_specs(dofn):
    """``userstate.get_dofn_specs``, computed once per DoFn instance.

    The specs are read from the defaults of the instance's methods (``DoFn.StateParam`` /
    ``TimerParam``), which nothing changes after a DoFn is built, so a second answer for the
    same instance is the first one. Entries are keyed by identity (a DoFn may define
    ``__eq__``) and leave with their instance; each caller gets sets of its own."""
    key = id(dofn)
    hit = _SPECS.get(key)
    if hit is not None and hit[0]() is dofn:
        return set(hit[1]), set(hit[2])
    states, timers = _UNMEMOISED(dofn)
    try:
        ref = weakref.ref(dofn, lambda r, key=key: _forget(key, r))
    except TypeError:  # not weak-referenceable (``__slots__`` without ``__weakref__``)
        return states, timers
    _SPECS[key] = (ref, frozenset(states), frozenset(timers))
    return states, timers


def _forget(key: int, ref: weakref.ref) -> None:
    hit = _SPECS.get(key)
    if hit is not None and hit[0] is ref:
        del _SPECS[key]


#: ``function -> (args, defaults)`` of Beam's ``get_function_args_defaults``, for the
#: function itself and for it bound to an instance (the bound form drops ``self``).
_ARGSPECS: dict[bool, weakref.WeakKeyDictionary] = {
    False: weakref.WeakKeyDictionary(),
    True: weakref.WeakKeyDictionary(),
}
_UNMEMOISED_ARGSPEC = core.get_function_args_defaults


def _memoised_args_defaults(f):
    """``core.get_function_args_defaults``, computed once per Python function.

    Beam answers it from ``inspect.signature``, which depends on the function alone (its
    parameters and ``__defaults__``), not on the instance a method is bound to; so the
    answer for a plain function, or for a bound method of one, is keyed by that function
    (weakly: it leaves with its class). Anything else (builtins, partials, callable objects)
    is asked afresh each time. A 1-record interleaved run computed ``get_dofn_specs`` for 232
    DoFn instances, 0.33 CPU-s, nearly all of it these signatures of the same ~40 methods."""
    bound = type(f) is types.MethodType
    func = f.__func__ if bound else f
    if type(func) is not types.FunctionType:
        return _UNMEMOISED_ARGSPEC(f)
    memo = _ARGSPECS[bound]
    hit = memo.get(func)
    if hit is None:
        args, defaults = _UNMEMOISED_ARGSPEC(f)
        hit = memo[func] = (tuple(args), tuple(defaults))
    return list(hit[0]), list(hit[1])


def memoise_dofn_specs() -> None:
    """Route ``userstate.get_dofn_specs`` (and so ``is_stateful_dofn`` and
    ``validate_stateful_dofn``, which call it by its module-level name, as do the runner's
    ``DoFnSignature`` and operations) through ``_memoised_dofn_specs``, and
    ``core.get_function_args_defaults`` (called by its module-level name from
    ``get_function_arguments``, which ``MethodWrapper`` calls for every method of every
    DoFn) through ``_memoised_args_defaults``. Idempotent."""
    userstate.get_dofn_specs = _memoised_dofn_specs
    core.get_function_args_defaults = _memoised_args_defaults


def local_runner(options: PipelineOptions):
    """The FnApiRunner for ``options``, or None when another runner was asked for."""
    if options.view_as(StandardOptions).runner not in _SWITCHING:
        return None
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    from kosmos_data.beam.forked_workers import LocalRunner

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    info = beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
    return LocalRunner(provision_info=fn_runner.ExtendedProvisionInfo(info))


def make_pipeline(options: PipelineOptions) -> beam.Pipeline:
    """A pipeline on ``local_runner(options)`` when the run is local, else Beam's choice,
    with its options seen through ``ViewCachingOptions`` (same values, shared with
    ``options``) and DoFn specs memoised (``memoise_dofn_specs``)."""
    memoise_dofn_specs()
    cached = options.view_as(ViewCachingOptions)
    return beam.Pipeline(runner=local_runner(cached), options=cached)
