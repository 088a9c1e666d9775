"""Decode an HTML payload (bytes) to text, the way a browser would pick the charset.

Order of sources, after the WHATWG HTML "determining the character encoding" algorithm
(https://html.spec.whatwg.org/multipage/parsing.html#determining-the-character-encoding):

0. A byte-order mark wins over everything (WHATWG Encoding §6 "decode"); recorded as
   ``charset_source="detected"`` (``HtmlPage`` has no "bom" source).
1. ``http``: the ``charset=`` of the HTTP Content-Type (``RawPage.http_charset``).
2. ``meta``: ``<meta charset=...>`` or ``<meta http-equiv="Content-Type" content="...;
   charset=...">`` in the first 4 KiB (the spec's prescan reads 1024 bytes; real pages put
   long ``<head>`` preambles first, so we look a little further).
3. ``detected``: ``uchardet`` via resiliparse's ``detect_encoding``.
4. ``default``: UTF-8 with replacement characters.

Labels are mapped per the WHATWG Encoding standard (https://encoding.spec.whatwg.org/
#names-and-labels): ``latin-1``/``iso-8859-1``/``ascii`` mean windows-1252, ``gb2312`` means
gb18030's superset, ``shift_jis`` decodes as windows-31j (cp932), ``euc-kr`` as cp949, and a
meta ``utf-16`` means utf-8 (a page that can be read as ASCII to find its meta is not
UTF-16). Bogus labels (``LookupError``) fall through to the next source. A declared charset
that fails on more than ``_MAX_DECLARED_ERRORS`` of the bytes is treated as a lie (common on
the web: a "utf-8" header over a windows-1252 page) and the next source is tried.

``DecodeError.reason``:
``undecodable_payload``  after decoding, more than 5% of the first 100k characters are NUL,
                         C0 control characters (other than tab, LF, FF, CR) or U+FFFD: the
                         payload is binary (an image or PDF mislabelled as text/html) or in an
                         encoding we cannot identify. No HTML page looks like that.
"""

from __future__ import annotations

import codecs
import re

from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5

from kosmos_data.records import HtmlPage, RawPage

__all__ = ["DecodeError", "decode_html", "normalize_charset"]

_META_SCAN_BYTES = 4096
_META_CHARSET_RE = re.compile(
    rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Python codec names -> the decoder a browser uses for that label (WHATWG Encoding §4.2).
_BROWSER_CODEC = {
    "iso8859-1": "cp1252",
    "latin-1": "cp1252",
    "ascii": "cp1252",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "big5": "big5hkscs",
}
_MAX_DECLARED_ERRORS = 0.001  # share of replacement characters tolerated in a declared charset
_MAX_BAD_SHARE = 0.05
_CHECK_CHARS = 100_000
_BAD_CHARS_RE = re.compile("[\x00-\x08\x0b\x0e-\x1f\ufffd]")
# The same control characters as bytes: in every ASCII-compatible codec they decode 1:1, so
# counting them in the payload (one C-speed ``bytes.translate``) equals counting them in the
# text, without the regex pass over 100k characters that used to cost ~0.4 ms per page.
_NOT_CONTROL_BYTES = bytes(
    b for b in range(256) if not (b <= 0x08 or b == 0x0B or 0x0E <= b <= 0x1F)
)


class DecodeError(ValueError):
    """The payload cannot be turned into text; ``reason`` is a stable snake_case string."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def normalize_charset(label: str | None) -> str | None:
    """A charset label -> the Python codec a browser would decode with, or ``None``."""
    if not label:
        return None
    label = label.strip().strip("\"'").strip().lower()
    if not label:
        return None
    name = map_encoding_to_html5(label, fallback_utf8=False)
    if name is None:
        try:
            name = codecs.lookup(label).name
        except LookupError:
            return None
    try:
        name = codecs.lookup(name).name
    except LookupError:
        return None
    return _BROWSER_CODEC.get(name, name)


def _meta_charset(payload: bytes) -> str | None:
    m = _META_CHARSET_RE.search(payload, 0, _META_SCAN_BYTES)
    return m.group(1).decode("ascii") if m else None


def _try_declared(payload: bytes, codec: str) -> str | None:
    """Decode with a declared codec; ``None`` if it is evidently the wrong one."""
    try:
        return payload.decode(codec)
    except UnicodeDecodeError:
        pass
    except LookupError:
        return None
    text = payload.decode(codec, errors="replace")
    bad = text.count("\ufffd")
    return text if bad <= max(1, len(payload) * _MAX_DECLARED_ERRORS) else None


def _check(text: str, page: RawPage, codec: str) -> None:
    if not codec.startswith(("utf-16", "utf-32")):
        raw = page.payload[:_CHECK_CHARS]
        size = len(raw)
        bad = len(raw.translate(None, _NOT_CONTROL_BYTES)) + text.count("\ufffd", 0, size)
    else:
        sample = text[:_CHECK_CHARS]
        size = len(sample)
        bad = size - len(_BAD_CHARS_RE.sub("", sample))
    if not size:
        return
    if bad > _MAX_BAD_SHARE * size:
        raise DecodeError(
            "undecodable_payload",
            f"{bad} of {size} characters are NUL/control/U+FFFD ({page.provenance.url})",
        )


def decode_html(page: RawPage) -> HtmlPage:
    """Decode ``page.payload``; raises :class:`DecodeError` for binary/undecodable bytes."""
    payload = page.payload
    for bom, codec in _BOMS:
        if payload.startswith(bom):
            text = payload[len(bom) :].decode(codec, errors="replace")
            _check(text, page, codec)
            return HtmlPage(page.provenance, text, codec, "detected")
    http_codec = normalize_charset(page.http_charset)
    if http_codec is not None:
        text = _try_declared(payload, http_codec)
        if text is not None:
            _check(text, page, http_codec)
            return HtmlPage(page.provenance, text, http_codec, "http")
    meta_codec = normalize_charset(_meta_charset(payload))
    if meta_codec is not None:
        if meta_codec.startswith("utf-16"):
            meta_codec = "utf-8"
        text = _try_declared(payload, meta_codec)
        if text is not None:
            _check(text, page, meta_codec)
            return HtmlPage(page.provenance, text, meta_codec, "meta")
    try:
        detected = normalize_charset(detect_encoding(payload))
    except Exception:
        detected = None
    if detected is not None:
        try:
            text = payload.decode(detected, errors="replace")
        except LookupError:
            text = None
        if text is not None:
            _check(text, page, detected)
            return HtmlPage(page.provenance, text, detected, "detected")
    text = payload.decode("utf-8", errors="replace")
    _check(text, page, "utf-8")
    return HtmlPage(page.provenance, text, "utf-8", "default")
