"""Exceptions raised by extractors (callers map them to DeadLetter / Dropped)."""

from __future__ import annotations


class ExtractionError(Exception):
    """The page could not be turned into a document (parser failure, bad input)."""


class ExtractionTimeout(ExtractionError):
    """Extraction of one page exceeded ``ExtractConfig.timeout_s``.

    A subclass of ``ExtractionError`` so a caller catching only that still catches this,
    while callers that want a separate ``timeout`` reason can catch it first.
    """
