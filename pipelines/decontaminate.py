"""``kosmos-data decontaminate --input DOCS_DIR --output DIR --decontaminate-against SPEC``:
decontamination of an existing ``docs/`` directory (see ``pipelines.dedup``)."""

from __future__ import annotations

from pipelines.dedup import decontaminate_main as main
from pipelines.dedup import run as _run


def run(argv: list[str]) -> dict:
    return _run("decontaminate", argv)


__all__ = ["main", "run"]
