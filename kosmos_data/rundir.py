"""The run directory's layout, stated once (every job, writer and reader names it from here).

    RUN/docs/            kept documents, OBELICS-style Parquet
    RUN/dropped/         dropped records (stage, reason, detail, the document when it had one);
                         ``perfile-<archive>-<chunk>.parquet`` from the per-archive stages,
                         ``dropped-SSSSS-of-NNNNN.parquet`` from the corpus-wide ones
    RUN/dead_letter/     bad input, with reason, error and a payload sample
    RUN/image_status/    one row per image URL fetched (``kosmos_data.images.status``)
    RUN/shards/          WebDataset tars + ``manifest.json`` (``kosmos_data.shards``)
    RUN/_per_file/       per-archive checkpoints, RUN/_done/ their completion markers,
    RUN/_run.json        the resumable run's fingerprint (``kosmos_data.checkpoint``)
    RUN/funnel.json      the funnel, written once when the job has finished
    RUN/contamination.json   the decontamination report

Paths are joined with ``/`` so the same code serves local directories and ``gs://``/``s3://``
prefixes (Beam's ``FileSystems`` accepts both).
"""

from __future__ import annotations

from dataclasses import dataclass

DOCS = "docs"
DROPPED = "dropped"
DEAD_LETTER = "dead_letter"
IMAGE_STATUS = "image_status"
SHARDS = "shards"
PER_FILE = "_per_file"
DONE = "_done"
RUN_FILE = "_run.json"
FUNNEL = "funnel.json"
#: The pipeline's part of the funnel, completed and removed by the launcher.
FUNNEL_PARTIAL = "_funnel.pipeline.json"
CONTAMINATION = "contamination.json"


@dataclass(frozen=True, slots=True)
class RunDir:
    """One run directory: ``RunDir(out).docs`` is ``out/docs``, and so on."""

    root: str

    def __post_init__(self) -> None:
        if not self.root:
            raise ValueError("RunDir.root: an output directory is required")

    def join(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    @property
    def docs(self) -> str:
        return self.join(DOCS)

    @property
    def dropped(self) -> str:
        return self.join(DROPPED)

    @property
    def dead_letter(self) -> str:
        return self.join(DEAD_LETTER)

    @property
    def image_status(self) -> str:
        return self.join(IMAGE_STATUS)

    @property
    def shards(self) -> str:
        return self.join(SHARDS)

    @property
    def funnel(self) -> str:
        return self.join(FUNNEL)

    @property
    def funnel_partial(self) -> str:
        return self.join(FUNNEL_PARTIAL)
