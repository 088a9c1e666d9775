"""``Decontaminate``: drop (or cut) documents that contain downstream-task text.

The task index is small next to the corpus (a few MB of n-gram hashes for every KOSMOS-1
language task): ``write_index`` builds it once in the launcher and writes it next to the run's
outputs; each worker reads it in ``setup()`` through Beam's ``FileSystems`` (so ``gs://``
works). Per-task matches are combined into ``contamination.json`` (``kosmos_data.decontam.
report``) with a bounded state per task, never a list of documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import AsSingleton

from kosmos_data.beam.dedup import DropDuplicates
from kosmos_data.beam.transforms import DROPPED_TAG, REPORT_TAG, STATS_TAG, ApplyStep
from kosmos_data.config import as_jsonable
from kosmos_data.decontam import CUT_COUNTER, DecontamConfig, DecontamStep, build_index
from kosmos_data.decontam.index import TaskIndex
from kosmos_data.decontam.report import TaskReport, build_report, dumps
from kosmos_data.dedup import DedupConfig
from kosmos_data.dedup.steps import dedup_steps
from kosmos_data.stages import funnel_stages

#: The corpus stages' funnel rows, in order, from their steps' names: every deduplication
#: stage, then decontamination. Every job that runs them lists all of them, also the ones a
#: run disables (``funnel.json: decontamination`` says when it was skipped).
CORPUS_STAGES: tuple[str, ...] = funnel_stages((*dedup_steps(DedupConfig()), DecontamStep))


def write_index(config: DecontamConfig, path: str) -> tuple[DecontamConfig, TaskIndex]:
    """Build the index from the task specs once and write it to ``path``; returns the config
    workers should use (``index_path`` set) and the index."""
    index = build_index(config)
    with FileSystems.create(path) as f:
        f.write(index.to_bytes())
    return replace(config, index_path=path), index


def index_info(index: TaskIndex) -> dict:
    return {
        "ngrams": len(index),
        "ngram": index.ngram,
        "lengths": list(index.lengths),
        "items_per_task": index.items_per_task,
        "ignored_common_ngrams": index.ignored_common,
    }


def _open(path: str):
    """The index through Beam's file systems (``gs://``, ``s3://``), for ``DecontamStep``."""
    return FileSystems.open(path)


def _cut_count(event) -> int:
    key, n = event
    return n if key == CUT_COUNTER else 0


class _ReportCombineFn(beam.CombineFn):
    def create_accumulator(self) -> TaskReport:
        return TaskReport()

    def add_input(self, acc: TaskReport, element) -> TaskReport:
        ngrams, url = element
        acc.add(ngrams, url)
        return acc

    def merge_accumulators(self, accs) -> TaskReport:
        out = TaskReport()
        for a in accs:
            out = out.merge(a)
        return out

    def extract_output(self, acc: TaskReport) -> TaskReport:
        return acc


class _WriteReportFn(beam.DoFn):
    def __init__(self, path: str, config: dict, info: dict) -> None:
        self.path = path
        self.config = config
        self.info = info

    def process(self, per_task, checked: int, removed: int, cut: int) -> Iterator[str]:
        report = build_report(dict(per_task), checked, removed, cut, self.config, self.info)
        with FileSystems.create(self.path) as f:
            f.write(dumps(report))
        yield self.path


class Decontaminate(beam.PTransform):
    """Documents -> kept (clean, or cut) / dropped (``contaminated``, ...) + report: the
    core's ``DecontamStep`` routed by ``ApplyStep``; its report items are combined per task.

    ``config.index_path`` must name an index written by ``write_index``. ``refilter`` (a
    picklable ``Document -> reason | None``) re-judges documents after a cut.
    """

    def __init__(
        self, config: DecontamConfig, report_path: str | None = None, refilter=None,
        info: dict | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        if not config.index_path:
            raise ValueError("Decontaminate: config.index_path is empty (call write_index)")
        self.config = config
        self.report_path = report_path
        self.refilter = refilter
        self.info = info or {}

    def expand(self, docs):
        step = DecontamStep(self.config, self.refilter, opener=_open)
        out = docs | "Match" >> ApplyStep(step)
        if self.report_path:
            count = beam.combiners.Count.Globally
            checked = docs | "CountChecked" >> count()
            removed = out[DROPPED_TAG] | "CountRemoved" >> count()
            cut = (
                out[STATS_TAG]
                | "CutEvents" >> beam.Map(_cut_count)
                | "CountCut" >> beam.CombineGlobally(sum)
            )
            _ = (
                out[REPORT_TAG]
                | "PerTask" >> beam.CombinePerKey(_ReportCombineFn())
                | "Gather" >> beam.combiners.ToList()
                | "WriteReport"
                >> beam.ParDo(
                    _WriteReportFn(self.report_path, as_jsonable(self.config), self.info),
                    AsSingleton(checked), AsSingleton(removed), AsSingleton(cut),
                )
            )  # fmt: skip
        return {"kept": out.kept, DROPPED_TAG: out[DROPPED_TAG], STATS_TAG: out[STATS_TAG]}


def add_dedup_stages(docs, dropped, dedup, decontam: DecontamConfig, output: str, refilter=None):
    """Deduplication, then decontamination, on a documents PCollection (the interleaved,
    text and caption jobs all call this). Returns ``(docs, dropped, stats, extra)``:
    ``dropped`` (the job's, or None) with the new drops flattened in, ``stats`` to add to
    the funnel events and ``extra`` for ``funnel.json`` (says whether decontamination ran or
    was skipped)."""
    drops, stats, extra = ([] if dropped is None else [dropped]), [], {}
    if dedup.enabled:
        r = docs | "DropDuplicates" >> DropDuplicates(dedup)
        docs = r["kept"]
        drops.append(r[DROPPED_TAG])
        stats.append(r[STATS_TAG])
    if decontam.enabled:
        cfg, index = write_index(decontam, FileSystems.join(output, "decontam_index.npz"))
        info = index_info(index)
        report = FileSystems.join(output, "contamination.json")
        r = docs | "Decontaminate" >> Decontaminate(cfg, report, refilter, info)
        docs = r["kept"]
        drops.append(r[DROPPED_TAG])
        stats.append(r[STATS_TAG])
        extra["decontamination"] = {"skipped": False, "report": "contamination.json",
                                    "tasks": index.tasks, "ngrams": len(index)}  # fmt: skip
    else:
        extra["decontamination"] = {
            "skipped": True,
            "reason": "no task files given (--decontaminate-against SPEC); nothing compared",
        }
    dropped = tuple(drops) | "FlattenDedupDropped" >> beam.Flatten(pipeline=docs.pipeline)
    return docs, dropped, stats, extra
