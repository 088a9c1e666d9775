"""Hostile image hosts (issue 10), all on 127.0.0.1 servers the tests start.

A host trickling bytes, SSRF refusals seen through robots.txt, credentials and bytes in
URLs that cannot be sent, and error text that must not differ between reruns.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from kosmos_data.images import ImageConfig, ImageFetcher
from kosmos_data.images.fetch import TRANSIENT, stable_error
from kosmos_data.images.ssrf import strip_userinfo
from kosmos_samples.image_server import Route

from .conftest import MapResolver


class TrickleServer:
    """HTTP on 127.0.0.1 that sends its headers, then one body byte every ``gap_s``.

    ``sent[path]`` counts the body bytes sent before the client went away (or all).
    """

    def __init__(
        self, body_len: int = 200, gap_s: float = 0.05, trickle: str = "/", headers: bool = False
    ) -> None:
        self.body_len, self.gap_s, self.trickle = body_len, gap_s, trickle
        self.trickle_headers = headers  # send the header block byte by byte too
        self.sent: dict[str, int] = {}
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> TrickleServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=5)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            path = request.split(b" ", 2)[1].decode()
            slow = path.startswith(self.trickle)
            body = b"User-agent: *\nAllow: /\n" if path == "/robots.txt" and not slow else None
            n = len(body) if body is not None else self.body_len
            head = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
            sent = 0
            try:
                if self.trickle_headers and slow:
                    for byte in head % n:
                        if self._stop.wait(self.gap_s):
                            break
                        conn.sendall(bytes([byte]))
                        sent += 1
                else:
                    conn.sendall(head % n)
                if body is not None:
                    conn.sendall(body)
                    sent = n
                else:
                    for _ in range(n):
                        if self._stop.wait(self.gap_s):
                            break
                        conn.sendall(b"x")
                        sent += 1
            except OSError:
                pass
            self.sent[path] = sent


def _fetcher(**kw) -> ImageFetcher:
    base = dict(allow_private_addresses=True, timeout_s=1.0, retries=0, retry_backoff_s=0)
    f = ImageFetcher(ImageConfig(**{**base, **kw}))
    f.setup()
    return f


def test_a_trickled_image_body_ends_at_the_deadline():
    # 200 bytes at 20 bytes/s: 10 s in all. The old read loop checked its deadline only
    # after a 64 KiB read returned, i.e. after the whole body; now the socket is shut at
    # timeout_s and the server sees the client leave early.
    with TrickleServer(trickle="/slow") as srv:
        f = _fetcher(respect_robots=False)
        got = f.fetch(srv.url("/slow/x.jpg"))
        deadline = time.monotonic() + 10
        while "/slow/x.jpg" not in srv.sent and time.monotonic() < deadline:
            time.sleep(0.05)
    assert got.reason == "timeout" and got.http_status == 200
    assert srv.sent["/slow/x.jpg"] < 100, srv.sent


def test_a_trickled_robots_txt_ends_at_the_deadline():
    with TrickleServer(trickle="/robots.txt") as srv:
        got = _fetcher().fetch(srv.url("/photo.jpg"))
        deadline = time.monotonic() + 10
        while "/robots.txt" not in srv.sent and time.monotonic() < deadline:
            time.sleep(0.05)
    assert got.reason == "robots_unreachable"
    assert srv.sent["/robots.txt"] < 100, srv.sent
    assert "/photo.jpg" not in srv.sent


def test_ssrf_refusal_is_blocked_address_not_robots_unreachable(server):
    resolver = MapResolver({"internal.test": ["127.0.0.1"]})
    f = ImageFetcher(ImageConfig(timeout_s=1.0, retries=0), resolver=resolver)
    f.setup()
    got = f.fetch(f"http://internal.test:{server.port}/photos/rocket.jpg")
    assert got.reason == "blocked_address" and "blocked_address" not in TRANSIENT
    assert server.hits("/robots.txt") == 0 and server.hits("/photos/rocket.jpg") == 0


def test_robots_redirect_into_private_space_is_disallowed_not_transient(server):
    server.routes["/robots.txt"] = Route.redirect("http://169.254.169.254/robots.txt")
    resolver = MapResolver({"cdn.test": ["127.0.0.1"]})
    f = ImageFetcher(
        ImageConfig(timeout_s=1.0, retries=0),
        resolver=resolver,
        allowed_endpoints=frozenset({("127.0.0.1", server.port)}),
    )
    f.setup()
    got = f.fetch(f"http://cdn.test:{server.port}/photos/rocket.jpg")
    assert got.reason == "robots_disallowed"


def test_credentials_in_a_url_never_reach_the_resolver(server):
    resolver = MapResolver({"img.test": ["127.0.0.1"]})
    f = ImageFetcher(
        ImageConfig(timeout_s=2.0, retries=0),
        resolver=resolver,
        allowed_endpoints=frozenset({("127.0.0.1", server.port)}),
    )
    f.setup()
    got = f.fetch(f"http://user:pw@img.test:{server.port}/photos/rocket.jpg")
    assert got.reason == "ok", got
    assert resolver.calls and set(resolver.calls) == {"img.test"}
    assert strip_userinfo("https://a:b@h.test:8/p?q#f") == "https://h.test:8/p?q#f"


@pytest.mark.parametrize("path", ["/\xff.jpg", "/\ufffd.jpg", "/a b.jpg", "/\x7f.jpg"])
def test_unsendable_url_is_bad_url_and_sends_nothing(server, path):
    got = _fetcher().fetch(server.url(path))
    assert got.reason == "bad_url" and got.attempts == 0
    assert server.hits("/robots.txt") == 0


def test_broken_ipv6_literal_is_bad_url():
    assert _fetcher().fetch("http://[::1/x.jpg").reason == "bad_url"


def test_error_text_is_identical_across_fetchers(server):
    # PIL names the stream it could not identify: "<_io.BytesIO object at 0x7f...>".
    server.routes["/corrupt.jpg"] = Route(200, b"not an image at all " * 10)
    errors = [_fetcher().fetch(server.url("/corrupt.jpg")).error for _ in range(2)]
    assert errors[0] == errors[1] and "cannot identify image file" in errors[0]
    assert " at 0x" not in errors[0]
    assert stable_error("<_io.BytesIO object at 0x7f3a2b1c>") == "<_io.BytesIO>"


def test_a_trickled_tdmrep_header_block_ends_at_the_deadline():
    # The TDMRep file's response headers arrive one byte per 0.1 s (about 7 s in all).
    with TrickleServer(gap_s=0.1, trickle="/.well-known/", headers=True) as srv:
        _fetcher(respect_robots=False).fetch(srv.url("/photo.jpg"))
        deadline = time.monotonic() + 10
        while "/.well-known/tdmrep.json" not in srv.sent and time.monotonic() < deadline:
            time.sleep(0.05)
    assert srv.sent["/.well-known/tdmrep.json"] < 40, srv.sent


class _SlowResolver:
    """A name server that answers after ``delay_s`` (picklable, no network)."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.done = threading.Event()

    def __call__(self, host: str, port: int) -> list[str]:
        time.sleep(self.delay_s)
        self.done.set()
        return ["93.184.216.34"]


def test_a_slow_name_server_does_not_outlast_the_deadline():
    resolver = _SlowResolver(3.0)
    f = ImageFetcher(ImageConfig(timeout_s=0.3, retries=0, respect_robots=False), resolver)
    f.setup()
    got = f.fetch("http://slow-dns.test/x.jpg")
    assert got.reason == "timeout" and not resolver.done.is_set()  # it gave up first
