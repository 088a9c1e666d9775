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
  annex D.2) or gzipped as one whole-file member. Parsed with ``fastwarc`` (Rust, several
  times faster than ``warcio``).
* ARC (the legacy Internet Archive format, https://archive.org/web/researcher/ArcFileFormat.php),
  read with ``warcio`` (``fastwarc`` 2.x has no ARC support). ARC records get the synthetic,
  stable id ``<urn:arc:{warc_file}:{offset}>`` (warcio's converted ids are random UUIDs).

Compression is detected from magic bytes, never from the file name, and the input may be a
non-seekable stream (Beam's ``FileSystems.open(..., CompressionTypes.UNCOMPRESSED)`` on gs://
or s3://). gzip is decompressed here, member by member, by :class:`_GzipMembers`; that gives
us (a) each member's compressed start offset, so ``Provenance.offset`` is the byte offset of
the record in the *compressed* file for per-record gzip (usable for an HTTP range request, as
in the CC index), and (b) detection of truncated or corrupt members, which fastwarc would
otherwise end on silently. For plain files and whole-file gzip the offset is the record's
offset in the *uncompressed* stream (there is no better one).

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

* A ``chunked`` body that does not start with a chunk-size line but with markup (``<``) was
  evidently stored de-chunked with a stale header: it is passed through raw. One that starts
  with neither is dead-lettered ``bad_chunked_body``. One that starts as valid chunks
  and then breaks is dead-lettered ``bad_chunked_body``. A chunked body cut short (no final
  ``0`` chunk) keeps the chunks decoded so far and is marked ``truncated``.
* A body whose ``Content-Encoding`` is unknown or fails to decode is passed through raw when
  it looks like text (stored decoded, stale header); otherwise ``bad_content_encoding``.
* HTTP header bytes that are not UTF-8 are decoded as latin-1 (fastwarc does this).

Dead-letter reasons (``DeadLetter.stage == "read"``)
---------------------------------------------------
``empty_archive``         the stream holds no bytes at all.
``not_an_archive``        the first bytes are neither gzip, WARC (``WARC/``) nor ARC
                          (``filedesc://``); one dead letter for the whole file.
``corrupt_archive``       a corrupt or truncated gzip member, garbage between records, a record
                          cut short by the end of the file, or any other failure of the
                          archive parser: one dead letter for the unreadable remainder (its
                          offset is where the damage starts, as far as known), then the file
                          ends. Records before it are yielded normally.
``bad_record_header``     an ARC record whose length field is not a non-negative integer.
``bad_http_headers``      an HTTP response record whose HTTP header block cannot be parsed or
                          has no status code (e.g. CR CR LF line endings, missing status line).
``bad_chunked_body``      ``Transfer-Encoding: chunked`` body that breaks mid-way.
``bad_content_encoding``  undecodable, non-textual body under a ``Content-Encoding``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

from kosmos_data.records import DeadLetter, Provenance, RawPage
from kosmos_data.safety.headers import optout_headers

__all__ = ["READ_STAGE", "ReadConfig", "iter_records"]

READ_STAGE = "read"
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


class _CorruptStream(Exception):
    """Raised from a stream wrapper's ``read`` when the underlying bytes are damaged."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class _Prefixed:
    """A read/tell view of ``stream`` with already-read ``head`` bytes put back in front.

    fastwarc needs ``tell()`` on Python streams (it panics without one) and Beam's remote
    streams may not be seekable, so every input goes through a wrapper like this.
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
                self._d = zlib.decompressobj(31)
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
            except zlib.error as e:
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


class _BodyError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _dechunk(body: bytes, cap: int) -> tuple[bytes, bool]:
    """Undo ``Transfer-Encoding: chunked`` (RFC 9112 §7.1); returns (body, cut_short)."""
    m = _CHUNK_SIZE_RE.match(body)
    if m is None:
        if not body.strip() or body.lstrip()[:1] == b"<":
            return body, False  # markup: stored de-chunked with a stale header
        raise _BodyError("bad_chunked_body", "body declared chunked starts with no chunk size")
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

        out = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        return out[:cap], len(out) > cap
    raise ValueError(f"unsupported content coding {coding!r}")


def _decode_body(
    body: bytes, transfer: str | None, content: str | None, cap: int
) -> tuple[bytes, bool]:
    """Apply Transfer-Encoding then Content-Encoding decoding; returns (body, cut_short)."""
    cut = False
    if transfer and "chunked" in transfer.lower():
        body, cut = _dechunk(body, cap)
    if content:
        for coding in reversed([c.strip().lower() for c in content.split(",")]):
            if coding in ("", "identity", "none"):
                continue
            try:
                body, capped = _decompress(body, coding, cap)
                cut = cut or capped
            except Exception as e:
                if _looks_textual(body):
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
    gz: _GzipMembers | None = None
    try:
        if head == _GZIP_MAGIC:
            gz = _GzipMembers(stream, head)
            first = _read_upto(gz, 16)
        else:
            first = head + _read_upto(stream, 14)
    except _CorruptStream as e:
        yield _dead("not_an_archive", _file_prov(warc_file, 0), str(e), head)
        return
    except Exception as e:
        yield _dead("not_an_archive", _file_prov(warc_file, 0), f"unreadable stream: {e!r}")
        return
    src = _Prefixed(first, gz if gz is not None else stream)
    offset_of = gz.member_offset if gz is not None else _identity
    if first.startswith(b"WARC/"):
        yield from _drive(_iter_warc(src, offset_of, warc_file, config), gz, warc_file)
    elif first.lower().startswith(b"filedesc://"):
        yield from _drive(_iter_arc(src, offset_of, warc_file, config), gz, warc_file)
    else:
        yield _dead(
            "not_an_archive",
            _file_prov(warc_file, 0),
            "first bytes are neither WARC/ nor an ARC filedesc:// header",
            first,
        )


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


class _CutShort(Exception):
    """A record's block ends before its Content-Length: the file is truncated."""

    def __init__(self, message: str, provenance: Provenance) -> None:
        super().__init__(message)
        self.provenance = provenance


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
    the record that was cut short, else the last record read before the parser failed.
    """
    gz_error = gz.error if gz is not None else None
    if gz_error is not None:
        prov = _file_prov(warc_file, gz_error.offset)
        error = f"{gz_error}" if e is gz_error else f"{gz_error} ({type(e).__name__}: {e})"
    elif isinstance(e, _CutShort):
        prov, error = e.provenance, str(e)
    else:
        prov, error = _file_prov(warc_file, last_offset), f"{type(e).__name__}: {e}"
    return _dead("corrupt_archive", prov, error)


def _iter_warc(
    src: _Prefixed, offset_of, warc_file: str, config: ReadConfig
) -> Iterator[RawPage | DeadLetter]:
    from fastwarc.warc import ArchiveIterator

    for rec in ArchiveIterator(src, parse_http=False, stream_detect=False):
        yield _warc_item(rec, offset_of, warc_file, config)


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


def _warc_item(rec, offset_of, warc_file: str, config: ReadConfig) -> RawPage | DeadLetter:
    h = rec.headers
    rtype = (h.get("WARC-Type") or "").strip().lower() or "unknown"
    offset = offset_of(rec.stream_pos)
    prov = Provenance(
        warc_file=warc_file,
        record_id=h.get("WARC-Record-ID") or f"<urn:warc:{warc_file}:{offset}>",
        offset=offset,
        url=(h.get("WARC-Target-URI") or "").strip("<> "),
        fetch_date=h.get("WARC-Date") or "",
    )
    truncated = h.get("WARC-Truncated") is not None
    if rtype not in config.read_payload_types:
        expected = rec.content_length
        if rec.consume() < expected:
            raise _CutShort("record block cut short by the end of the file", prov)
        return RawPage(prov, rtype, None, None, None, b"", truncated)
    status: int | None = None
    transfer = content = hh = None
    if rec.is_http:
        try:
            rec.parse_http(quirks_mode=True)
            hh = rec.http_headers
        except Exception as e:
            hh = None
            err = f"{type(e).__name__}: {e}"
        else:
            err = "no HTTP status line"
        if hh is not None:
            status = hh.status_code
            if status is None and hh.status_line:
                m = _STATUS_RE.match(hh.status_line.encode("latin-1", "replace"))
                status = int(m.group(1)) if m else None
        if status is None:
            # No length check here: a mangled header block (e.g. CR CR LF line ends) also
            # confuses the framing, and the record is dead-lettered either way.
            sample = _read_capped(rec.reader, _SAMPLE_BYTES) if rec.reader else b""
            rec.consume()
            return _dead("bad_http_headers", prov, err, sample)
        mime, charset = parse_content_type(hh.get("Content-Type"))
        transfer = hh.get("Transfer-Encoding")
        content = hh.get("Content-Encoding")
    else:
        mime, charset = parse_content_type(h.get("Content-Type"))
    expected = rec.content_length
    cap = config.max_payload_bytes
    body = _read_capped(rec.reader, cap) if rec.reader is not None else b""
    rest = rec.consume() if len(body) >= cap else 0
    if len(body) + rest < expected:
        raise _CutShort("record block cut short by the end of the file", prov)
    truncated = truncated or rest > 0
    page = _finish(prov, rtype, status, mime, charset, body, transfer, content, truncated, cap)
    if hh is not None and isinstance(page, RawPage):
        page.headers = optout_headers(hh.astuples())
    return page


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
    if transfer or content:
        try:
            decoded, cut = _decode_body(body, transfer, content, cap)
        except _BodyError as e:
            return _dead(e.reason, prov, str(e), body)
        body = decoded
        truncated = truncated or cut
    return RawPage(prov, rtype, status, mime, charset, body, truncated)


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
