"""``ReadTableDocs``: caption tables / text corpora -> ``Document`` (wiring for
``kosmos_data.sources``), with per-file accounting and dead letters like ``ReadAndProcessArchives``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from kosmos_data.beam.transforms import DEAD_TAG, STATS_TAG, _Counters, _dead, file_read
from kosmos_data.records import DeadLetter, Document, Provenance
from kosmos_data.sources import Row, TableError, iter_rows

log = logging.getLogger(__name__)


class ReadTableFileFn(beam.DoFn):
    """One table file in; one ``Document`` or ``DeadLetter`` out per row.

    ``to_document`` turns a ``Row`` into a document (``caption_document``/``text_document``
    bound to their config). A file that cannot be read at all is one dead letter
    (``unreadable_table``) counted as one record, so the funnel still balances.
    """

    def __init__(
        self, to_document: Callable[[Row], Document | DeadLetter], columns: tuple[str, ...]
    ) -> None:
        self.to_document = to_document
        self.columns = columns
        self.counters = _Counters()

    def setup(self) -> None:
        self.counters = _Counters()

    def _document(self, row: Row) -> Document | DeadLetter:
        """``to_document``, with any failure on a row's user data (a URL parse, a value of
        an unexpected type) a ``bad_row`` dead letter instead of a crash of the whole job."""
        try:
            return self.to_document(row)
        except Exception as e:
            prov = Provenance(row.path, f"row:{row.index}", row.index, "", "")
            return DeadLetter("read", "bad_row", prov, f"{type(e).__name__}: {e}")

    def process(self, path: str) -> Iterator[object]:
        start = time.monotonic()
        n = 0
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                data = f.read()
            for row in iter_rows(data, path, self.columns):
                n += 1
                out = row if isinstance(row, DeadLetter) else self._document(row)
                if isinstance(out, DeadLetter):
                    yield from _dead(out, self.counters)
                else:
                    yield out
        except (TableError, OSError) as e:
            n += 1
            prov = Provenance(path, f"<file:{path}>", 0, "", "")
            yield from _dead(DeadLetter("read", "unreadable_table", prov, str(e)), self.counters)
        yield from file_read(path, n, self.counters)
        log.info("read %s: %d rows in %.1fs", path, n, time.monotonic() - start)


class ReadTableDocs(beam.PTransform):
    """Table paths (already expanded) -> ``Document``s, dead letters and per-file counts."""

    def __init__(
        self,
        paths: Iterable[str],
        to_document: Callable[[Row], Document | DeadLetter],
        columns: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.paths = sorted(paths)
        self.to_document = to_document
        self.columns = columns

    def expand(self, pbegin):
        docs = (
            pbegin
            | "ListTables" >> beam.Create(self.paths)
            | "SpreadTables" >> beam.Reshuffle()
            | "ReadTable"
            >> beam.ParDo(ReadTableFileFn(self.to_document, self.columns)).with_outputs(
                DEAD_TAG, STATS_TAG, main="docs"
            )
        )
        return docs
