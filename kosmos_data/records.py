"""Record types that cross stage boundaries.

One ``@dataclass(slots=True)`` per boundary (DEVELOPERS.md): no loose dicts between stages.

    WARC file --read--> RawPage --prefilter--> RawPage --decode--> HtmlPage --extract--> Document
    every stage may instead emit Dropped (a stable snake_case reason) or DeadLetter (bad input).

The funnel identity is: records read = documents kept + Dropped + DeadLetter, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: A filter's verdict: ``None`` keeps the record, a snake_case string is the drop reason.
Verdict = str | None
KEEP: Verdict = None


@dataclass(slots=True, frozen=True)
class Provenance:
    """Where a record came from: enough to find the exact bytes again."""

    warc_file: str
    record_id: str
    offset: int
    url: str
    fetch_date: str  # ISO-8601 WARC-Date, as written in the archive


@dataclass(slots=True)
class RawPage:
    """One WARC/ARC record as read, before any parsing of the payload.

    ``payload`` is the HTTP body (de-chunked, content-decoded where the archive says so);
    ``http_charset`` is the charset parameter of the HTTP Content-Type header, if any.
    """

    provenance: Provenance
    record_type: str  # "response", "request", "warcinfo", "metadata", "revisit", "resource", ...
    http_status: int | None
    mime_type: str | None  # lower-cased media type without parameters, e.g. "text/html"
    http_charset: str | None
    payload: bytes
    truncated: bool = False  # WARC-Truncated present or payload cut at the size cap
    #: What the reader did leniently (``kosmos_data.warc.STALE_CHUNKED``, ...): carried to
    #: ``Document.meta["read_notes"]`` so a page read under a judgement call stays visible.
    notes: tuple[str, ...] = ()
    #: The archived response headers the opt-out step reads (``X-Robots-Tag``,
    #: ``tdm-reservation``, ``tdm-policy``, ``Link``; ``kosmos_data.safety.optout``), as
    #: (name, value) pairs in archive order; other headers are not kept.
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class HtmlPage:
    """A decoded HTML page: the payload as text, with the charset that decoded it."""

    provenance: Provenance
    html: str
    charset: str  # the charset actually used
    charset_source: Literal["http", "meta", "detected", "default"]


@dataclass(slots=True)
class ImageRef:
    """An image found in the page, in reading order.

    ``url`` is absolute (resolved against ``<base>`` and the page URL). ``width``/``height``
    are the sizes declared in the HTML (attributes or inline style), not the real pixel size.
    """

    url: str
    alt: str | None = None
    width: int | None = None
    height: int | None = None
    source: str = "src"  # which attribute gave the URL: src, srcset, data-src, picture, ...
    #: Set by the image stage (``kosmos_data.images``) once the image has been fetched.
    fetched: FetchedImage | None = None


@dataclass(slots=True)
class FetchedImage:
    """The image stage's result for one URL (``kosmos_data.images.fetch``).

    ``reason`` is ``"ok"`` or a stable snake_case failure/filter reason. For ``ok`` images
    ``data`` is the resized image (``ext``, ``width`` x ``height``), ``original_*`` describe
    the bytes as served, ``sha256`` is of those bytes and ``phash`` the 64-bit perceptual
    hash (16 hex digits) of the decoded original.
    """

    url: str
    reason: str
    http_status: int | None = None
    attempts: int = 0
    data: bytes = b""
    ext: str = "jpg"
    width: int = 0
    height: int = 0
    original_width: int = 0
    original_height: int = 0
    original_format: str = ""
    num_bytes: int = 0
    sha256: str = ""
    phash: str = ""
    error: str = ""
    #: open_nsfw score of the decoded image (``kosmos_data.safety.nsfw``); None: not scored.
    nsfw_score: float | None = None

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


@dataclass(slots=True)
class Segment:
    """One item of a document: exactly one of ``text`` or ``image`` is set.

    A text segment is the run of text between two images. It keeps the extractor's block
    structure: one DOM block (paragraph, heading, list item, table cell, caption) per
    ``"\\n"``-separated line, whitespace inside a block collapsed. The quality stage judges
    and removes whole blocks (OBELICS' node unit), never a whole segment at once.
    """

    text: str | None = None
    image: ImageRef | None = None

    @property
    def is_image(self) -> bool:
        return self.image is not None


@dataclass(slots=True)
class Document:
    """An interleaved document: text and image segments in DOM order, plus provenance.

    ``meta`` carries per-stage annotations (language, scores, sampling decisions) as plain
    JSON-serialisable values, so a later stage can add to it without a new record type.
    """

    id: str
    provenance: Provenance
    segments: list[Segment]
    extractor: str
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def images(self) -> list[ImageRef]:
        return [s.image for s in self.segments if s.image is not None]

    @property
    def text(self) -> str:
        """All text segments joined by blank lines (what text filters and language ID see)."""
        return "\n\n".join(s.text for s in self.segments if s.text)


@dataclass(slots=True)
class Dropped:
    """A record removed on purpose, with the stage and stable reason that removed it."""

    stage: str
    reason: str
    provenance: Provenance
    detail: str = ""
    document: Document | None = None  # present when the record had become a document


@dataclass(slots=True)
class DeadLetter:
    """A record that could not be processed (bad input): reason, error, provenance.

    ``sample`` holds the first bytes of the offending payload for debugging.
    """

    stage: str
    reason: str
    provenance: Provenance
    error: str
    sample: bytes = b""
