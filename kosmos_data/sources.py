"""The other two KOSMOS-1 sources: image-caption tables and text corpora, as ``Document``s.

KOSMOS-1 (Huang et al., 2023, §3.1) trains on image-caption pairs (LAION-2B/400M, COYO-700M,
Conceptual Captions) and text corpora (The Pile, Common Crawl via CCNet, ...) besides the
interleaved web documents. kosmos-data turns a row of either into the same ``Document`` the
interleaved pipeline uses, so one set of stages (language ID, quality, dedup, decontamination,
image fetching) and one funnel serve all three:

* a caption pair is ``[image segment, text segment]`` (the caption is also the image's alt);
* a text record is ``[text, text, ...]``, one segment per paragraph.

Input tables are what users have: LAION-style Parquet (``url``, ``caption`` — LAION's own
parquet names them ``URL``/``TEXT``, matched case-insensitively), TSV/CSV with a header
(Conceptual Captions TSVs have none: pass ``--columns caption,url``), and JSONL (gzip or not,
e.g. Pile-style ``{"text": ..., "meta": {...}}``). A row that lacks its fields is a dead
letter with a reason; nothing is dropped silently.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from kosmos_data.records import DeadLetter, Document, ImageRef, Provenance, Segment, Verdict
from kosmos_data.stages import Outcome

TABLE_FORMATS = ("parquet", "jsonl", "tsv", "csv")


def table_format(path: str) -> str:
    """Format from the file name: ``.parquet``, ``.jsonl``/``.json``/``.ndjson``, ``.tsv``,
    ``.csv``, each optionally ``.gz`` (Parquet compresses internally)."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext, fmt in ((".parquet", "parquet"), (".jsonl", "jsonl"), (".ndjson", "jsonl")):
        if name.endswith(ext):
            return fmt
    if name.endswith(".json"):
        return "jsonl"
    if name.endswith(".tsv"):
        return "tsv"
    if name.endswith(".csv"):
        return "csv"
    raise ValueError(
        f"{path}: unknown table format (expected .parquet, .jsonl, .json, .tsv or .csv, "
        "optionally .gz)"
    )


@dataclass(slots=True)
class Row:
    """One input row: where it came from and its fields."""

    path: str
    index: int
    fields: dict


class TableError(ValueError):
    """The whole file cannot be read (wrong format, corrupt Parquet, bad gzip)."""


def iter_rows(data: bytes, path: str, columns: tuple[str, ...] = ()) -> Iterator[Row | DeadLetter]:
    """Rows of one table file; unparseable rows become dead letters (``bad_row``).

    ``columns`` names the columns of a header-less TSV/CSV. Raises ``TableError`` when the
    file as a whole cannot be read (the caller dead-letters it as ``unreadable_table``).
    """
    fmt = table_format(path)
    damage = None
    if path.lower().endswith(".gz") and fmt != "parquet":
        data, damage = _gunzip(data, path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(io.BytesIO(data))
        except Exception as e:
            raise TableError(f"{path}: not a Parquet file: {e}") from e
        yield from _parquet_rows(pf, path)
        return
    text = data.decode("utf-8", errors="replace")
    if fmt == "jsonl":
        yield from _jsonl_rows(text, path)
    else:
        yield from _delimited_rows(text, path, fmt, columns)
    if damage is not None:
        prov = Provenance(path, f"<file:{path}>#rest", 0, "", "")
        yield DeadLetter("read", "truncated_table", prov, damage)


def _gunzip(data: bytes, path: str) -> tuple[bytes, str | None]:
    """Decompress every gzip member; a damaged or truncated one keeps the text before it.

    Returns (the complete lines decompressed, what went wrong or ``None``). A cut ``.gz``
    used to make the whole table one ``unreadable_table``; now its readable rows are read
    and the unreadable rest is one ``truncated_table`` dead letter (its rows are unknown).
    Bytes that are no gzip at all still raise ``TableError``.
    """
    if data[:2] != b"\x1f\x8b":
        raise TableError(f"{path}: bad gzip: not a gzip file")
    parts: list[bytes] = []
    rest = data
    error = None
    while rest:
        d = zlib.decompressobj(31)
        try:
            parts.append(d.decompress(rest))
        except zlib.error as e:
            error = f"{path}: gzip damaged after {sum(map(len, parts))} bytes: {e}"
            break
        if not d.eof:
            parts.append(d.flush())
            error = f"{path}: gzip truncated after {sum(map(len, parts))} bytes"
            break
        rest = d.unused_data
        if rest[:2] not in (b"", b"\x1f\x8b"):
            error = f"{path}: {len(rest)} bytes after the last gzip member are not gzip"
            break
    out = b"".join(parts)
    if error is None:
        return out, None
    if not out and not parts:
        raise TableError(error)
    cut = out.rfind(b"\n") + 1  # a line cut by the damage is part of the unreadable rest
    return out[:cut], error


def _jsonl_rows(text: str, path: str) -> Iterator[Row | DeadLetter]:
    """One row per ``\n``-terminated line. Not ``str.splitlines``: it also splits on U+2028,
    U+0085, form feeds..., which JSON strings may hold raw, turning one row into broken ones."""
    for index, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as e:
            yield _bad_row(path, index, f"invalid JSON: {e}", line)
            continue
        except RecursionError:  # "[[[[..." nested past the interpreter's recursion limit
            yield _bad_row(path, index, "JSON nested too deeply", line)
            continue
        if not isinstance(fields, dict):
            yield _bad_row(path, index, "JSON line is not an object", line)
            continue
        yield Row(path, index, fields)


def _parquet_rows(pf, path: str) -> Iterator[Row | DeadLetter]:
    """Rows of a Parquet file, one row group at a time.

    A row group that cannot be read (corrupt pages, bad compression) is dead-lettered
    ``unreadable_row_group``, one dead letter per row the footer says it holds, so the
    funnel still counts every row; the readable groups around it are read normally.
    """
    index = 0
    for group in range(pf.metadata.num_row_groups):
        n_rows = pf.metadata.row_group(group).num_rows
        try:
            rows = pf.read_row_group(group).to_pylist()
        except Exception as e:
            error = f"row group {group} of {path}: {type(e).__name__}: {e}"
            for i in range(max(n_rows, 1)):
                prov = Provenance(path, f"row:{index + i}", index + i, "", "")
                yield DeadLetter("read", "unreadable_row_group", prov, error)
            index += max(n_rows, 1)
            continue
        for fields in rows:
            yield Row(path, index, fields)
            index += 1


def _delimited_rows(
    text: str, path: str, fmt: str, columns: tuple[str, ...]
) -> Iterator[Row | DeadLetter]:
    """Rows of a TSV/CSV text: every non-empty line is counted as a row or a ``bad_row``.

    TSV has no quoting (IANA text/tab-separated-values: fields hold no tab or newline), so
    a ``"`` is an ordinary character there; Python's csv quoting would let one stray quote
    swallow every line up to the next quote. CSV is read with RFC 4180 quoting, but a
    quoted field that spans lines is accepted only when the joined row has the header's
    field count and its lines do not each parse as rows by themselves.
    """
    lines = [ln for ln in _LINE_RE.findall(text) if ln.strip("\r\n")]
    tsv = fmt == "tsv"
    if columns:
        header = list(columns)
    elif lines:
        header = _split_line(lines[0], tsv)
        lines = lines[1:]
    else:
        return
    rows = ([_split_line(ln, True)] for ln in lines) if tsv else _csv_rows(lines, len(header))
    index = 0
    for group in rows:
        for values in group:
            if len(values) != len(header):
                yield _bad_row(
                    path,
                    index,
                    f"{len(values)} fields, header has {len(header)}",
                    "\t".join(values),
                )
            else:
                yield Row(path, index, dict(zip(header, values, strict=True)))
            index += 1


def _split_line(line: str, tsv: bool) -> list[str]:
    """One physical line's fields: TSV split on tabs; CSV with quoting, or without when the
    quoted reading does not give ``width`` fields (see ``_csv_rows``)."""
    line = line.rstrip("\r\n")
    if tsv:
        return line.split("\t")
    return next(csv.reader([line]), [])


_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+$")


def _csv_rows(lines: list[str], width: int) -> Iterator[list[list[str]]]:
    """CSV rows, one group per physical line, or one per accepted multi-line quoted row."""
    i = 0
    while i < len(lines):
        reader = csv.reader(iter(lines[i:]))
        values = next(reader, None) or []
        used = max(reader.line_num, 1)
        if used > 1:
            singles = [_single_csv(ln, width) for ln in lines[i : i + used]]
            if len(values) != width or all(len(v) == width for v in singles):
                yield [singles[0]]  # a stray quote, not a multi-line field: this line alone
                i += 1
                continue
        yield [values]
        i += used


def _single_csv(line: str, width: int) -> list[str]:
    values = _split_line(line, False)
    if len(values) == width:
        return values
    return next(csv.reader([line.rstrip("\r\n")], quoting=csv.QUOTE_NONE), [])


def _bad_row(path: str, index: int, error: str, raw: str) -> DeadLetter:
    prov = Provenance(path, f"row:{index}", index, "", "")
    return DeadLetter("read", "bad_row", prov, error, raw[:512].encode("utf-8", "replace"))


def _field(fields: dict, name: str):
    """A field by exact name, else case-insensitively (LAION parquet: ``URL``, ``TEXT``)."""
    if name in fields:
        return fields[name]
    lowered = name.lower()
    for k, v in fields.items():
        if isinstance(k, str) and k.lower() == lowered:
            return v
    return None


def _as_text(value):
    """Binary columns (Parquet ``binary``, e.g. LAION tables written without a string type)
    hold UTF-8 text: decode them; other values are returned as they are."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return value


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be fetched as an image (``None``: it can), without raising.

    ``urlsplit`` raises on a broken IPv6 literal (``http://[::1/x.jpg``) and on a bad port;
    a URL needs a host, http(s), and only printable ASCII (a U+FFFD from undecodable bytes,
    a control character or a raw non-ASCII byte cannot be sent as it is).
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        return f"unparseable URL ({e})"
    if parts.scheme.lower() not in ("http", "https"):
        return "not an http(s) URL"
    if not parts.hostname:
        return "no host"
    if not url.isascii() or not url.isprintable() or " " in url:
        return "non-ASCII, control or space character in the URL"
    return None


def _row_id(row: Row, kind: str, key: str) -> str:
    h = hashlib.sha1(f"{kind}\x00{row.path}\x00{row.index}\x00{key}".encode("utf-8", "replace"))
    return h.hexdigest()[:20]


def _number(value) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# --------------------------------------------------------------------------- captions


@dataclass(frozen=True, slots=True)
class CaptionReadConfig:
    """Column names of a LAION-style table (matched exactly, then case-insensitively).

    ``width_column``/``height_column``/``similarity_column`` are optional: LAION ships the
    original size and the CLIP image-text cosine similarity, which the filters can use.
    """

    url_column: str = "url"
    caption_column: str = "caption"
    width_column: str = "width"
    height_column: str = "height"
    similarity_column: str = "similarity"
    columns: tuple[str, ...] = ()  # names for header-less TSV/CSV (Conceptual Captions)
    #: Tried when ``caption_column`` is absent: LAION's parquet calls the caption ``TEXT``.
    caption_fallbacks: tuple[str, ...] = ("text",)

    def __post_init__(self) -> None:
        for name in ("url_column", "caption_column"):
            if not getattr(self, name):
                raise ValueError(f"CaptionReadConfig.{name} must be a non-empty column name")


def caption_document(row: Row, config: CaptionReadConfig) -> Document | DeadLetter:
    """A caption row -> ``Document([image, caption])``, or a dead letter with its reason."""
    url = _as_text(_field(row.fields, config.url_column))
    caption = _as_text(_field(row.fields, config.caption_column))
    for name in config.caption_fallbacks:
        if caption is None:
            caption = _as_text(_field(row.fields, name))
    prov = Provenance(row.path, f"row:{row.index}", row.index, str(url or ""), "")
    if not isinstance(url, str) or not url.strip():
        return DeadLetter("read", "missing_url", prov, f"no {config.url_column!r} value")
    url = url.strip()
    problem = url_problem(url)
    if problem:
        return DeadLetter("read", "bad_url", prov, f"{problem}: {url[:200]!r}")
    if not isinstance(caption, str) or not caption.strip():
        return DeadLetter("read", "missing_caption", prov, f"no {config.caption_column!r} value")
    caption = " ".join(caption.split())
    width = _number(_field(row.fields, config.width_column))
    height = _number(_field(row.fields, config.height_column))
    meta: dict[str, object] = {"source": "captions"}
    sim = _number(_field(row.fields, config.similarity_column))
    if sim is not None:
        meta["similarity"] = sim
    image = ImageRef(
        url=url,
        alt=caption,
        width=int(width) if width else None,
        height=int(height) if height else None,
        source="table",
    )
    return Document(
        id=_row_id(row, "caption", url),
        provenance=prov,
        segments=[Segment(image=image), Segment(text=caption)],
        extractor="table",
        meta=meta,
    )


@dataclass(frozen=True, slots=True)
class CaptionFilterConfig:
    """Caption-level filters, before any image is fetched.

    * ``min_words``/``max_words``: LAION-5B removed captions shorter than 5 characters and
      kept alt-texts of any length; CC3M's hypernymised captions are 3+ words. We keep 3-77
      words: 77 is CLIP's context length in tokens, a caption past it is rarely a caption.
    * ``min_similarity``: the CLIP ViT-B/32 image-text cosine threshold of LAION-5B's
      English subset (0.28; LAION-400M used 0.3), applied only when the table has the column.
    * ``min_side``: the declared original size, when present (OBELICS's 150 px image floor).
    """

    min_words: int = 3
    max_words: int = 77
    min_similarity: float = 0.28
    min_side: int = 150

    def __post_init__(self) -> None:
        if self.min_words < 1 or self.max_words < self.min_words:
            raise ValueError(
                f"CaptionFilterConfig.min_words/max_words must satisfy 1 <= min <= max, "
                f"got {self.min_words}/{self.max_words}"
            )
        if not -1.0 <= self.min_similarity <= 1.0:
            raise ValueError(
                f"CaptionFilterConfig.min_similarity must be in [-1, 1], got {self.min_similarity}"
            )
        if self.min_side < 0:
            raise ValueError(f"CaptionFilterConfig.min_side must be >= 0, got {self.min_side}")


def check_caption(doc: Document, config: CaptionFilterConfig) -> Verdict:
    caption = doc.text
    n = len(caption.split())
    if n < config.min_words:
        return "caption_too_short"
    if n > config.max_words:
        return "caption_too_long"
    sim = doc.meta.get("similarity")
    if isinstance(sim, float) and sim < config.min_similarity:
        return "low_clip_similarity"
    img = doc.images[0] if doc.images else None
    side = min(img.width or 0, img.height or 0) if img is not None else 0
    if side and side < config.min_side:
        return "image_too_small"
    return None


class CaptionFilterStep:
    """``check_caption`` as a pipeline step (routed by ``ApplyStep``)."""

    name = "caption_filter"

    def __init__(self, config: CaptionFilterConfig) -> None:
        self.config = config

    def setup(self) -> None:
        pass

    def __call__(self, doc: Document) -> Outcome:
        return Outcome(check_caption(doc, self.config))


# --------------------------------------------------------------------------- text


@dataclass(frozen=True, slots=True)
class TextReadConfig:
    """Field names of a text corpus (Pile-style ``{"text": ..., "meta": {...}}`` default).

    ``id_field``/``url_field`` are used when present; otherwise the id is derived from the
    file and row and the URL is empty.
    """

    text_field: str = "text"
    meta_field: str = "meta"
    id_field: str = "id"
    url_field: str = "url"
    columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.text_field:
            raise ValueError("TextReadConfig.text_field must be a non-empty field name")


def text_document(row: Row, config: TextReadConfig) -> Document | DeadLetter:
    """A text row -> ``Document([text])``, or a dead letter (``missing_text``)."""
    text = _as_text(_field(row.fields, config.text_field))
    url = _as_text(_field(row.fields, config.url_field))
    url = url if isinstance(url, str) else ""
    prov = Provenance(row.path, f"row:{row.index}", row.index, url, "")
    if not isinstance(text, str) or not text.strip():
        return DeadLetter("read", "missing_text", prov, f"no {config.text_field!r} value")
    meta: dict[str, object] = {"source": "text"}
    extra = _field(row.fields, config.meta_field)
    if isinstance(extra, dict):
        meta["source_meta"] = json.loads(json.dumps(extra, default=str))
    rid = _field(row.fields, config.id_field)
    key = str(rid) if rid is not None else ""
    return Document(
        id=_row_id(row, "text", key),
        provenance=prov,
        segments=[Segment(text=p) for p in paragraphs(text)],
        extractor="table",
        meta=meta,
    )


_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n\s*")


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs: the text corpus's equivalent of the web page's text
    nodes. The quality stage cleans *nodes* (OBELICS' node-level rules: at most 1,000 words,
    5-gram repetition, C4 boilerplate lines), so a whole document kept as one segment would
    be removed entirely by a rule meant for one paragraph. ``Document.text`` joins them back
    with blank lines."""
    return [p.strip() for p in _BLANK_LINES.split(text.strip()) if p.strip()]
