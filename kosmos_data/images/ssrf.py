"""SSRF guard: image URLs come from untrusted pages, so never let them reach inside networks.

A crawled page can name ``http://169.254.169.254/latest/meta-data/`` (cloud metadata),
``http://10.0.0.5/admin`` or ``http://localhost:6379/`` as an image, or point to a public
host that redirects there, or to a host name whose DNS record says ``127.0.0.1``. The guard
refuses all of these **before any packet is sent**:

* only ``http`` and ``https`` URLs (``check_url``);
* the host name is resolved by an injectable resolver and *every* resolved address must be
  public: loopback, private (RFC 1918, RFC 4193 ``fc00::/7``), link-local
  (``169.254/16``, ``fe80::/10``), multicast, unspecified, reserved, shared CGN
  (``100.64/10``) and IPv4-mapped forms of these are refused (``check_address``);
* the connection is then made **to the validated address itself** (``GuardedHTTPConnection``),
  not by resolving the name again, so a DNS answer that changes between check and connect
  (DNS rebinding) cannot slip through;
* redirects go back through the same connection classes, so every hop is re-validated
  (``fetch.build_opener`` installs them and no proxy handler).

``allow_private=True`` switches the address check off (the tests and the demo serve images
from ``127.0.0.1``); the scheme check always applies.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlsplit, urlunsplit

#: ``resolver(host, port) -> [address strings]``; the default asks the system resolver.
Resolver = Callable[[str, int], Sequence[str]]

ALLOWED_SCHEMES = ("http", "https")
_CGN = ipaddress.ip_network("100.64.0.0/10")


class BlockedURL(Exception):
    """A URL the guard refuses; ``reason`` is the stable status reason.

    ``redirect`` is set when the refused URL was a redirect target, not the URL asked for.
    """

    def __init__(self, reason: str, message: str, redirect: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.redirect = redirect


class Deadline:
    """One overall time limit for every connection opened on this thread inside ``with``.

    A socket timeout bounds each ``recv``, not a response: a server sending one byte per
    second never trips it. Each guarded connection made under a ``Deadline`` gets a timer
    that shuts its socket down when the time is up, which ends any read in progress (the
    caller then reports ``timeout``); name resolution is given up at the deadline too.
    """

    _local = threading.local()

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = 0.0
        self._timers: list[threading.Timer] = []

    def __enter__(self) -> Deadline:
        self.at = time.monotonic() + self.seconds
        Deadline._local.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        Deadline._local.current = None
        for t in self._timers:
            t.cancel()
        self._timers.clear()

    @classmethod
    def current(cls) -> Deadline | None:
        return getattr(cls._local, "current", None)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down at the deadline (now, if it has passed)."""
        left = self.remaining()
        if left <= 0:
            _shutdown(sock)
            raise TimeoutError("deadline passed before the request was sent")
        timer = threading.Timer(left, _shutdown, (sock,))
        timer.daemon = True
        timer.start()
        self._timers.append(timer)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _open_socket(conn: http.client.HTTPConnection, address: str) -> socket.socket:
    """``create_connection`` to the validated address, under the thread's ``Deadline``."""
    deadline = Deadline.current()
    timeout = conn.timeout
    if deadline is not None:
        left = max(deadline.remaining(), 0.001)
        timeout = left if not isinstance(timeout, int | float) else min(timeout, left)
    sock = socket.create_connection((address, conn.port), timeout, conn.source_address)
    if deadline is not None:
        deadline.watch(sock)
    return sock


_DNS_POOL: ThreadPoolExecutor | None = None
_DNS_LOCK = threading.Lock()


def _resolve_within_deadline(resolver: Resolver, host: str, port: int) -> Sequence[str]:
    """``resolver(host, port)``, given up (``TimeoutError``) when the thread's ``Deadline``
    passes first: ``getaddrinfo`` has no timeout of its own, so a slow name server would
    otherwise hold a download past its deadline. The lookup itself finishes in the pool."""
    deadline = Deadline.current()
    if deadline is None:
        return resolver(host, port)
    global _DNS_POOL
    with _DNS_LOCK:
        if _DNS_POOL is None:
            _DNS_POOL = ThreadPoolExecutor(16, thread_name_prefix="dns")
    future = _DNS_POOL.submit(resolver, host, port)
    try:
        return future.result(timeout=max(deadline.remaining(), 0.001))
    except FutureTimeout:
        raise TimeoutError(f"resolving {host!r} took longer than the deadline") from None


def strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@``: credentials in an image URL from a page are never
    sent, and urllib would otherwise pass ``user:pw@host`` on as the host to resolve."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for ``host`` (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGN:
        return False
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
        or not ip.is_global
    )


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or ``BlockedURL('blocked_scheme')``.

    ``bad_url`` for what cannot be parsed (``http://[::1/x``, a bad port) or sent as it is:
    a URL holding a non-ASCII, control or space character (a raw ``\\xff`` byte, a U+FFFD
    left by undecodable bytes), which http.client would refuse as a connection error.
    """
    if not url.isascii() or not url.isprintable() or " " in url:
        raise BlockedURL("bad_url", f"non-ASCII, control or space character in {url[:200]!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise BlockedURL("bad_url", f"unparseable URL {url!r}: {e}") from e
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedURL("blocked_scheme", f"scheme {scheme!r} is not http(s): {url!r}")
    if not parts.hostname:
        raise BlockedURL("bad_url", f"no host in {url!r}")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


class AddressGuard:
    """Resolves a host and returns an address that may be connected to, or refuses.

    ``allowed_endpoints``: exact ``(address, port)`` pairs accepted although not public — a
    known internal mirror, or the test server on ``127.0.0.1``, while everything else
    private stays refused (this is how the tests check redirects into private space).
    """

    def __init__(
        self,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        allowed_endpoints: frozenset[tuple[str, int]] = frozenset(),
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver or system_resolver
        self.allowed_endpoints = frozenset(allowed_endpoints)

    def resolve(self, host: str, port: int) -> str:
        """The address to connect to; every address the name has must pass."""
        host = host.strip("[]")
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            addresses: Sequence[str] = [host]
        except ValueError:
            try:
                addresses = list(_resolve_within_deadline(self.resolver, host, port))
            except (OSError, UnicodeError) as e:
                raise BlockedURL("dns_error", f"cannot resolve {host!r}: {e}") from e
        if not addresses:
            raise BlockedURL("dns_error", f"no address for {host!r}")
        if not self.allow_private:
            bad = [
                a
                for a in addresses
                if not is_public_address(a) and (a, port) not in self.allowed_endpoints
            ]
            if bad:
                raise BlockedURL(
                    "blocked_address", f"{host!r} resolves to non-public address(es) {bad}"
                )
        return addresses[0]


class GuardedHTTPConnection(http.client.HTTPConnection):
    """An ``HTTPConnection`` that connects only to an address the guard accepted."""

    guard: AddressGuard = AddressGuard()

    def connect(self) -> None:
        address = self.guard.resolve(self.host, self.port)
        self.sock = _open_socket(self, address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class GuardedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the validated address, with SNI and certificate checks against the host name."""

    guard: AddressGuard = AddressGuard()

    def connect(self) -> None:
        address = self.guard.resolve(self.host, self.port)
        sock = _open_socket(self, address)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def connection_classes(guard: AddressGuard) -> tuple[type, type]:
    """HTTP and HTTPS connection classes bound to ``guard``."""
    http_cls = type("BoundGuardedHTTPConnection", (GuardedHTTPConnection,), {"guard": guard})
    https_cls = type("BoundGuardedHTTPSConnection", (GuardedHTTPSConnection,), {"guard": guard})
    return http_cls, https_cls
