"""Every job is an ordered list of stages: its funnel stage order comes from that list, and
every stage that drops records in it (per-record steps, deduplication, decontamination,
the image stage) is a core step routed by the shared transforms (``ApplyStep``, or
``ProcessArchiveFn`` for the interleaved job's per-archive chain).

The graphs are built, not run: each job's ``ApplyStep`` steps and per-archive chain are read
from the pipeline and compared with the ``stage_order`` its ``WriteFunnel`` records, so a
step added to a job without reaching its funnel table fails here.
"""

from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pipeline import PipelineVisitor

from kosmos_data.beam.decontam import CORPUS_STAGES
from kosmos_data.beam.transforms import ApplyStep, ProcessArchiveFn, WriteFunnel
from kosmos_data.decontam import DecontamConfig
from kosmos_data.dedup import STAGES as DEDUP_STAGES
from kosmos_data.dedup import DedupConfig
from kosmos_data.images.config import ImageConfig
from kosmos_data.outputs import DOCS_SCHEMA, rows_to_parquet_bytes
from kosmos_data.stages import funnel_stages
from pipelines import captions, interleaved, text
from pipelines.dedup import DocsJobConfig
from pipelines.dedup import build as build_docs_job


class _Graph(PipelineVisitor):
    """The steps a built pipeline routes (in graph order) and its funnel's stage order."""

    def __init__(self) -> None:
        self.routed: list[str] = []
        self.chain: list[str] = []
        self.stage_order: list[str] | None = None

    def enter_composite_transform(self, node) -> None:
        t = node.transform
        if isinstance(t, ApplyStep):
            self.routed.append(t.step.name)
        if isinstance(t, WriteFunnel):
            self.stage_order = t.extra["stage_order"]

    def visit_transform(self, node) -> None:
        fn = getattr(node.transform, "fn", None)
        if isinstance(fn, ProcessArchiveFn):
            self.chain += [s.name for s in fn.steps]


def _graph(build, config) -> _Graph:
    pipeline = beam.Pipeline(options=PipelineOptions([]))
    build(pipeline, config)
    graph = _Graph()
    pipeline.visit(graph)
    return graph


@pytest.fixture
def tasks(tmp_path) -> DecontamConfig:
    spec = tmp_path / "task.txt"
    spec.write_text("the quick brown fox jumps over the lazy dog while the farmer watches\n")
    return DecontamConfig(tasks=(f"text:{spec}",))


@pytest.fixture
def table(tmp_path) -> str:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"text": "x", "url": "https://a.test/", "caption": "y"}) + "\n")
    return str(path)


def _check(graph: _Graph, steps, before=("read",), after=(), fetched=False) -> None:
    per_record = [s.name for s in steps]
    # the declared steps, every corpus stage and the image stage when images are fetched,
    # are routed by the shared transforms
    assert graph.chain + graph.routed[: len(per_record) - len(graph.chain)] == per_record
    rest = list(dict.fromkeys(graph.routed[len(per_record) - len(graph.chain) :]))
    assert rest == [*CORPUS_STAGES, *(["images"] if fetched else [])]
    # every routed stage is in the funnel's order, which is exactly the declared one
    assert set(graph.chain + graph.routed) <= set(graph.stage_order)
    want = [*before, *funnel_stages(steps), *CORPUS_STAGES, *after]  # extract: decode, extract
    assert graph.stage_order == want


def test_text_job(tmp_path, table, tasks):
    config = text.TextConfig(inputs=(table,), output=str(tmp_path / "run"), decontam=tasks)
    _check(_graph(text.build, config), text.steps(config))
    assert text.stages(config) == [
        "read", "langid", "quality", "pii", *DEDUP_STAGES, "decontam",
    ]  # fmt: skip
    # a step left out of the chain leaves the funnel too (no row for a stage that never ran)
    off = text.TextConfig(
        inputs=(table,), output=str(tmp_path / "r2"), decontam=tasks, filter_quality=False
    )
    assert "quality" not in text.stages(off)
    _check(_graph(text.build, off), text.steps(off))


@pytest.mark.parametrize("fetch", [True, False])
def test_captions_job(tmp_path, table, tasks, fetch):
    config = captions.CaptionsConfig(
        inputs=(table,), output=str(tmp_path / "run"), decontam=tasks,
        images=ImageConfig(fetch=fetch),
    )  # fmt: skip
    graph = _graph(captions.build, config)
    _check(graph, captions.steps(config), after=("images",), fetched=fetch)
    assert captions.stages(config)[:4] == ["read", "caption_filter", "langid", "pii"]


@pytest.mark.parametrize("fetch", [True, False])
def test_interleaved_job(tmp_path, tasks, fetch):
    config = interleaved.InterleavedConfig(
        archives=(str(tmp_path / "a.warc.gz"),), output=str(tmp_path / "run"), decontam=tasks,
        images=ImageConfig(fetch=fetch),
    )  # fmt: skip
    graph = _graph(interleaved.build, config)
    assert graph.chain == [s.name for s in interleaved.steps(config)]
    _check(graph, interleaved.steps(config), after=("images",), fetched=fetch)
    # the per-archive checkpoints depend on the reader's and every step's config
    desc = interleaved.per_file_description(config)
    assert list(desc["config"]) == ["read", *(s.name for s in interleaved.steps(config))]


@pytest.mark.parametrize("job", ["dedup", "decontaminate"])
def test_docs_jobs(tmp_path, tasks, job):
    docs = tmp_path / "docs.parquet"
    docs.write_bytes(rows_to_parquet_bytes([], DOCS_SCHEMA))
    off = DedupConfig(url=False, text=False, images=False, near=False)  # as the command sets
    dedup = DedupConfig() if job == "dedup" else off
    config = DocsJobConfig(job, str(docs), str(tmp_path / "run"), dedup=dedup, decontam=tasks)
    graph = _graph(build_docs_job, config)
    want = list(CORPUS_STAGES) if job == "dedup" else ["decontam"]
    assert list(dict.fromkeys(graph.routed)) == want
    assert graph.stage_order == list(CORPUS_STAGES)  # no read row: documents are counted in
