"""Fast extraction with a fidelity fallback for pages the block classifier was unsure of.

The fast extractor's confidence (``meta["extraction_confidence"]``: the share of the page's
block text whose content/boilerplate probability was at most 0.2 or at least 0.8) is low
on page types the classifier saw little of (forums, listings, unusual templates), where its
errors concentrate. Routing those pages to trafilatura costs fidelity's ~20x per page for
that share only. Documents that fell back keep the fast confidence (the reason they fell
back) and say ``meta["extraction_fallback"] = "fidelity"``; when fidelity fails or finds
no text, the fast document is kept and the reason recorded instead.
"""

from __future__ import annotations

from kosmos_data.extract.common import CONFIDENCE_KEY
from kosmos_data.extract.config import ExtractConfig
from kosmos_data.extract.errors import ExtractionError, ExtractionTimeout
from kosmos_data.extract.fast import FastExtractor
from kosmos_data.records import Document, HtmlPage


class FallbackExtractor:
    """``fast``, then ``fidelity`` when the fast confidence is below the config's
    ``fallback_threshold``. The fidelity extractor (and trafilatura) load on first use."""

    name = "fast"

    def __init__(self, config: ExtractConfig) -> None:
        self.config = config
        self.fast = FastExtractor(config)
        self._fidelity = None

    def extract(self, page: HtmlPage) -> Document:
        doc = self.fast.extract(page)
        confidence = float(doc.meta.get(CONFIDENCE_KEY, 0.0))
        if confidence >= self.config.fallback_threshold:
            return doc
        if self._fidelity is None:
            from kosmos_data.extract.fidelity import FidelityExtractor

            self._fidelity = FidelityExtractor(self.config)
        try:
            other = self._fidelity.extract(page)
        except ExtractionTimeout:
            doc.meta["extraction_fallback"] = "fidelity_timeout"
            return doc
        except ExtractionError:
            doc.meta["extraction_fallback"] = "fidelity_error"
            return doc
        if not other.text.strip():
            doc.meta["extraction_fallback"] = "fidelity_empty"
            return doc
        other.meta[CONFIDENCE_KEY] = confidence
        other.meta["extraction_fallback"] = "fidelity"
        return other
