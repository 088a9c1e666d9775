"""Fetch, check, hash and resize one image URL: ``ImageFetcher``.

How img2dataset is used, and why not ``img2dataset.download``
---------------------------------------------------------------
img2dataset 1.47 downloads with ``urllib.request.urlopen`` (the process-global opener),
which follows redirects to any address: a page's image URL that redirects to
``http://169.254.169.254/`` would be fetched. Its public ``download()`` also writes its own
shards from a URL file. So this module composes img2dataset's pieces in-process instead:

* the **download** mirrors ``img2dataset.downloader.download_image_with_retry`` (same
  request shape, retries, timeout, user-agent token) but through our own ``OpenerDirector``
  whose HTTP(S) handlers connect only to addresses the SSRF guard accepted
  (``kosmos_data.images.ssrf``), on the first request and on every redirect hop; no proxy
  handler, no ``file:``/``ftp:`` handlers; at most ``max_redirects`` hops;
* the opt-out check is img2dataset's own ``is_disallowed`` (``X-Robots-Tag`` with
  ``disallowed_header_directives``, optionally scoped to our user-agent token), applied to
  the response headers **before the body is read**;
* robots.txt is checked before the first request (``kosmos_data.images.robots``);
* the body is read in chunks and cut at ``max_bytes`` (``too_large``), and the whole attempt
  (connect, headers, body) and the robots.txt fetch each end at ``timeout_s``
  (``ssrf.Deadline``: a server trickling bytes would otherwise evade the socket timeout);
* decoding happens once per image (``kosmos_data.images.pixels``: JPEG draft-mode decoding at
  the target scale; resize modes as img2dataset's ``Resizer``), after our header-only
  ``probe`` refused bombs and bad sizes; the same decode feeds the pHash and the NSFW
  classifier (``kosmos_data.safety``), and the known-bad hash list is matched before the
  image's bytes go anywhere.

Downloads run in a thread pool and decoding in the calling thread, as in img2dataset's
``Downloader``; the classifier scores each batch in one call.

Status reasons (stable, counted and written to ``image_status/``): ``ok``, ``http_error``
(with ``http_status``), ``timeout``, ``connection_error``, ``too_many_redirects``,
``blocked_address``, ``blocked_scheme``, ``bad_url``, ``dns_error``, ``robots_disallowed``,
``robots_unreachable``, ``x_robots_tag``, ``too_large``, ``empty_body``,
``decompression_bomb``, ``undecodable``, ``bad_format``, ``too_small``,
``too_large_dimensions``, ``aspect_ratio``, ``tdm_reservation`` (header on the image response),
``tdmrep_reserved`` (the host's ``/.well-known/tdmrep.json``), ``blocked_hash``,
``nsfw_image``; then, across the corpus (``kosmos_data.beam
.images``): ``duplicate_sha256``, ``duplicate_phash``, ``decontaminated``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from kosmos_data.images.config import ImageConfig
from kosmos_data.images.filters import check_header, probe
from kosmos_data.images.phash import from_hex, to_hex
from kosmos_data.images.pixels import Pixels
from kosmos_data.images.pixels import decode as decode_pixels
from kosmos_data.images.robots import ROBOTS_MAX_BYTES, RobotsCache
from kosmos_data.images.ssrf import (
    ALLOWED_SCHEMES,
    AddressGuard,
    BlockedURL,
    Deadline,
    Resolver,
    check_url,
    connection_classes,
    strip_userinfo,
)
from kosmos_data.records import FetchedImage
from kosmos_data.safety.images import ImageSafety
from kosmos_data.safety.tdmrep import TDMREP_MAX_BYTES, TdmRepCache, header_reserved

#: HTTP statuses worth another attempt (img2dataset retries everything; we skip 4xx).
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Reasons worth another attempt within one run (and worth re-fetching on a rerun).
TRANSIENT = frozenset({"timeout", "connection_error", "robots_unreachable", "dns_error"})
_CHUNK = 64 * 1024


def load_img2dataset():
    """img2dataset's ``is_disallowed`` (imported lazily: ~3 s)."""
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    from img2dataset.downloader import is_disallowed

    return is_disallowed


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, conn_cls: type) -> None:
        super().__init__()
        self.conn_cls = conn_cls

    def http_open(self, req):
        return self.do_open(self.conn_cls, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, conn_cls: type) -> None:
        super().__init__()
        self.conn_cls = conn_cls

    def https_open(self, req):
        return self.do_open(self.conn_cls, req, context=self._context)


class _GuardedRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Validates each redirect target (scheme and address) before following it."""

    def __init__(self, guard: AddressGuard, max_redirects: int) -> None:
        super().__init__()
        self.guard = guard
        self.max_redirections = max_redirects
        self.max_repeats = min(self.max_repeats, max(max_redirects, 1))

    def http_error_302(self, req, fp, code, msg, headers):
        # urllib refuses non-http(s)/ftp targets with a bare HTTPError; name the reason here
        location = headers.get("location") or headers.get("uri")
        if location:
            try:
                newurl = urljoin(req.full_url, location)
                scheme = urlsplit(newurl).scheme.lower()
            except ValueError as e:
                fp.close()
                msg = f"redirect {req.full_url} -> {location[:200]!r}: {e}"
                raise BlockedURL("bad_url", msg, redirect=True) from None
            if scheme not in ALLOWED_SCHEMES:
                fp.close()
                msg = f"redirect {req.full_url} -> {newurl}"
                raise BlockedURL("blocked_scheme", msg, redirect=True)
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        newurl = strip_userinfo(newurl)
        try:
            _, host, port = check_url(newurl)
            self.guard.resolve(host, port)
        except BlockedURL as e:
            fp.close()
            msg = f"redirect {req.full_url} -> {newurl}: {e}"
            raise BlockedURL(e.reason, msg, redirect=True) from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def build_opener(guard: AddressGuard, max_redirects: int) -> urllib.request.OpenerDirector:
    """http(s) only, guarded connections, guarded redirects, no proxies."""
    http_cls, https_cls = connection_classes(guard)
    opener = urllib.request.OpenerDirector()
    for handler in (
        _GuardedHTTPHandler(http_cls),
        _GuardedHTTPSHandler(https_cls),
        _GuardedRedirectHandler(guard, max_redirects),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    return opener


@dataclass(slots=True)
class Download:
    """The result of fetching the bytes of one URL (before any decoding)."""

    reason: str
    data: bytes = b""
    http_status: int | None = None
    attempts: int = 0
    error: str = ""


_ADDRESS_RE = re.compile(r" (?:object )?at 0x[0-9a-fA-F]+")


def stable_error(text: str) -> str:
    """Error text without object addresses (``<_io.BytesIO object at 0x7f...>``), so that
    ``image_status/`` is byte-identical across reruns."""
    return _ADDRESS_RE.sub("", text)


def _is_timeout(e: BaseException) -> bool:
    if isinstance(e, TimeoutError | socket.timeout):
        return True
    if isinstance(e, urllib.error.URLError) and isinstance(e.reason, TimeoutError | socket.timeout):
        return True
    return "timed out" in str(e)


class ImageFetcher:
    """Fetches and prepares images for one worker; heavy parts are built in ``setup()``."""

    def __init__(
        self,
        config: ImageConfig,
        resolver: Resolver | None = None,
        allowed_endpoints: frozenset[tuple[str, int]] = frozenset(),
    ) -> None:
        self.config = config
        self.resolver = resolver
        self.allowed_endpoints = allowed_endpoints
        self._ready = False

    def __getstate__(self) -> dict[str, object]:
        keys = ("config", "resolver", "allowed_endpoints")
        return {k: getattr(self, k) for k in keys}

    def __setstate__(self, state: dict[str, object]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
        self._ready = False

    def setup(self) -> None:
        if self._ready:
            return
        c = self.config
        self._is_disallowed = load_img2dataset()
        self.safety = ImageSafety.from_config(c)
        self.guard = AddressGuard(c.allow_private_addresses, self.resolver, self.allowed_endpoints)
        self.opener = build_opener(self.guard, c.max_redirects)
        self.robots = RobotsCache(self._fetch_robots, c.user_agent_token.lower())
        self.tdmrep = TdmRepCache(self._fetch_tdmrep) if c.respect_tdmrep else None
        self.directives = {d.strip().lower() for d in c.disallowed_header_directives}
        self._pool = ThreadPoolExecutor(c.threads, thread_name_prefix="image-fetch")
        self._ready = True

    def teardown(self) -> None:
        if self._ready:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._ready = False

    # --- download ---------------------------------------------------------------------------

    def _request(self, url: str) -> urllib.request.Request:
        return urllib.request.Request(
            url, headers={"User-Agent": self.config.user_agent, "Accept": "image/*,*/*;q=0.8"}
        )

    def _fetch_robots(self, url: str) -> tuple[int | None, bytes, str]:
        """robots.txt under one overall deadline (``timeout_s``); a refusal of the SSRF guard
        is raised (``RobotsCache`` records its reason)."""
        timeout = self.config.timeout_s
        with Deadline(timeout) as deadline:
            try:
                with self.opener.open(self._request(url), timeout=timeout) as r:
                    body = r.read(ROBOTS_MAX_BYTES)
                    if deadline.expired:
                        return None, b"", f"robots.txt not read within {timeout} s"
                    return r.status, body, "fetched"
            except urllib.error.HTTPError as e:
                e.close()
                return e.code, b"", f"http {e.code}"
            except (OSError, http.client.HTTPException, ValueError) as e:
                if deadline.expired:
                    return None, b"", f"robots.txt not read within {timeout} s"
                return None, b"", stable_error(f"{type(e).__name__}: {e}")

    # --- TDMRep (kosmos_data.safety.tdmrep): own functions, beside robots.txt ---------------

    def _tdm_header_verdict(self, headers) -> str | None:
        return header_reserved(headers) if self.config.respect_tdmrep else None

    def _tdmrep_verdict(self, url: str) -> tuple[str, str] | None:
        return self.tdmrep.verdict(url) if self.tdmrep is not None else None

    def _fetch_tdmrep(self, url: str) -> tuple[int | None, bytes, str]:
        """``/.well-known/tdmrep.json`` through the guarded opener, capped at
        ``TDMREP_MAX_BYTES`` and bounded by one overall deadline of ``timeout_s`` (connect,
        name resolution and headers included: ``ssrf.Deadline``)."""
        with Deadline(self.config.timeout_s) as deadline:
            result = self._fetch_tdmrep_within(url)
            if deadline.expired:  # the socket was shut at the deadline: the body is partial
                return None, b"", "deadline"
            return result

    def _fetch_tdmrep_within(self, url: str) -> tuple[int | None, bytes, str]:
        deadline = time.monotonic() + self.config.timeout_s
        try:
            with self.opener.open(self._request(url), timeout=self.config.timeout_s) as r:
                chunks, size = [], 0
                while size < TDMREP_MAX_BYTES:
                    if time.monotonic() > deadline:
                        return None, b"", "deadline"
                    chunk = r.read1(min(_CHUNK, TDMREP_MAX_BYTES - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                return r.status, b"".join(chunks), "fetched"
        except urllib.error.HTTPError as e:
            e.close()
            return e.code, b"", f"http {e.code}"
        except BlockedURL as e:
            return None, b"", f"{e.reason}: {e}"
        except (OSError, http.client.HTTPException, ValueError) as e:
            return None, b"", f"{type(e).__name__}: {e}"

    def _download_once(self, url: str) -> Download:
        """One attempt, all of it (connect, headers, body) within ``timeout_s`` (``Deadline``)."""
        with Deadline(self.config.timeout_s) as deadline:
            result = self._attempt(url, deadline)
        return result

    def _attempt(self, url: str, deadline: Deadline) -> Download:
        c = self.config
        try:
            with self.opener.open(self._request(url), timeout=c.timeout_s) as r:
                status = r.status
                if self.directives and self._is_disallowed(
                    r.headers, c.user_agent_token.lower(), self.directives
                ):
                    return Download("x_robots_tag", http_status=status, error="X-Robots-Tag")
                reserved = self._tdm_header_verdict(r.headers)
                if reserved:
                    return Download(reserved, http_status=status, error="tdm-reservation: 1")
                length = r.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > c.max_bytes:
                    error = f"Content-Length {length}"
                    return Download("too_large", http_status=status, error=error)
                return self._read_body(r, status, deadline)
        except BlockedURL as e:
            if e.reason == "dns_error" and deadline.expired:
                return Download("timeout", error=str(e))
            return Download(e.reason, error=str(e))
        except urllib.error.HTTPError as e:
            e.close()
            if 300 <= e.code < 400:
                return Download("too_many_redirects", http_status=e.code, error=str(e))
            return Download("http_error", http_status=e.code, error=str(e))
        except (OSError, http.client.HTTPException, ValueError) as e:
            reason = "timeout" if deadline.expired or _is_timeout(e) else "connection_error"
            return Download(reason, error=stable_error(f"{type(e).__name__}: {e}"))

    def _read_body(self, r, status: int, deadline: Deadline) -> Download:
        """The body, cut at ``max_bytes``; ``timeout`` (with the status) once the deadline
        passed, whether it ended a read (the socket is shut) or a read timed out."""
        cap = self.config.max_bytes
        chunks, size = [], 0
        try:
            while True:
                chunk = r.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    return Download("too_large", http_status=status, error=f"> {cap} B")
                if deadline.expired:
                    break
                chunks.append(chunk)
        except (OSError, http.client.HTTPException) as e:
            if not (deadline.expired or _is_timeout(e)):
                raise
            return Download("timeout", http_status=status, error="read deadline")
        if deadline.expired:  # the deadline shut the socket: what came is partial
            return Download("timeout", http_status=status, error="read deadline")
        data = b"".join(chunks)
        if not data:
            return Download("empty_body", http_status=status)
        return Download("ok", data, status)

    def download(self, url: str) -> Download:
        """Scheme check, robots.txt, then up to ``1 + retries`` attempts on transient errors."""
        try:
            check_url(url)
            url = strip_userinfo(self.config.fetch_url(url))
            check_url(url)
        except BlockedURL as e:
            return Download(e.reason, error=str(e))
        if self.config.respect_robots:
            verdict = self.robots.verdict(url)
            if verdict:
                return Download(verdict, error=self.robots.rules_for(url).note)
        reserved = self._tdmrep_verdict(url)
        if reserved:
            return Download(reserved[0], error=reserved[1])
        result = Download("connection_error")
        for attempt in range(1, self.config.retries + 2):
            result = self._download_once(url)
            result.attempts = attempt
            retry = result.reason in TRANSIENT or (
                result.reason == "http_error" and result.http_status in RETRY_STATUSES
            )
            if not retry or attempt > self.config.retries:
                break
            time.sleep(self.config.retry_backoff_s * (2 ** (attempt - 1)))
        return result

    # --- decode, filter, hash, resize ------------------------------------------------------

    def prepare(self, url: str, dl: Download) -> FetchedImage:
        """Turn downloaded bytes into a resized image, or a filter reason (one image: the
        classifier runs on a batch of one; ``fetch_many`` batches it)."""
        self.setup()
        img, pixels = self._decode(url, dl)
        return self.safety.judge([(img, pixels)])[0]

    def _decode(self, url: str, dl: Download) -> tuple[FetchedImage, Pixels | None]:
        """Header filters, then one decode shared by resize, pHash and the classifier input
        (``kosmos_data.images.pixels``)."""
        out = FetchedImage(url=url, reason=dl.reason, http_status=dl.http_status)
        out.attempts, out.error = dl.attempts, stable_error(dl.error)
        if dl.reason != "ok":
            return out, None
        data = dl.data
        out.num_bytes = len(data)
        out.sha256 = hashlib.sha256(data).hexdigest()
        img, reason, error = probe(data)
        if img is None:
            out.reason, out.error = reason or "undecodable", stable_error(error)
            return out, None
        c = self.config
        with img:
            out.original_format = img.format or ""
            out.original_width, out.original_height = img.size
            reason = check_header(img.format, *img.size, c)
            if reason:
                out.reason = reason
                return out, None
            try:
                px = decode_pixels(
                    img, c.image_size, c.resize_mode, c.encode_quality, self.safety.wants_input
                )
            except Exception as e:  # Pillow raises many types on corrupt data
                out.reason, out.error = "undecodable", stable_error(f"{type(e).__name__}: {e}")
                return out, None
        out.data, out.width, out.height = px.data, px.width, px.height
        out.phash = to_hex(px.phash)
        return out, px

    def resize(self, data: bytes) -> bytes | None:
        """The run's resize of ``data`` if it passes the filters (for evaluation images: the
        safety rules, block list and classifier, are not applied to them)."""
        self.setup()
        img, _ = self._decode("", Download("ok", data, 200, 1))
        return img.data if img.ok else None

    def phash_of(self, data: bytes) -> int | None:
        """The pHash the stage computes for ``data`` (through the run's filters and resize),
        or None when the image would not pass them; for hash lists (``--block-image-hashes``)."""
        self.setup()
        img, _ = self._decode("", Download("ok", data, 200, 1))
        return from_hex(img.phash) if img.ok and img.phash else None

    def fetch(self, url: str) -> FetchedImage:
        self.setup()
        return self.prepare(url, self.download(url))

    def fetch_many(self, urls: Iterable[str]) -> Iterator[FetchedImage]:
        """Downloads in the thread pool, decoding here, results in input order; the NSFW
        classifier scores the batch's decoded images in one call."""
        self.setup()
        urls = list(urls)
        decoded = [
            self._decode(url, dl)
            for url, dl in zip(urls, self._pool.map(self.download, urls), strict=True)
        ]
        yield from self.safety.judge(decoded)
