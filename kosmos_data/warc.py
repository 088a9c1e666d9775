"""Read WARC and ARC archives into :class:`~kosmos_data.records.RawPage` records.

Why this module exists
----------------------
The funnel identity (``records read = kept + dropped + dead-lettered``, see ``records.py``)
starts here, so :func:`iter_records` yields **exactly one item per record it meets**: a
``RawPage`` for every record it could frame, whatever its type, or a ``DeadLetter`` for a
record (or the unreadable rest of a file) it could not. It never raises on bad input.

Formats
-------
* WARC 1.0 / 1.1 (ISO 28500; https://iipc.github.io/warc-specifications/specifications/
  warc-format/warc-1.1/), plain, gzipped per record (the Common Crawl layout, WARC 1.1
  annex D.2), gzipped as one whole-file member, or a mix of gzipped and plain records.
  Framed here (:func:`_iter_warc_framed`), not by fastwarc: fastwarc reads the decompressed
  bytes as one stream, so one record whose Content-Length runs past its gzip member
  swallowed every record after it, and LF-only archives lost records.
* ARC (the legacy Internet Archive format, https://archive.org/web/researcher/ArcFileFormat.php),
  read with ``warcio``. ARC records get the synthetic, stable id
  ``<urn:arc:{warc_file}:{offset}>`` (warcio's converted ids are random UUIDs).

Compression is detected from magic bytes, never from the file name, and the input may be a
non-seekable stream (Beam's ``FileSystems.open(..., CompressionTypes.UNCOMPRESSED)`` on gs://
or s3://). :class:`_Segments` splits the stream into gzip members and runs of plain records,
as warcio reads per-record gzip (one member at a time). ``Provenance.offset`` is the byte
offset of the record in the *file* for per-record gzip and plain records (usable for an HTTP
range request, as in the CC index); for records inside a whole-file member it is the offset
in the *uncompressed* stream (there is no better one).

Framing and resynchronisation (nothing lost, nothing counted twice)
------------------------------------------------------------------
Each record is checked against WARC 1.1 §4: the header block ends in an empty line (CRLF,
or LF as warcio also accepts; CR CR LF too), and the block of Content-Length bytes is
followed by CRLF CRLF (or LF LF) and the next record. When it is not, the record is
``bad_record_length`` and reading resumes on the next record: the next gzip member, or the
next ``WARC/1.x`` line (inside the block read when the length ran into the next record).
A gzip member that fails is one ``corrupt_archive`` and reading resumes after its start.
Two records with one WARC-Record-ID (seen in real archives) get ``{id}@{offset}`` for the
later one, since document ids are derived from it.

Payloads
--------
Only ``response`` and ``resource`` records (``ReadConfig.read_payload_types``) have their
bodies read, at most ``max_payload_bytes`` raw bytes (more -> ``truncated=True``; a record
with a ``WARC-Truncated`` header is also ``truncated``). Other types (``warcinfo``,
``request``, ``metadata``, ``revisit``, ``conversion``, ...) come out as a ``RawPage`` with
an empty payload; the pre-filter drops them. For HTTP records the body is de-chunked
(``Transfer-Encoding: chunked``, RFC 9112 §7.1) and content-decoded (``Content-Encoding``
gzip / x-gzip / deflate / br / zstd, RFC 9110 §8.4), each capped at ``max_payload_bytes``
(decompression-bomb guard). Common Crawl stores decoded bodies and renames the headers to
``X-Crawler-*``, which we ignore, but other crawlers keep them.

Leniency (documented judgement calls):

* A ``chunked`` body that does not start with a chunk-size line (markup, a BOM, text) was
  stored de-chunked with a stale header: it is passed through raw, as warcio does, and
  flagged ``RawPage.notes = ("stale_chunked_header",)`` (``Document.meta["read_notes"]``).
  One that starts as valid chunks and then breaks is dead-lettered ``bad_chunked_body``. A
  chunked body cut short (no final ``0`` chunk) keeps the chunks decoded so far and is
  marked ``truncated``.
* A body whose ``Content-Encoding`` is unknown or fails to decode is passed through raw when
  it looks like text (stored decoded, stale header; noted ``stale_content_encoding``);
  otherwise ``bad_content_encoding``.
* HTTP header bytes that are not UTF-8 are decoded as latin-1.

Dead-letter reasons (``DeadLetter.stage == "read"``)
---------------------------------------------------
``empty_archive``         the stream holds no bytes at all, or only empty gzip members.
``not_an_archive``        no WARC or ARC record is found anywhere in the stream (the first
                          bytes are neither ``WARC/`` nor ``filedesc://``, and no record
                          follows); one dead letter for the whole file.
``corrupt_archive``       a corrupt or truncated gzip member, bytes between records that are
                          no record, or a record cut short by the end of the file: one dead
                          letter per damaged stretch (its offset is where it starts); reading
                          resumes at the next member or ``WARC/1.x`` line.
``bad_record_length``     a record whose block does not end where its Content-Length says.
``bad_record_header``     a WARC record without a numeric Content-Length or with a header
                          block over 64 KiB; an ARC record whose length field is not a
                          non-negative integer.
``bad_http_headers``      an HTTP response record whose HTTP header block has no status line.
``bad_chunked_body``      ``Transfer-Encoding: chunked`` body that breaks mid-way.
``bad_content_encoding``  undecodable, non-textual body under a ``Content-Encoding``.
"""

from __future__ import annotations

import re
import zlib

try:  # ISA-L's inflate (python-isal): same output as zlib, ~2.5x faster on gzip members
    from isal import isal_zlib as _inflate_lib

    _INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, _inflate_lib.error)
except ImportError:  # pragma: no cover - isal is a declared dependency
    _inflate_lib = zlib
    _INFLATE_ERRORS = (zlib.error,)
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

from kosmos_data.records import DeadLetter, Provenance, RawPage
from kosmos_data.safety.headers import optout_headers

__all__ = [
    "READ_STAGE",
    "STALE_CHUNKED",
    "STALE_CONTENT_ENCODING",
    "ReadConfig",
    "iter_records",
    "read_config_for",
]

READ_STAGE = "read"
#: ``RawPage.notes``: the body was labelled chunked but was not (passed through raw).
STALE_CHUNKED = "stale_chunked_header"
#: ``RawPage.notes``: the body did not decode under its Content-Encoding but is text (raw).
STALE_CONTENT_ENCODING = "stale_content_encoding"
_GZIP_MAGIC = b"\x1f\x8b"
_READ_SIZE = 1 << 16
_SAMPLE_BYTES = 256


@dataclass(frozen=True)
class ReadConfig:
    """How much of each record to read.

    ``max_payload_bytes`` caps the raw body read per record (and the decoded size after
    content decoding); anything beyond it is skipped and the page is marked ``truncated``.
    ``read_payload_types`` are the WARC-Type values whose bodies are read at all.
    """

    max_payload_bytes: int = 5_000_000
    read_payload_types: tuple[str, ...] = ("response", "resource")

    def __post_init__(self) -> None:
        if not isinstance(self.max_payload_bytes, int) or self.max_payload_bytes <= 0:
            raise ValueError(
                f"ReadConfig.max_payload_bytes must be a positive int, "
                f"got {self.max_payload_bytes!r}"
            )
        if isinstance(self.read_payload_types, str) or not all(
            isinstance(t, str) and t for t in self.read_payload_types
        ):
            raise ValueError(
                "ReadConfig.read_payload_types must be a tuple of non-empty WARC-Type "
                f"strings, got {self.read_payload_types!r}"
            )
        object.__setattr__(
            self, "read_payload_types", tuple(t.lower() for t in self.read_payload_types)
        )


def read_config_for(read: ReadConfig, prefilter_max_bytes: int) -> ReadConfig:
    """``read`` with its cut above the pre-filter's size limit.

    A page cut by the reader at ``max_payload_bytes`` is exactly that long; were the cut at
    or below the pre-filter's ``max_payload_bytes`` (``--max-payload-bytes``), the cut page
    would pass the size check truncated. One byte more and every page the reader cuts is
    dropped as ``payload_too_large`` instead (and raising the flag raises the cut).
    """
    want = prefilter_max_bytes + 1
    return read if read.max_payload_bytes >= want else replace(read, max_payload_bytes=want)


class _CorruptStream(Exception):
    """Raised from a stream wrapper's ``read`` when the underlying bytes are damaged."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class _Prefixed:
    """A read/tell view of ``stream`` with already-read ``head`` bytes put back in front.

    The ARC path hands warcio a stream with ``tell()``; Beam's remote streams may not be
    seekable, so the ARC input goes through a wrapper like this.
    """

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                out = self._head + self._stream.read()
                self._head = b""
            else:
                out, self._head = self._head[:n], self._head[n:]
                if len(out) < n:
                    out += _read_some(self._stream, n - len(out))
        elif n is None or n < 0:
            out = self._stream.read()
        else:
            out = _read_some(self._stream, n)
        self._pos += len(out)
        return out

    def tell(self) -> int:
        return self._pos


def _read_some(stream: BinaryIO, n: int) -> bytes:
    """``stream.read(n)``, tolerating raw streams that return ``None`` (would block)."""
    out = stream.read(n)
    return out if out is not None else b""


class _GzipMembers:
    """Decompress a (multi-member) gzip stream, recording where each member starts.

    Each member start is remembered as ``uncompressed offset -> compressed offset`` so a
    record that begins exactly at a member boundary (per-record gzip, WARC 1.1 annex D.2)
    gets its offset in the compressed file. A zlib error, bytes that are not a gzip member
    where one should start, or a member cut off by the end of the file raise
    :class:`_CorruptStream` (fastwarc re-raises exceptions of Python streams).
    """

    def __init__(self, stream: BinaryIO, head: bytes) -> None:
        self._stream = stream
        self._in = head  # compressed bytes not yet fed to zlib
        self._cpos = 0  # compressed offset of self._in[0]
        self._upos = 0  # uncompressed bytes delivered so far
        self._d: zlib._Decompress | None = None
        self._member_cstart = 0
        self._starts: dict[int, int] = {}
        self._eof = False
        self._partial: list[bytes] = []
        self.error: _CorruptStream | None = None

    def tell(self) -> int:
        return self._upos

    def member_offset(self, upos: int) -> int:
        """Compressed offset of the member starting at uncompressed ``upos``, else ``upos``."""
        starts = self._starts
        cpos = starts.get(upos)
        if len(starts) > 64:  # records come in order: forget members behind this one
            for k in [k for k in starts if k < upos]:
                del starts[k]
        return upos if cpos is None else cpos

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = _read_some(self._stream, _READ_SIZE)
        if not chunk:
            self._eof = True
            return False
        self._in = self._in + chunk if self._in else chunk
        return True

    def read(self, n: int = -1) -> bytes:
        """Return up to ``n`` bytes; after damage, what was good, then end-of-stream.

        The error is *not* raised: fastwarc reads ahead, and an exception would lose the
        complete records already buffered. The caller checks :attr:`error` at the end.
        """
        if self.error is not None:
            return b""
        try:
            return self._read(n)
        except _CorruptStream as e:
            self.error = e
            out = b"".join(self._partial)
            self._upos += len(out)
            return out

    def _read(self, n: int) -> bytes:
        want = n if n is not None and n >= 0 else 1 << 62
        parts: list[bytes] = []
        self._partial = parts
        have = 0
        while have < want:
            if self._d is None:
                if len(self._in) < 2 and not self._fill() and not self._in:
                    break  # clean end of file after a complete member
                if len(self._in) < 2:
                    continue
                if self._in[:2] != _GZIP_MAGIC:
                    raise _CorruptStream(
                        f"bytes at compressed offset {self._cpos} are not a gzip member",
                        self._cpos,
                    )
                self._d = _inflate_lib.decompressobj(31)
                self._member_cstart = self._cpos
                self._starts[self._upos + have] = self._cpos
            if not self._in and not self._fill():
                raise _CorruptStream(
                    f"gzip member at compressed offset {self._member_cstart} is truncated",
                    self._member_cstart,
                )
            d = self._d
            data = self._in
            try:
                out = d.decompress(data, min(want - have, 1 << 20))
            except _INFLATE_ERRORS as e:
                raise _CorruptStream(
                    f"gzip member at compressed offset {self._member_cstart}: {e}",
                    self._member_cstart,
                ) from e
            if d.eof:
                rest = d.unused_data
                self._d = None
            else:
                rest = d.unconsumed_tail
            self._cpos += len(data) - len(rest)
            self._in = rest
            if out:
                parts.append(out)
                have += len(out)
        result = b"".join(parts)
        self._partial = []
        self._upos += len(result)
        return result


# --------------------------------------------------------------------------- helpers

_STATUS_RE = re.compile(rb"^\s*HTTP/\d+(?:\.\d+)?\s+(\d{3})(?:\s|$)", re.IGNORECASE)
_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?\s*([^"';,\s]+)""", re.IGNORECASE)
_CHUNK_SIZE_RE = re.compile(rb"[ \t]*([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """``"text/HTML; charset=UTF-8"`` -> ``("text/html", "UTF-8")`` (RFC 9110 §8.3)."""
    if not value:
        return None, None
    mime = value.split(";", 1)[0].strip().lower() or None
    m = _CHARSET_RE.search(value)
    charset = m.group(1).strip() if m else None
    return mime, charset or None


def _looks_textual(data: bytes) -> bool:
    """A cheap test that a body is text, not compressed/binary bytes."""
    head = data[:512]
    if not head:
        return True
    if b"\x00" in head:
        return False
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return control * 20 < len(head)


class _StaleChunked(Exception):
    """A body labelled ``Transfer-Encoding: chunked`` that does not start with a chunk."""


class _BodyError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _dechunk(body: bytes, cap: int) -> tuple[bytes, bool]:
    """Undo ``Transfer-Encoding: chunked`` (RFC 9112 §7.1); returns (body, cut_short)."""
    m = _CHUNK_SIZE_RE.match(body)
    if m is None:
        # Not chunked at all (a BOM, markup, text...): stored de-chunked with a stale header.
        # warcio passes such bodies through raw too; the caller flags the page.
        raise _StaleChunked()
    parts: list[bytes] = []
    size_total = 0
    pos = 0
    n = len(body)
    while True:
        m = _CHUNK_SIZE_RE.match(body, pos)
        if m is None:
            if pos >= n:
                return b"".join(parts), True  # ended without the last-chunk
            raise _BodyError("bad_chunked_body", f"bad chunk-size line at body offset {pos}")
        size = int(m.group(1), 16)
        pos = m.end()
        if size == 0:
            return b"".join(parts), False  # trailers, if any, are ignored
        chunk = body[pos : pos + size]
        parts.append(chunk)
        size_total += len(chunk)
        pos += size
        if pos >= n or size_total >= cap:
            return b"".join(parts)[:cap], True
        if body.startswith(b"\r\n", pos):
            pos += 2
        elif body.startswith(b"\n", pos):
            pos += 1
        else:
            raise _BodyError("bad_chunked_body", f"chunk not followed by CRLF at offset {pos}")


def _decompress(data: bytes, coding: str, cap: int) -> tuple[bytes, bool]:
    """Undo one content coding; returns (decoded, capped). Raises on failure."""
    if coding in ("gzip", "x-gzip", "deflate"):
        if coding == "deflate" and data[:1] != b"\x78":
            d = zlib.decompressobj(-15)  # raw deflate, as some servers send
        else:
            d = zlib.decompressobj(47 if coding != "deflate" else 15)
        out = d.decompress(data, cap + 1)
        return out[:cap], len(out) > cap or bool(d.unconsumed_tail)
    if coding == "br":
        import brotli  # a fastwarc dependency

        dec = brotli.Decompressor()
        out = dec.process(data, output_buffer_limit=cap + 1)
        return out[:cap], len(out) > cap
    if coding == "zstd":
        import zstandard  # an apache-beam dependency

        # stream_reader bounds the output (decompressobj().decompress has no limit: a 4.5 KB
        # frame can expand to GiBs before the cap is applied).
        reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
        out = _read_capped(reader, cap + 1)
        return out[:cap], len(out) > cap
    raise ValueError(f"unsupported content coding {coding!r}")


def _decode_body(
    body: bytes, transfer: str | None, content: str | None, cap: int, notes: list[str]
) -> tuple[bytes, bool]:
    """Apply Transfer-Encoding then Content-Encoding decoding; returns (body, cut_short).

    What was done leniently is appended to ``notes`` (``RawPage.notes``)."""
    cut = False
    if transfer and "chunked" in transfer.lower():
        try:
            body, cut = _dechunk(body, cap)
        except _StaleChunked:
            notes.append(STALE_CHUNKED)
    if content:
        for coding in reversed([c.strip().lower() for c in content.split(",")]):
            if coding in ("", "identity", "none"):
                continue
            try:
                body, capped = _decompress(body, coding, cap)
                cut = cut or capped
            except Exception as e:
                if _looks_textual(body):
                    notes.append(STALE_CONTENT_ENCODING)
                    return body, cut  # stored decoded, stale Content-Encoding header
                raise _BodyError(
                    "bad_content_encoding", f"Content-Encoding {coding!r}: {e!r}"
                ) from e
    return body, cut


def _dead(reason: str, prov: Provenance, error: str, sample: bytes = b"") -> DeadLetter:
    return DeadLetter(
        stage=READ_STAGE, reason=reason, provenance=prov, error=error, sample=sample[:_SAMPLE_BYTES]
    )


def _file_prov(warc_file: str, offset: int) -> Provenance:
    return Provenance(warc_file=warc_file, record_id="", offset=offset, url="", fetch_date="")


def _is_panic(e: BaseException) -> bool:
    # pyo3's PanicException derives from BaseException, not Exception.
    return type(e).__name__ == "PanicException"


# --------------------------------------------------------------------------- WARC framing
#
# WARC records are framed here, in Python, rather than by fastwarc: fastwarc reads the
# decompressed bytes as one stream, so a record whose Content-Length runs past its gzip
# member swallows the records after it, and its parser loses records of LF-only archives.
# warcio (the IIPC reference reader) reads per-record gzip one member at a time; this reader
# does the same and in addition checks every record's framing (WARC 1.1 §4: the block is
# followed by CRLF CRLF), so a wrong length costs one record, never the rest of the file.

# A record's first line, where reading resumes after damage (not only at a line start: the
# damaged byte may be the line end before it).
_MARKER_RE = re.compile(rb"(WARC/1\.[01]\r?\n)")
# Where reading may resume inside a stream of mixed members: a gzip member or a WARC record.
_START_RE = re.compile(rb"\x1f\x8b\x08|WARC/1\.[01]\r?\n")
_GZIP_MEMBER = b"\x1f\x8b\x08"
_MAX_HEADER_BYTES = 1 << 16
_HISTORY_BYTES = 1 << 24  # compressed bytes of a member kept to resynchronise after damage
_HTTP_HEADER_ALLOWANCE = 1 << 16
# What may follow a block: the CRLF CRLF of WARC 1.1 §4 (or LF LF, or a writer's lone line
# end) before the next record.
_RECORD_ENDS = (b"\r\n\r\n", b"\n\n", b"\r\n\n", b"\n\r\n", b"WARC/", b"\r\nWARC/", b"\nWARC/")


class _Segments:
    """An archive as a sequence of segments: gzip members, and runs of plain records.

    A gzip member is one segment (per-record gzip, WARC 1.1 annex D.2, as warcio reads it);
    ``read`` returns its decompressed bytes and ``b""`` at its end. Plain bytes that start
    with ``WARC/`` (a plain file, or plain records between members of a mixed file) are a
    *raw* segment, which the parser ends by :meth:`give_back` when a gzip member follows a
    record. Bytes that are neither are skipped up to the next member or ``WARC/1.x`` line and
    reported in ``pending`` (offset, message). A member that fails to decompress sets
    ``error`` (its segment ends) and reading resumes at the next member or record after it.
    """

    def __init__(self, stream: BinaryIO, head: bytes) -> None:
        self._stream = stream
        self._in = head  # input bytes not yet consumed
        self._cpos = 0  # file offset of self._in[0]
        self._eof = False
        self._d: zlib._Decompress | None = None
        self._quiet_seek = False
        self._hist: list[bytes] = []  # compressed bytes of the current member (bounded)
        self._hist_size = 0
        self._hist_start = 0  # file offset of self._hist[0]
        self.raw = False
        self.upos = 0  # segment bytes delivered so far (decompressed, or raw)
        self.seg_ustart = 0
        self.seg_cstart = 0
        self.error: _CorruptStream | None = None
        self.pending: list[tuple[int, str]] = []
        self.produced = False

    def offset_of(self, upos: int) -> int:
        """The file offset of a record starting at ``upos``: its own offset in a raw segment,
        its member's at a member start, else the offset in the decompressed stream."""
        if self.raw:
            return self.seg_cstart + (upos - self.seg_ustart)
        return self.seg_cstart if upos == self.seg_ustart else upos

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = _read_some(self._stream, _READ_SIZE)
        if not chunk:
            self._eof = True
            return False
        self._in = self._in + chunk if self._in else chunk
        return True

    def _drop(self, n: int) -> None:
        self._in, self._cpos = self._in[n:], self._cpos + n

    def _seek_start(self) -> bool:
        """Drop bytes up to the next gzip member or ``WARC/1.x`` line; False at the end."""
        while True:
            m = _START_RE.search(self._in)
            if m is not None:
                self._drop(m.start())
                return True
            self._drop(max(len(self._in) - 12, 0))
            if not self._fill():
                self._drop(len(self._in))
                return False

    def next_segment(self) -> bool:
        self._d = None
        self.error = None
        self.raw = False
        while True:
            while len(self._in) < 8 and self._fill():
                pass
            blank = len(self._in) - len(self._in.lstrip(b"\r\n\t "))
            if not blank:
                break
            self._drop(blank)
        if not self._in:
            return False
        if not self._in.startswith((_GZIP_MEMBER, b"WARC/")):
            start = self._cpos
            found = self._seek_start()
            if not self._quiet_seek:
                msg = f"{self._cpos - start} bytes at offset {start} are neither gzip nor WARC"
                self.pending.append((start, msg))
            if not found:
                self._quiet_seek = False
                return False
        self._quiet_seek = False
        self.seg_cstart = self._cpos
        self.seg_ustart = self.upos
        if self._in.startswith(b"WARC/"):
            self.raw = True
        else:
            self._d = _inflate_lib.decompressobj(31)
            self._hist, self._hist_size, self._hist_start = [], 0, self._cpos
        return True

    def _keep(self, consumed: bytes) -> None:
        """Remember a member's compressed bytes (the last ``_HISTORY_BYTES`` of them)."""
        self._hist.append(consumed)
        self._hist_size += len(consumed)
        while self._hist_size > _HISTORY_BYTES and len(self._hist) > 1:
            old = self._hist.pop(0)
            self._hist_size -= len(old)
            self._hist_start += len(old)

    def _rewind(self) -> None:
        """After a member failed: resume the search just after its start, not where zlib
        stopped. A corrupt deflate stream can run on through the records that follow it
        (plain records of a mixed file, later members) before zlib notices."""
        whole = b"".join(self._hist) + self._in  # starts at file offset self._hist_start
        resume = max(self._hist_start, self.seg_cstart + 1)
        self._in = whole[resume - self._hist_start :]
        self._cpos = resume
        self._hist, self._hist_size = [], 0
        self._quiet_seek = True

    def give_back(self, data: bytes) -> None:
        """End a raw segment, returning the bytes read past its last record."""
        self._in = data + self._in
        self._cpos -= len(data)
        self.upos -= len(data)
        self.raw = False

    def read(self, n: int) -> bytes:
        if self.raw:
            if not self._in:
                self._fill()
            out = self._in[:n]
            self._drop(len(out))
        else:
            out = self._read_member(n)
        self.upos += len(out)
        self.produced = self.produced or bool(out)
        return out

    def _read_member(self, n: int) -> bytes:
        d = self._d
        if d is None:
            return b""
        parts: list[bytes] = []
        have = 0
        while have < n:
            if not self._in and not self._fill():
                self.error = _CorruptStream(
                    f"gzip member at compressed offset {self.seg_cstart} is truncated",
                    self.seg_cstart,
                )
                self._d = None
                self._rewind()
                break
            data = self._in
            try:
                out = d.decompress(data, n - have)
            except _INFLATE_ERRORS as e:
                self.error = _CorruptStream(
                    f"gzip member at compressed offset {self.seg_cstart}: {e}", self.seg_cstart
                )
                self._d = None
                self._rewind()
                break
            done = d.eof
            rest = d.unused_data if done else d.unconsumed_tail
            used = len(data) - len(rest)
            self._keep(data[:used])
            self._cpos += used
            self._in = rest
            if out:
                parts.append(out)
                have += len(out)
            if done:
                self._d = None
                break
        return b"".join(parts)


class _Buffer:
    """Lines and blocks of the current segment, with push-back for resynchronisation."""

    def __init__(self, seg: _Segments) -> None:
        self.seg = seg
        self.buf = b""
        self.pos = 0
        self.base = 0  # uncompressed offset of buf[0]
        self.ended = False  # the segment has no more bytes

    def reset(self) -> None:
        self.buf, self.pos, self.base, self.ended = b"", 0, self.seg.upos, False

    def upos(self) -> int:
        return self.base + self.pos

    def _more(self, want: int = _READ_SIZE) -> bool:
        if self.ended:
            return False
        chunk = self.seg.read(max(want, _READ_SIZE))
        if not chunk:
            self.ended = True
            return False
        if self.pos:
            self.base += self.pos
            self.buf = self.buf[self.pos :] + chunk
            self.pos = 0
        else:
            self.buf += chunk
        return True

    def avail(self) -> int:
        return len(self.buf) - self.pos

    def peek(self, n: int) -> bytes:
        while self.avail() < n and self._more(n - self.avail()):
            pass
        return self.buf[self.pos : self.pos + n]

    def readline(self, limit: int) -> bytes:
        """One line with its ``\\n`` (without it at the segment end), at most ``limit`` bytes."""
        while True:
            i = self.buf.find(b"\n", self.pos, self.pos + limit)
            if i >= 0:
                line = self.buf[self.pos : i + 1]
                self.pos = i + 1
                return line
            if self.avail() >= limit or not self._more():
                line = self.buf[self.pos : self.pos + limit]
                self.pos += len(line)
                return line

    def read(self, n: int) -> bytes:
        if self.avail() >= n:
            out = self.buf[self.pos : self.pos + n]
            self.pos += n
            return out
        parts = [self.buf[self.pos :]]
        have = len(parts[0])
        self.base += len(self.buf)
        self.buf, self.pos = b"", 0
        while have < n and not self.ended:
            chunk = self.seg.read(min(n - have, 1 << 20))
            if not chunk:
                self.ended = True
                break
            parts.append(chunk)
            have += len(chunk)
            self.base += len(chunk)
        return b"".join(parts)

    def skip(self, n: int) -> int:
        done = 0
        while done < n:
            got = len(self.read(min(n - done, 1 << 20)))
            if not got:
                break
            done += got
        return done

    def unread(self, data: bytes) -> None:
        """Put back ``data``, the bytes read just before the current position."""
        self.base = self.base + self.pos - len(data)
        self.buf = data + self.buf[self.pos :]
        self.pos = 0

    def skip_blank(self) -> bool:
        """Skip CR/LF/space between records; False at the segment end."""
        while True:
            if not self.avail() and not self._more():
                return False
            b = self.buf[self.pos]
            if b in (10, 13, 32, 9):
                self.pos += 1
                continue
            return True

    def take_rest(self) -> bytes:
        """The bytes read ahead of the position (the segment ends here)."""
        rest = self.buf[self.pos :]
        self.buf, self.pos, self.ended = b"", 0, True
        return rest

    def seek_marker(self, raw: bool) -> int:
        """Advance to the next ``WARC/1.x`` line start in this segment (or its end); in a
        raw segment also to the next gzip member, where the segment ends."""
        start = self.upos()
        while True:
            i = _resync_index(self.buf, self.pos, raw)
            if i is not None:
                self.pos = i
                return self.upos() - start
            self.pos = max(self.pos, len(self.buf) - 12)
            if not self._more():
                self.pos = len(self.buf)
                return self.upos() - start


def _resync_index(data: bytes, pos: int, raw: bool) -> int | None:
    """The first index >= ``pos`` where a record (a ``WARC/1.x`` line) or, in a raw
    segment, a gzip member starts."""
    m = _MARKER_RE.search(data, max(pos - 1, 0))
    while m is not None and m.start(1) < pos:
        m = _MARKER_RE.search(data, m.start(1))
    best = m.start(1) if m is not None else None
    if raw:
        g = data.find(_GZIP_MEMBER, pos)
        if g >= 0 and (best is None or g < best):
            best = g
    return best


def _parse_header_lines(lines: list[bytes]) -> dict[str, str]:
    """``Name: value`` lines (lower-cased names, first one wins; folded lines joined)."""
    fields: dict[str, str] = {}
    last = None
    for raw in lines:
        line = _text(raw)
        if line[:1] in (" ", "\t") and last is not None:
            fields[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        if key and key not in fields:
            fields[key] = value.strip()
            last = key
    return fields


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _split_http(block: bytes) -> tuple[bytes, dict[str, str], int] | None:
    """(status line, headers, body start) of an HTTP message; ``None`` without a status.

    Lenient like browsers and warcio: lines may end in CRLF, LF or CR CR LF; a block that
    ends inside the headers is all headers.
    """
    lines: list[bytes] = []
    pos = 0
    n = len(block)
    limit = min(n, _HTTP_HEADER_ALLOWANCE)
    end = n
    while pos < limit:
        i = block.find(b"\n", pos, limit)
        if i < 0:
            lines.append(block[pos:limit].rstrip(b"\r"))
            end = limit if limit == n else -1
            break
        line = block[pos:i].rstrip(b"\r")
        pos = i + 1
        if not line:
            end = pos
            break
        lines.append(line)
    if end < 0 or not lines:
        return None
    if not _STATUS_RE.match(lines[0]):
        return None
    return lines[0], _parse_header_lines(lines[1:]), end


def _header_pairs(head: bytes) -> list[tuple[str, str]]:
    """Every ``Name: value`` line of an HTTP header block, repeats included (the opt-out
    step must see each ``X-Robots-Tag`` line, where ``_parse_header_lines`` keeps the
    first)."""
    pairs = []
    for raw in head.split(b"\n")[1:]:
        name, sep, value = _text(raw.rstrip(b"\r")).partition(":")
        if sep and name.strip():
            pairs.append((name.strip(), value.strip()))
    return pairs


def _record_item(
    fields: dict[str, str],
    block: bytes,
    complete: bool,
    prov: Provenance,
    config: ReadConfig,
) -> RawPage | DeadLetter:
    """A framed record (header fields, the kept part of its block) -> page or dead letter."""
    rtype = (fields.get("warc-type") or "").strip().lower() or "unknown"
    truncated = "warc-truncated" in fields
    if rtype not in config.read_payload_types:
        return RawPage(prov, rtype, None, None, None, b"", truncated)
    cap = config.max_payload_bytes
    status: int | None = None
    transfer = content = None
    head = b""
    ctype = fields.get("content-type") or ""
    if ctype.lower().startswith("application/http"):
        parsed = _split_http(block)
        if parsed is None:
            return _dead("bad_http_headers", prov, "no HTTP status line", block)
        status_line, hh, start = parsed
        m = _STATUS_RE.match(status_line)
        status = int(m.group(1)) if m else None
        mime, charset = parse_content_type(hh.get("content-type"))
        transfer = hh.get("transfer-encoding")
        content = hh.get("content-encoding")
        body = block[start:]
        head = block[:start]
    else:
        mime, charset = parse_content_type(ctype)
        body = block
    if len(body) > cap:
        body, truncated = body[:cap], True
    truncated = truncated or not complete
    page = _finish(prov, rtype, status, mime, charset, body, transfer, content, truncated, cap)
    if head and isinstance(page, RawPage):
        page.headers = optout_headers(_header_pairs(head))
    return page


def _iter_warc_framed(
    segs: _Segments, warc_file: str, config: ReadConfig
) -> Iterator[RawPage | DeadLetter]:
    """Every record of a WARC, one item each; damage costs the damaged record only.

    Accounting per segment: ``owed`` is set when bytes of a new record (or of garbage)
    start and cleared when an item answers for them, so a gzip error found after a record
    was answered for is not counted twice; a member holding several records (whole-file
    gzip) that breaks gets one ``corrupt_archive`` for its unreadable rest.
    """
    buf = _Buffer(segs)
    keep_max = config.max_payload_bytes + _HTTP_HEADER_ALLOWANCE
    seen_ids: set[str] = set()

    def drain() -> Iterator[DeadLetter]:
        for off, msg in segs.pending:
            yield _dead("corrupt_archive", _file_prov(warc_file, off), msg)
        segs.pending.clear()

    while segs.next_segment():
        yield from drain()
        buf.reset()
        owed = False
        records = 0
        while buf.skip_blank():
            start = buf.upos()
            raw = segs.raw
            if raw and buf.peek(3) == _GZIP_MEMBER:
                segs.give_back(buf.take_rest())  # a gzip member follows plain records
                break
            owed = True
            records += 1
            if buf.peek(5) != b"WARC/":
                skipped = buf.seek_marker(raw)
                yield _dead(
                    "corrupt_archive",
                    _file_prov(warc_file, segs.offset_of(start)),
                    f"{skipped} bytes that are not a WARC record at offset {start}",
                )
                owed = False
                continue
            item, resync = _frame_record(buf, segs, warc_file, config, keep_max, seen_ids)
            yield item
            owed = False
            if resync == "stop":
                break
            if resync == "seek":
                buf.seek_marker(raw)
        if segs.error is not None and (owed or records != 1):
            yield _dead(
                "corrupt_archive", _file_prov(warc_file, segs.error.offset), str(segs.error)
            )
    yield from drain()


_RECORD_HEAD_RE = re.compile(rb"\nContent-Length:[ \t]*\d+\r?\n", re.IGNORECASE)


def _next_record_in(block: bytes, raw: bool) -> int | None:
    """Where a record evidently starts inside ``block``: a ``WARC/1.x`` line (or a gzip
    member, in a raw segment) whose next 4 KiB hold a WARC header with a Content-Length,
    so that a large record merely quoting a WARC line is not cut."""
    pos = 1
    while True:
        i = _resync_index(block, pos, raw)
        if i is None:
            return None
        if block.startswith(_GZIP_MEMBER, i) or _RECORD_HEAD_RE.search(block, i, i + 4096):
            return i
        pos = i + 1


def _frame_record(
    buf: _Buffer,
    segs: _Segments,
    warc_file: str,
    config: ReadConfig,
    keep_max: int,
    seen_ids: set[str],
) -> tuple[RawPage | DeadLetter, str]:
    """Read one record at the buffer's position: (its item, what to do next).

    Next is ``""`` (go on), ``"seek"`` (resynchronise on the next record) or ``"stop"``
    (this segment is over). A record whose block does not end where its Content-Length
    says (WARC 1.1 §4: block, then CRLF CRLF) is ``bad_record_length``; when the next
    record's ``WARC/1.x`` line lies inside the block read, reading resumes there.
    """
    start = buf.upos()
    raw = segs.raw
    lines: list[bytes] = []
    size = 0
    closed = False
    while size < _MAX_HEADER_BYTES:
        line = buf.readline(_MAX_HEADER_BYTES)
        if not line:
            break
        size += len(line)
        stripped = line.rstrip(b"\r\n")
        if not stripped and line.endswith(b"\n"):
            closed = True
            break
        lines.append(stripped.rstrip(b"\r"))
    offset = segs.offset_of(start)
    fields = _parse_header_lines(lines[1:])
    rid = fields.get("warc-record-id") or f"<urn:warc:{warc_file}:{offset}>"
    prov = Provenance(
        warc_file=warc_file,
        record_id=rid,
        offset=offset,
        url=(fields.get("warc-target-uri") or "").strip("<> "),
        fetch_date=fields.get("warc-date") or "",
    )
    if not closed:
        if segs.error is not None or buf.ended:
            msg = str(segs.error) if segs.error else "record header cut short"
            return _dead("corrupt_archive", prov, msg), "stop"
        return _dead("bad_record_header", prov, "WARC header block over 64 KiB"), "seek"
    length_text = (fields.get("content-length") or "").strip()
    if not length_text.isdigit():
        msg = f"Content-Length {length_text!r} is not a length"
        return _dead("bad_record_header", prov, msg), "seek"
    length = int(length_text)
    block = buf.read(min(length, keep_max))
    got = len(block)
    if got == min(length, keep_max) and length > keep_max:
        # What is skipped cannot be read again: a block longer than the cut that holds the
        # start of another record (a bogus huge Content-Length) resumes there instead.
        i = _next_record_in(block, raw)
        if i is not None:
            buf.unread(block[i:])
            msg = f"Content-Length {length} runs into the next record"
            return _dead("bad_record_length", prov, msg), ""
        got += buf.skip(length - keep_max)
    if got < length:
        if segs.error is not None:
            return _dead("corrupt_archive", prov, str(segs.error)), "stop"
        i = _resync_index(block, 1, raw)
        if i is not None:
            buf.unread(block[i:])
            msg = f"Content-Length {length} runs into the next record"
            return _dead("bad_record_length", prov, msg), ""
        if not raw:
            msg = f"Content-Length {length} but its gzip member ends after {got} bytes"
            return _dead("bad_record_length", prov, msg), "stop"
        msg = "record block cut short by the end of the file"
        return _dead("corrupt_archive", prov, msg), "stop"
    after = buf.peek(8)
    if (
        after.strip()
        and not after.startswith(_RECORD_ENDS)
        and not (raw and after.lstrip(b"\r\n").startswith(_GZIP_MEMBER))
    ):
        msg = f"Content-Length {length} does not end at a record boundary"
        i = _resync_index(block, 1, raw)
        if i is not None:
            buf.unread(block[i:])
            return _dead("bad_record_length", prov, msg), ""
        return _dead("bad_record_length", prov, msg), "seek"
    if segs.error is not None:  # the member's end (CRC, length) is damaged: so may it be
        return _dead("corrupt_archive", prov, str(segs.error)), "stop"
    rtype = (fields.get("warc-type") or "").strip().lower()
    if rtype in config.read_payload_types:
        if rid in seen_ids:
            # Two records with one WARC-Record-ID (seen in real archives): documents are
            # keyed by it, so the later one is told apart by its offset.
            prov = replace(prov, record_id=f"{rid}@{offset}")
        else:
            seen_ids.add(rid)
    return _record_item(fields, block, length <= keep_max, prov, config), ""


# --------------------------------------------------------------------------- entry point


def iter_records(
    stream: BinaryIO, warc_file: str, config: ReadConfig | None = None
) -> Iterator[RawPage | DeadLetter]:
    """Yield one ``RawPage`` or ``DeadLetter`` per record of a WARC/ARC stream.

    ``stream`` is an open binary file object (need not be seekable), plain or gzipped;
    ``warc_file`` is recorded verbatim in every ``Provenance``. Never raises on bad input.
    """
    config = config or ReadConfig()
    try:
        head = _read_upto(stream, 2)
    except Exception as e:
        yield _dead("not_an_archive", _file_prov(warc_file, 0), f"unreadable stream: {e!r}")
        return
    if not head:
        yield _dead("empty_archive", _file_prov(warc_file, 0), "the stream holds no bytes")
        return
    if head == _GZIP_MAGIC:
        raw, first, complete = _sniff_gzip(stream, head)
        if not first and complete:
            yield _dead("empty_archive", _file_prov(warc_file, 0), "gzip of zero bytes")
            return
    else:
        try:
            raw = head + _read_upto(stream, 14)
        except Exception as e:
            yield _dead("not_an_archive", _file_prov(warc_file, 0), f"unreadable stream: {e!r}")
            return
        first = raw
    if first.lower().startswith(b"filedesc://"):
        gz = _GzipMembers(stream, raw) if head == _GZIP_MAGIC else None
        src = _Prefixed(b"" if gz is not None else raw, gz if gz is not None else stream)
        offset_of = gz.member_offset if gz is not None else _identity
        yield from _drive(_iter_arc(src, offset_of, warc_file, config), gz, warc_file)
        return
    # Also when the first bytes are not "WARC/": a damaged first record must not cost the
    # records after it. A stream in which no record is found at all is one not_an_archive.
    items = _guarded(_iter_warc_framed(_Segments(stream, raw), warc_file, config), warc_file)
    yield from _or_not_an_archive(items, warc_file, first if first else head)


def _or_not_an_archive(
    items: Iterator[RawPage | DeadLetter], warc_file: str, first: bytes
) -> Iterator[RawPage | DeadLetter]:
    """Pass ``items`` through once a record is found; if none is, one ``not_an_archive``."""
    held: list[DeadLetter] = []
    found = False
    for item in items:
        if not found:
            if isinstance(item, DeadLetter) and not item.provenance.record_id:
                held.append(item)  # unreadable bytes: a damaged archive, or no archive at all
                continue
            found = True
            yield from held
        yield item
    if not found and held:
        why = "no WARC or ARC record found (first bytes are neither WARC/ nor filedesc://"
        errors = "; ".join(d.error for d in held[:3])
        yield _dead("not_an_archive", _file_prov(warc_file, 0), f"{why}: {errors})", first)


def _sniff_gzip(stream: BinaryIO, head: bytes) -> tuple[bytes, bytes, bool]:
    """(compressed bytes read, first <= 16 decompressed bytes, ended cleanly between members).

    Reads only as much as needed to see the first bytes of content (across empty members);
    the compressed bytes are handed to the real reader, so nothing is read twice.
    """
    raw = buffer = head
    out = b""
    d: zlib._Decompress | None = None
    while len(out) < 16:
        if len(buffer) < (2 if d is None else 1):
            more = _read_some(stream, _READ_SIZE)
            if not more:
                return raw, out, d is None and not buffer
            raw += more
            buffer += more
            continue
        if d is None:
            if buffer[:2] != _GZIP_MAGIC:
                return raw, out, False
            d = _inflate_lib.decompressobj(31)
        try:
            out += d.decompress(buffer, 16 - len(out))
        except _INFLATE_ERRORS:
            return raw, out, False
        if d.eof:
            buffer, d = d.unused_data, None
        else:
            buffer = d.unconsumed_tail
    return raw, out, True


def _guarded(
    items: Iterator[RawPage | DeadLetter], warc_file: str
) -> Iterator[RawPage | DeadLetter]:
    """Turn an unexpected failure of the framing code into one dead letter, never a raise."""
    last_offset = 0
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except BaseException as e:
            if not _failure(e):
                raise
            yield _dead(
                "corrupt_archive", _file_prov(warc_file, last_offset), f"{type(e).__name__}: {e}"
            )
            return
        last_offset = item.provenance.offset
        yield item


def _identity(x: int) -> int:
    return x


def _read_upto(stream: BinaryIO | _GzipMembers, n: int) -> bytes:
    """Read up to ``n`` bytes, looping over short reads, stopping only at end of stream."""
    out = b""
    while len(out) < n:
        more = _read_some(stream, n - len(out))  # type: ignore[arg-type]
        if not more:
            break
        out += more
    return out


def _failure(e: BaseException) -> bool:
    """True for errors to dead-letter (incl. pyo3 panics), False for KeyboardInterrupt etc."""
    return isinstance(e, Exception) or _is_panic(e)


def _drive(
    items: Iterator[RawPage | DeadLetter], gz: _GzipMembers | None, warc_file: str
) -> Iterator[RawPage | DeadLetter]:
    """Pass items through; turn the first failure (or gzip damage) into one dead letter."""
    last_offset = 0
    while True:
        try:
            item = next(items)
        except StopIteration:
            break
        except BaseException as e:
            if not _failure(e):
                raise
            yield _damage(warc_file, gz, _unwrap(e), last_offset)
            return
        last_offset = item.provenance.offset
        yield item
    if gz is not None and gz.error is not None:
        yield _damage(warc_file, gz, gz.error, last_offset)


def _damage(
    warc_file: str, gz: _GzipMembers | None, e: BaseException, last_offset: int
) -> DeadLetter:
    """The ``corrupt_archive`` dead letter for the unreadable rest of a file.

    Its offset is the damaged gzip member when known (everything before it was read), else
    the last record read before the parser failed.
    """
    gz_error = gz.error if gz is not None else None
    if gz_error is not None:
        prov = _file_prov(warc_file, gz_error.offset)
        error = f"{gz_error}" if e is gz_error else f"{gz_error} ({type(e).__name__}: {e})"
    else:
        prov, error = _file_prov(warc_file, last_offset), f"{type(e).__name__}: {e}"
    return _dead("corrupt_archive", prov, error)


def _unwrap(e: BaseException) -> BaseException:
    """The original Python exception when fastwarc wraps one raised by our stream."""
    seen = 0
    while not isinstance(e, _CorruptStream) and seen < 5:
        nxt = e.__cause__ or e.__context__
        if nxt is None:
            break
        e, seen = nxt, seen + 1
    return e


def _read_capped(reader, cap: int) -> bytes:
    parts: list[bytes] = []
    have = 0
    while have < cap:
        chunk = reader.read(cap - have)
        if not chunk:
            break
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts)


def _finish(
    prov: Provenance,
    rtype: str,
    status: int | None,
    mime: str | None,
    charset: str | None,
    body: bytes,
    transfer: str | None,
    content: str | None,
    truncated: bool,
    cap: int,
) -> RawPage | DeadLetter:
    notes: list[str] = []
    if transfer or content:
        try:
            decoded, cut = _decode_body(body, transfer, content, cap, notes)
        except _BodyError as e:
            return _dead(e.reason, prov, str(e), body)
        body = decoded
        truncated = truncated or cut
    return RawPage(prov, rtype, status, mime, charset, body, truncated, tuple(notes))


def _iter_arc(
    src: _Prefixed, offset_of, warc_file: str, config: ReadConfig
) -> Iterator[RawPage | DeadLetter]:
    from warcio.archiveiterator import ArchiveIterator

    it = ArchiveIterator(src, arc2warc=True)
    for rec in it:
        item = _arc_item(rec, warc_file, config)
        # warcio knows a record's offset only once the record is read to its end.
        offset = offset_of(it.get_record_offset())
        item.provenance = replace(
            item.provenance, offset=offset, record_id=f"<urn:arc:{warc_file}:{offset}>"
        )
        yield item


def _arc_item(rec, warc_file: str, config: ReadConfig) -> RawPage | DeadLetter:
    h = rec.rec_headers
    rtype = (h.get_header("WARC-Type") or "unknown").lower()
    prov = Provenance(  # offset and id are filled in by the caller
        warc_file=warc_file,
        record_id="",
        offset=-1,
        url=h.get_header("WARC-Target-URI") or "",
        fetch_date=h.get_header("WARC-Date") or "",
    )
    length = (h.get_header("Content-Length") or "").strip()
    if not length.isdigit():
        return _dead("bad_record_header", prov, f"ARC length field {length!r} is not a length")
    if rtype not in config.read_payload_types:
        return RawPage(prov, rtype, None, None, None, b"", False)
    hh = rec.http_headers
    status = None
    if hh is not None:
        m = _STATUS_RE.match(("HTTP/1.0 " + (hh.statusline or "")).encode("latin-1", "replace"))
        status = int(m.group(1)) if m else None
    if status is None:
        sample = _read_capped(rec.raw_stream, _SAMPLE_BYTES)
        return _dead("bad_http_headers", prov, "no HTTP status line in ARC record", sample)
    mime, charset = parse_content_type(hh.get_header("Content-Type"))
    cap = config.max_payload_bytes
    body = _read_capped(rec.raw_stream, cap)
    truncated = False
    if len(body) >= cap:
        truncated = bool(rec.raw_stream.read(1))
    page = _finish(
        prov,
        rtype,
        status,
        mime,
        charset,
        body,
        hh.get_header("Transfer-Encoding"),
        hh.get_header("Content-Encoding"),
        truncated,
        cap,
    )
    if isinstance(page, RawPage):
        page.headers = optout_headers(hh.headers)
    return page
