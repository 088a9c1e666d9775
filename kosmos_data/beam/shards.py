"""``WriteShards``: typed samples -> deterministic WebDataset shards + ``manifest.json``.

Wiring only; the format, grouping and manifest live in ``kosmos_data.shards``. Each shard
group is written by one worker (``GroupByKey`` on a stable hash of the sample key); only the
small per-shard ``ShardInfo`` records are gathered on one worker, for the manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from kosmos_data.beam.transforms import publish_bytes
from kosmos_data.shards import (
    MANIFEST,
    SOURCES,
    Sample,
    ShardConfig,
    ShardInfo,
    code_version,
    manifest_dict,
    render_group,
    sample_key,
    shard_group,
)


class WriteShardGroupFn(beam.DoFn):
    def __init__(self, directory: str, source: str, config: ShardConfig) -> None:
        self.directory = directory
        self.source = source
        self.config = config
        self.shards = Metrics.counter(f"kosmos_data.shards.{source}", "shards_written")
        self.samples = Metrics.counter(f"kosmos_data.shards.{source}", "samples_written")
        self.bytes = Metrics.counter(f"kosmos_data.shards.{source}", "bytes_written")

    def process(self, element: tuple[int, Iterable[Sample]]) -> Iterator[ShardInfo]:
        group, samples = element
        for info, data in render_group(self.source, group, samples, self.config):
            publish_bytes(FileSystems.join(self.directory, info.name), data)
            self.shards.inc()
            self.samples.inc(info.samples)
            self.bytes.inc(info.bytes)
            yield info


class WriteManifestFn(beam.DoFn):
    def __init__(self, directory: str, source: str, run_config: dict, config) -> None:
        self.directory = directory
        self.source = source
        self.run_config = run_config
        self.config = config

    def process(self, infos: list[ShardInfo]) -> Iterator[str]:
        manifest = manifest_dict(
            self.source, infos, self.run_config, code_version(), shard_config=self.config
        )
        path = FileSystems.join(self.directory, MANIFEST)
        publish_bytes(path, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
        yield path


class WriteShards(beam.PTransform):
    """Samples of one source -> ``{source}-GGGGG-PPP.tar`` shards and ``manifest.json``.

    An empty input still writes a manifest (with zero shards), so a trainer can tell "ran and
    produced nothing" from "never ran".
    """

    def __init__(
        self, directory: str, source: str, config: ShardConfig, run_config: dict | None = None
    ) -> None:
        super().__init__()
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        self.directory = directory
        self.source = source
        self.config = config
        self.run_config = run_config or {}

    def expand(self, samples):
        groups = self.config.groups
        infos = (
            samples
            | "KeyByGroup" >> beam.Map(lambda s: (shard_group(sample_key(s.key), groups), s))
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShardGroup"
            >> beam.ParDo(WriteShardGroupFn(self.directory, self.source, self.config))
        )
        return (
            infos
            | "GatherShardInfo" >> beam.combiners.ToList()
            | "WriteManifest"
            >> beam.ParDo(
                WriteManifestFn(self.directory, self.source, self.run_config, self.config)
            )
        )
