"""Which archived response headers a ``RawPage`` keeps (read by ``kosmos_data.safety.optout``).

Kept small and import-free: the WARC reader calls it on every response record.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Lower-cased names: ``X-Robots-Tag`` (noai/noimageai), TDMRep's ``tdm-reservation`` and
#: ``tdm-policy``, and ``Link`` (a ``rel="tdm-policy"`` link).
OPTOUT_HEADERS = frozenset({"x-robots-tag", "tdm-reservation", "tdm-policy", "link"})


def optout_headers(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The opt-out headers among ``pairs`` (archive order, values stripped)."""
    return tuple((k, v.strip()) for k, v in pairs if k.strip().lower() in OPTOUT_HEADERS)
