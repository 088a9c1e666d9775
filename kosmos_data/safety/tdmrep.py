"""The W3C TDM Reservation Protocol at fetch time: image responses and ``tdmrep.json``.

TDMRep (W3C Community Group Final Report, 2024) lets a rightsholder reserve text-and-data
mining rights, which the EU DSM Directive (Art. 4(3)) makes binding on miners; a reservation
is expressed

* on a response: the ``tdm-reservation: 1`` header (``tdm-policy`` may name the terms);
  an image answered with it is dropped as ``tdm_reservation`` before its body is read;
* per host: ``/.well-known/tdmrep.json``, a JSON array of rules
  ``{"location": "/images/*", "tdm-reservation": 1, "tdm-policy": "https://..."}``. The
  ``location`` is a path pattern (``*`` any characters, a final ``$`` anchors the end,
  otherwise a prefix, as in robots.txt); the first rule whose location matches decides.
  A reserved image is ``tdmrep_reserved``, without a request for the image itself.

The file is fetched once per origin and cached like robots.txt (concurrent lookups wait for
one fetch), through the fetcher's guarded opener, with a byte cap and an overall deadline
(a server trickling bytes cannot hold a worker). A missing, unreachable or unparsable file
expresses no reservation: TDMRep has no "unreachable means reserved" rule (robots.txt, which
does, is checked before this anyway).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from kosmos_data.images.robots import OriginCache

TDMREP_PATH = "/.well-known/tdmrep.json"
TDMREP_MAX_BYTES = 512 * 1024
TDM_RESERVATION = "tdm_reservation"
TDMREP_RESERVED = "tdmrep_reserved"


def header_reserved(headers) -> str | None:
    """``tdm_reservation`` when a response's headers carry ``tdm-reservation: 1``."""
    values = headers.get_all("tdm-reservation") or []
    return TDM_RESERVATION if any(str(v).strip() == "1" for v in values) else None


def _pattern(location: str) -> re.Pattern:
    anchored = location.endswith("$")
    body = location[:-1] if anchored else location
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""))


@dataclass(slots=True)
class TdmRepRules:
    """The parsed rules of one origin (empty: nothing reserved)."""

    rules: list[tuple[re.Pattern, bool, str, str]] = field(default_factory=list)
    note: str = ""

    def verdict(self, url: str) -> tuple[str, str] | None:
        """(``tdmrep_reserved``, detail) when the first matching rule reserves ``url``."""
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for pattern, reserved, location, policy in self.rules:
            if pattern.match(path):
                if not reserved:
                    return None
                detail = f"tdmrep.json location {location!r}" + (
                    f"; tdm-policy {policy}" if policy else ""
                )
                return TDMREP_RESERVED, detail
        return None


def parse_tdmrep(body: bytes) -> TdmRepRules:
    """Rules from a ``tdmrep.json`` body; anything malformed gives no rules (and a note)."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        return TdmRepRules(note=f"unparsable: {type(e).__name__}")
    if not isinstance(data, list):
        return TdmRepRules(note="not a JSON array")
    rules = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("location"), str):
            continue
        reserved = str(item.get("tdm-reservation", "0")).strip() == "1"
        policy = item.get("tdm-policy") if isinstance(item.get("tdm-policy"), str) else ""
        rules.append((_pattern(item["location"]), reserved, item["location"], policy))
    return TdmRepRules(rules, note=f"{len(rules)} rules")


#: ``fetch(url) -> (status or None, body, note)``; the fetcher supplies a guarded one.
TdmRepFetch = Callable[[str], tuple[int | None, bytes, str]]


class TdmRepCache:
    """Per-worker cache of ``tdmrep.json`` rules, keyed by ``scheme://netloc``."""

    def __init__(self, fetch: TdmRepFetch) -> None:
        self.fetch = fetch
        self._cache: OriginCache[TdmRepRules] = OriginCache(self._load)

    def _load(self, origin: str) -> TdmRepRules:
        try:
            status, body, note = self.fetch(origin + TDMREP_PATH)
            if status is not None and 200 <= status < 300:
                return parse_tdmrep(body)
            return TdmRepRules(note=note or f"http {status}")
        except Exception as e:  # no file, no reservation expressed
            return TdmRepRules(note=f"error: {type(e).__name__}: {e}")

    def rules_for(self, url: str) -> TdmRepRules:
        return self._cache.get(url)

    def verdict(self, url: str) -> tuple[str, str] | None:
        return self.rules_for(url).verdict(url)
