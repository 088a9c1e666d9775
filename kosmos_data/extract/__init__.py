"""HTML page -> interleaved text/image ``Document`` extractors.

Public interface (the pipeline calls exactly this)::

    from kosmos_data.extract import (
        ExtractConfig, ExtractionError, ExtractionTimeout, make_extractor,
    )
    ex = make_extractor(ExtractConfig(mode="fast", timeout_s=5.0))
    doc = ex.extract(page)  # raises ExtractionTimeout / ExtractionError

``fast`` (default) is a lexbor DOM walk with CSS-selector boilerplate removal (no
BeautifulSoup, trafilatura or lxml imported on that path); ``fidelity`` runs trafilatura
with images. Both share the image rules in ``images.py``. A fast config with
``fallback_threshold > 0`` re-extracts low-confidence pages with fidelity
(``fallback.py``). This package never imports apache_beam.
"""

from __future__ import annotations

from typing import Protocol

from kosmos_data.extract.config import ExtractConfig
from kosmos_data.extract.errors import ExtractionError, ExtractionTimeout
from kosmos_data.records import Document, HtmlPage

__all__ = [
    "ExtractConfig",
    "ExtractionError",
    "ExtractionTimeout",
    "Extractor",
    "make_extractor",
]


class Extractor(Protocol):
    name: str

    def extract(self, page: HtmlPage) -> Document: ...


def make_extractor(config: ExtractConfig) -> Extractor:
    """Build the extractor for ``config.mode``. Cheap: heavy imports happen lazily."""
    if config.mode == "fast":
        if config.fallback_threshold > 0:
            from kosmos_data.extract.fallback import FallbackExtractor

            return FallbackExtractor(config)
        from kosmos_data.extract.fast import FastExtractor

        return FastExtractor(config)
    if config.mode == "fidelity":
        from kosmos_data.extract.fidelity import FidelityExtractor

        return FidelityExtractor(config)
    raise ValueError(f"ExtractConfig.mode: unknown mode {config.mode!r}")
