"""robots.txt, fetched once per host (scheme + authority) and cached, checked before fetching.

Semantics follow RFC 9309 ("Robots Exclusion Protocol", 2022) §2.3.1:

* 2xx: parse the file (the stdlib ``urllib.robotparser`` implements the group matching);
* 4xx "unavailable": crawling is allowed — except 401/403, which we treat as disallow-all,
  as Python's robotparser and the original 1994 convention do (the conservative reading for
  an opt-out);
* 5xx or a network error "unreachable": complete disallow (RFC 9309 §2.3.1.4);
* a robots.txt refused by the SSRF guard: its host is refused, so the image URL is too, with
  the guard's own reason (``blocked_address``, ...; not ``robots_unreachable``, which is
  transient and would be retried by every rerun); a robots.txt that *redirects* into
  refused space gives disallow-all (``robots_disallowed``).

The file is fetched through the same guarded opener as the images (same user agent, SSRF
checks on every redirect hop, byte cap of 512 KiB as RFC 9309 §2.5 requires at least).
Concurrent lookups for one host wait for a single fetch (one ``Event`` per host).
"""

from __future__ import annotations

import threading
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from kosmos_data.images.ssrf import BlockedURL

ROBOTS_MAX_BYTES = 512 * 1024


@dataclass(slots=True)
class RobotsRules:
    """The parsed outcome for one host: ``allow_all``/``deny_all`` or a parser."""

    allow_all: bool = False
    deny_all: bool = False
    unreachable: bool = False
    parser: urllib.robotparser.RobotFileParser | None = None
    note: str = ""
    refused: str = ""  # the SSRF guard's reason when it refused the robots.txt host

    def allows(self, token: str, url: str) -> bool:
        if self.deny_all:
            return False
        if self.allow_all or self.parser is None:
            return True
        return self.parser.can_fetch(token, url)

    def verdict(self, token: str, url: str) -> str | None:
        """None (fetch), the guard's reason, ``robots_unreachable`` or ``robots_disallowed``."""
        if self.refused:
            return self.refused
        if self.allows(token, url):
            return None
        return "robots_unreachable" if self.unreachable else "robots_disallowed"


def rules_from_response(status: int | None, body: bytes, note: str = "") -> RobotsRules:
    """RFC 9309 decision from an HTTP status (None: unreachable) and the body."""
    if status is None or status >= 500:
        return RobotsRules(deny_all=True, unreachable=True, note=note or f"unreachable ({status})")
    if status in (401, 403):
        return RobotsRules(deny_all=True, note=f"http {status}")
    if status >= 400:
        return RobotsRules(allow_all=True, note=f"http {status}")
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace").splitlines())
    return RobotsRules(parser=parser, note="parsed")


#: ``fetch(url) -> (status or None, body, note)``; the fetcher supplies a guarded one.
RobotsFetch = Callable[[str], tuple[int | None, bytes, str]]


T = TypeVar("T")


class OriginCache(Generic[T]):
    """Per-worker cache of one value per origin (``scheme://netloc``), loaded once even when
    many download threads ask at the same time: the first asker loads, the others wait for
    it. Used for robots.txt here and for TDMRep's ``/.well-known/tdmrep.json``."""

    def __init__(self, load: Callable[[str], T]) -> None:
        self.load = load  # origin -> value; must not raise
        self._values: dict[str, T] = {}
        self._pending: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> T:
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        while True:
            with self._lock:
                if origin in self._values:
                    return self._values[origin]
                event = self._pending.get(origin)
                owner = event is None
                if owner:
                    event = self._pending[origin] = threading.Event()
            if not owner:
                event.wait()
                continue
            try:
                value = self.load(origin)
                with self._lock:
                    self._values[origin] = value
            finally:  # waiters never hang, even if ``load`` breaks its promise not to raise
                with self._lock:
                    del self._pending[origin]
                event.set()
            return value


class RobotsCache:
    """Per-worker cache of robots.txt rules, keyed by ``scheme://netloc``."""

    def __init__(self, fetch: RobotsFetch, token: str) -> None:
        self.fetch = fetch
        self.token = token
        self._cache: OriginCache[RobotsRules] = OriginCache(self._load)

    def _load(self, origin: str) -> RobotsRules:
        try:
            status, body, note = self.fetch(origin + "/robots.txt")
            return rules_from_response(status, body, note)
        except BlockedURL as e:
            note = f"{e.reason}: {e}"
            if e.redirect:
                return RobotsRules(deny_all=True, note=note)
            return RobotsRules(deny_all=True, refused=e.reason, note=note)
        except Exception as e:  # any failure to read the file is "unreachable"
            note = f"error: {type(e).__name__}: {e}"
            return RobotsRules(deny_all=True, unreachable=True, note=note)

    def rules_for(self, url: str) -> RobotsRules:
        return self._cache.get(url)

    def verdict(self, url: str) -> str | None:
        return self.rules_for(url).verdict(self.token, url)
