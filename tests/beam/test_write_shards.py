"""``WriteShards`` on the DirectRunner writes the same bytes as the one-process writer."""

from __future__ import annotations

import hashlib

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from kosmos_data.beam.runner import make_pipeline
from kosmos_data.beam.shards import WriteShards
from kosmos_data.shards import ShardConfig, TextSample, iter_samples, read_manifest, write_local


def _digest(d) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_beam_writer_matches_local_writer(tmp_path):
    samples = [TextSample(f"t{i:03d}", f"Sentence number {i}. " * (i % 7 + 1)) for i in range(60)]
    cfg = ShardConfig(maxcount=7, groups=3)
    write_local(str(tmp_path / "local"), "text", samples, cfg)
    (tmp_path / "beam").mkdir()
    with make_pipeline(PipelineOptions([])) as p:
        _ = (
            p
            | beam.Create(samples, reshuffle=False)
            | "WriteShards" >> WriteShards(str(tmp_path / "beam"), "text", cfg)
        )
    local, beamed = _digest(tmp_path / "local"), _digest(tmp_path / "beam")
    tars = {k: v for k, v in local.items() if k.endswith(".tar")}
    assert tars == {k: v for k, v in beamed.items() if k.endswith(".tar")}
    m_local, m_beam = read_manifest(str(tmp_path / "local")), read_manifest(str(tmp_path / "beam"))
    assert m_local["shards"] == m_beam["shards"] and m_beam["totals"]["samples"] == 60
    assert m_beam["shard_config"] == {"maxcount": 7, "maxsize": cfg.maxsize, "groups": 3}
    assert sorted(s.key for s in iter_samples(str(tmp_path / "beam"))) == [s.key for s in samples]


def test_empty_input_still_writes_a_manifest(tmp_path):
    with make_pipeline(PipelineOptions([])) as p:
        _ = p | beam.Create([]) | WriteShards(str(tmp_path), "captions", ShardConfig())
    m = read_manifest(str(tmp_path))
    assert m["totals"]["shards"] == 0 and m["source"] == "captions"
