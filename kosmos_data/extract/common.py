"""Helpers shared by both extractors: document ids and ``Document`` assembly."""

from __future__ import annotations

import hashlib

from kosmos_data.records import Document, HtmlPage, Provenance, Segment


def document_id(p: Provenance) -> str:
    """Stable 20-hex-char id: sha1 of warc file, record id and URL.

    The three together identify one capture; the offset is left out on purpose so the id
    survives re-compression of a WARC (offsets change, record ids do not).
    """
    key = f"{p.warc_file}\x00{p.record_id}\x00{p.url}".encode("utf-8", "surrogatepass")
    return hashlib.sha1(key).hexdigest()[:20]


def build_document(
    page: HtmlPage,
    segments: list[Segment],
    extractor: str,
    image_drops: dict[str, int],
    title: str | None,
) -> Document:
    meta: dict[str, object] = {"image_drops": dict(sorted(image_drops.items()))}
    if title:
        meta["title"] = title
    return Document(
        id=document_id(page.provenance),
        provenance=page.provenance,
        segments=segments,
        extractor=extractor,
        meta=meta,
    )


class SegmentBuilder:
    """Accumulates text blocks and images into ordered segments.

    Consecutive text blocks merge into one text segment (blocks joined by ``"\\n"``); an
    image closes the current text segment, so text before and after an image are always
    separate segments.
    """

    __slots__ = ("blocks", "segments")

    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.blocks: list[str] = []

    def text(self, block: str) -> None:
        if block:
            self.blocks.append(block)

    def image(self, ref) -> None:
        self._close()
        self.segments.append(Segment(image=ref))

    def _close(self) -> None:
        if self.blocks:
            self.segments.append(Segment(text="\n".join(self.blocks)))
            self.blocks = []

    def finish(self) -> list[Segment]:
        self._close()
        return self.segments


#: Key of the fast extractor's confidence in ``Document.meta`` (see ``fast._classify``).
CONFIDENCE_KEY = "extraction_confidence"


def confidence_bucket(confidence: float) -> str:
    """Decile label of an extraction confidence ("0.0-0.1" ... "0.9-1.0"), the funnel's
    ``extract_confidence`` reasons."""
    i = min(max(int(confidence * 10), 0), 9)
    return f"{i / 10:.1f}-{(i + 1) / 10:.1f}"
